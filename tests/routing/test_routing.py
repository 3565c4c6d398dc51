"""Routing rules: skills and levels, longest idle, priorities, fairness, escalation, overflow."""

from __future__ import annotations

import pytest

from koe.core.errors import Conflict, NotFound, ValidationFailed
from koe.routing.actions import CancelOffer, Offer, Overflow
from koe.routing.model import EscalationStep, Need, OverflowTarget, QueueConfig, TargetKind
from tests.routing.conftest import Acd, T


def idle_agents(acd: Acd, *agents: tuple[str, dict[str, int]]) -> None:
    """Log agents in one second apart: the first listed is the longest idle."""
    for agent_id, skills in agents:
        acd.login(agent_id, skills)
        acd.wait(1)


# ---- skills, levels, longest idle ----


def test_longest_idle_eligible_agent_gets_the_call(acd: Acd) -> None:
    acd.queue("q", {"en": 3})
    idle_agents(acd, ("a1", {"ja": 9}), ("a2", {"en": 5}), ("a3", {"en": 9}))
    assert acd.offers(acd.call("c1", "q")) == [("c1", "a2")]
    assert acd.offers(acd.call("c2", "q")) == [("c2", "a3")]
    assert acd.offers(acd.call("c3", "q")) == []


def test_minimum_level_is_inclusive(acd: Acd) -> None:
    acd.queue("q", {"en": 5})
    idle_agents(acd, ("low", {"en": 4}), ("exact", {"en": 5}))
    assert acd.offers(acd.call("c1", "q")) == [("c1", "exact")]


def test_every_required_skill_is_needed(acd: Acd) -> None:
    acd.queue("q", {"en": 3, "billing": 2})
    idle_agents(acd, ("a1", {"en": 9}), ("a2", {"billing": 9}), ("a3", {"en": 3, "billing": 1}))
    acd.login("a4", {"en": 3, "billing": 2, "ja": 1})
    assert acd.offers(acd.call("c1", "q")) == [("c1", "a4")]


def test_alternatives_take_the_longest_idle_of_either(acd: Acd) -> None:
    acd.queue("q", Need.any_of({"en": 5}, {"ja": 5, "vip": 1}))
    idle_agents(acd, ("a1", {"ja": 5}), ("a2", {"ja": 6, "vip": 1}), ("a3", {"en": 7}))
    assert acd.offers(acd.call("c1", "q")) == [("c1", "a2")]
    assert acd.offers(acd.call("c2", "q")) == [("c2", "a3")]
    assert acd.offers(acd.call("c3", "q")) == []


def test_a_queue_without_skills_takes_any_agent(acd: Acd) -> None:
    acd.queue("q")
    idle_agents(acd, ("a1", {}), ("a2", {"x": 1}))
    assert acd.offers(acd.call("c1", "q")) == [("c1", "a1")]


def test_caller_skills_add_to_the_queue_need(acd: Acd) -> None:
    acd.queue("q", {"support": 3})
    idle_agents(acd, ("a1", {"support": 9}), ("a2", {"support": 3, "en": 6}))
    acd.call("c1", "q", skills={"en": 5})
    assert acd.offers() == [("c1", "a2")]
    assert acd.engine.explain(T, "c1")[0].need == "en>=5 and support>=3"


def test_idle_time_restarts_after_each_call(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=0)
    idle_agents(acd, ("a1", {}), ("a2", {}))
    acd.call("c1", "q")
    acd.connect("c1")
    acd.wait(5)
    acd.do("call_ended", "c1")  # a1 is available again, but a2 has been idle longer
    assert acd.offers(acd.call("c2", "q")) == [("c2", "a2")]


def test_an_agent_keeps_their_rank_when_the_caller_hangs_up_while_ringing(acd: Acd) -> None:
    acd.queue("q")
    idle_agents(acd, ("a1", {}), ("a2", {}))
    acd.call("c1", "q")
    out = acd.do("abandon", "c1")
    assert out == [CancelOffer(T, "c1", "a1", "caller_abandoned")]
    assert acd.state("a1") == "available"
    assert acd.offers(acd.call("c2", "q")) == [("c2", "a1")]


def test_back_from_break_counts_idle_from_then(acd: Acd) -> None:
    acd.queue("q")
    idle_agents(acd, ("a1", {}), ("a2", {}))
    acd.do("start_break", "a1", "tea")
    acd.do("ready", "a1")
    assert acd.offers(acd.call("c1", "q")) == [("c1", "a2")]


# ---- priorities and fairness ----


def test_waiting_callers_are_served_first_come_first_served(acd: Acd) -> None:
    acd.queue("q")
    for c in ("c1", "c2", "c3"):
        acd.call(c, "q")
        acd.wait(1)
    acd.login("a1")
    acd.login("a2")
    acd.login("a3")
    assert acd.offers() == [("c1", "a1"), ("c2", "a2"), ("c3", "a3")]


def test_caller_priority_goes_ahead_of_earlier_callers(acd: Acd) -> None:
    acd.queue("q")
    acd.call("c1", "q")
    acd.wait(1)
    acd.call("vip", "q", priority=3)
    assert acd.engine.call(T, "vip").position == 1
    assert acd.engine.call(T, "c1").position == 2
    acd.login("a1")
    assert acd.offers() == [("vip", "a1")]


def test_queue_priority_goes_ahead_across_queues(acd: Acd) -> None:
    acd.queue("low", {"s": 1}, priority=3)
    acd.queue("high", {"s": 1}, priority=7)
    acd.call("c1", "low")
    acd.wait(10)
    acd.call("c2", "high")
    acd.login("a1", {"s": 1})
    assert acd.offers() == [("c2", "a1")]


def test_queue_priority_ranks_before_caller_priority(acd: Acd) -> None:
    acd.queue("low", priority=3)
    acd.queue("high", priority=7)
    acd.call("c1", "low", priority=9)
    acd.call("c2", "high")
    acd.login("a1")
    assert acd.offers() == [("c2", "a1")]


def test_fair_across_queues_longest_waiting_first(acd: Acd) -> None:
    acd.queue("sales", {"sales": 1})
    acd.queue("support", {"support": 1})
    acd.call("s1", "support")
    acd.wait(1)
    acd.call("x1", "sales")
    acd.wait(1)
    acd.call("s2", "support")
    acd.wait(1)
    acd.call("x2", "sales")
    acd.login("both", {"sales": 1, "support": 1}, ready=False)
    order = []
    for _ in range(4):
        acd.do("ready", "both")
        [(call, _agent)] = acd.offers(acd.actions[-1:])
        order.append(call)
        acd.connect(call)
        acd.do("call_ended", call)
    assert order == ["s1", "x1", "s2", "x2"]


def test_an_agent_only_takes_calls_they_are_eligible_for(acd: Acd) -> None:
    acd.queue("en", {"en": 5})
    acd.queue("ja", {"ja": 5})
    acd.call("c-en", "en")
    acd.wait(1)
    acd.call("c-ja", "ja")
    acd.login("a1", {"ja": 5, "en": 4})
    assert acd.offers() == [("c-ja", "a1")]


def test_priority_must_be_whole(acd: Acd) -> None:
    acd.queue("q")
    with pytest.raises(ValidationFailed):
        acd.call("c1", "q", priority=1.5)


# ---- escalation ----


def test_escalation_lowers_the_required_level(acd: Acd) -> None:
    acd.queue("q", {"en": 7}, escalation=(EscalationStep(30, lower_levels_by=3),))
    acd.login("junior", {"en": 4})
    acd.call("c1", "q")
    acd.wait(29)
    assert acd.offers() == []
    out = acd.wait(1)
    assert acd.offers(out) == [("c1", "junior")]
    escalated = [e for e in acd.events if e.type == "queue.call_escalated"]
    assert escalated[0].data == {
        "call_id": "c1",
        "queue_id": "q",
        "step": 1,
        "need": "en>=4",
        "priority": 0,
    }
    assert acd.engine.explain(T, "c1")[-1].trigger == "escalated"


def test_escalation_drops_and_widens_skills_step_by_step(acd: Acd) -> None:
    steps = (
        EscalationStep(20, also_accept=((("general", 5),),)),
        EscalationStep(40, drop_skills=("billing",)),
    )
    acd.queue("q", {"billing": 5, "en": 3}, escalation=steps)
    acd.call("c1", "q")
    acd.login("en-only", {"en": 9})
    acd.wait(20)
    assert acd.engine.call(T, "c1").need == "(billing>=5 and en>=3) or (general>=5)"
    acd.login("gen", {"general": 5})
    assert acd.offers() == [("c1", "gen")]


def test_escalation_steps_apply_in_order(acd: Acd) -> None:
    steps = (
        EscalationStep(20, drop_skills=("billing",)),
        EscalationStep(40, replace=Need.any_agent()),
    )
    acd.queue("q", {"billing": 5, "en": 3}, escalation=steps)
    acd.login("ja", {"ja": 9})
    acd.login("en", {"en": 1}, ready=False)
    acd.call("c1", "q")
    acd.wait(20)
    assert acd.engine.call(T, "c1").need == "en>=3"
    acd.wait(20)
    assert acd.offers() == [("c1", "ja")]


def test_escalation_can_raise_the_caller_priority(acd: Acd) -> None:
    acd.queue("q", escalation=(EscalationStep(60, raise_priority_by=5),))
    acd.call("old", "q")
    acd.wait(30)
    acd.call("vip", "q", priority=3)
    assert acd.engine.call(T, "vip").position == 1
    acd.wait(30)
    assert acd.engine.call(T, "old").position == 1
    assert acd.engine.call(T, "old").priority == 5


def test_escalation_during_an_offer_applies_if_it_comes_back(acd: Acd) -> None:
    acd.queue("q", {"en": 7}, escalation=(EscalationStep(10, lower_levels_by=5),))
    acd.login("senior", {"en": 9})
    acd.call("c1", "q")
    acd.wait(12)  # ringing while the step comes due
    acd.login("junior", {"en": 2})
    acd.do("offer_failed", "c1")
    assert acd.offers()[-1] == ("c1", "junior")


def test_escalation_steps_must_increase(acd: Acd) -> None:
    with pytest.raises(ValidationFailed):
        acd.queue("q", escalation=(EscalationStep(30), EscalationStep(20)))


# ---- overflow, maximum length ----


def test_overflow_to_voicemail_after_the_maximum_wait(acd: Acd) -> None:
    acd.queue("q", max_wait_seconds=120)
    acd.call("c1", "q")
    acd.wait(119)
    assert not any(isinstance(a, Overflow) for a in acd.actions)
    out = acd.wait(1)
    assert Overflow(T, "c1", "q", OverflowTarget(TargetKind.VOICEMAIL), "timeout") in out
    with pytest.raises(NotFound):
        acd.engine.call(T, "c1")
    [interval] = acd.engine.intervals(T, queue_id="q")
    assert (interval.offered, interval.overflowed, interval.abandoned) == (1, 1, 0)


def test_overflow_to_another_queue_keeps_the_callers_place(acd: Acd) -> None:
    acd.queue(
        "first",
        {"a": 1},
        max_wait_seconds=60,
        overflow_target=OverflowTarget(TargetKind.QUEUE, "backup"),
    )
    acd.queue("backup", {"b": 1})
    acd.call("c1", "first")
    acd.wait(30)
    acd.call("c2", "backup")
    acd.wait(30)
    view = acd.engine.call(T, "c1")
    assert (view.queue_id, view.position, view.waited_seconds) == ("backup", 1, 60)
    acd.login("b", {"b": 1})
    assert acd.offers() == [("c1", "b")]
    entered = [e.data for e in acd.events if e.type == "queue.call_entered"]
    assert entered[-1]["from_queue"] == "first"


def test_overflow_loop_goes_to_the_final_target(acd: Acd) -> None:
    to = OverflowTarget(TargetKind.QUEUE, "q2")
    back = OverflowTarget(TargetKind.QUEUE, "q1")
    acd.queue("q1", max_wait_seconds=10, overflow_target=to)
    acd.queue("q2", max_wait_seconds=10, overflow_target=back)
    acd.call("c1", "q1")
    acd.wait(10)
    assert acd.engine.call(T, "c1").queue_id == "q2"
    out = acd.wait(10)
    assert out == [Overflow(T, "c1", "q2", OverflowTarget(TargetKind.VOICEMAIL), "timeout")]


def test_overflow_to_callback_or_transfer(acd: Acd) -> None:
    target = OverflowTarget(TargetKind.TRANSFER, "+81312345678")
    acd.queue("q", max_wait_seconds=5, overflow_target=target)
    acd.call("c1", "q")
    assert acd.wait(5) == [Overflow(T, "c1", "q", target, "timeout")]


def test_overflow_when_the_estimated_wait_is_too_long(acd: Acd) -> None:
    acd.queue(
        "q", overflow_ewt_seconds=200, default_handle_seconds=180, announce_first_seconds=None
    )
    acd.talking("a1", "c1")
    out = acd.call("c2", "q")  # position 1, 1 agent: 180 s
    assert not any(isinstance(a, Overflow) for a in out)
    out = acd.call("c3", "q")  # position 2: 360 s > 200 s
    assert [a for a in out if isinstance(a, Overflow)] == [
        Overflow(T, "c3", "q", OverflowTarget(TargetKind.VOICEMAIL), "ewt")
    ]


def test_ewt_overflow_when_nobody_is_staffed(acd: Acd) -> None:
    acd.queue("q", overflow_ewt_seconds=600)
    out = acd.call("c1", "q")
    assert [a.reason for a in out if isinstance(a, Overflow)] == ["ewt"]


def test_maximum_queue_length(acd: Acd) -> None:
    acd.queue("q", max_length=2, overflow_target=OverflowTarget(TargetKind.HANGUP))
    acd.call("c1", "q")
    acd.call("c2", "q")
    out = acd.call("c3", "q")
    assert out == [Overflow(T, "c3", "q", OverflowTarget(TargetKind.HANGUP), "queue_full")]
    acd.do("abandon", "c1")
    assert not any(isinstance(a, Overflow) for a in acd.call("c4", "q"))


def test_a_caller_who_was_ringing_past_the_maximum_wait_overflows_when_it_fails(
    acd: Acd,
) -> None:
    acd.queue("q", max_wait_seconds=30, ring_timeout_seconds=60)
    acd.login("a1")
    acd.call("c1", "q")
    acd.wait(40)
    assert acd.engine.call(T, "c1").state == "offered"
    out = acd.do("offer_failed", "c1")
    assert [a.reason for a in out if isinstance(a, Overflow)] == ["timeout"]


def test_a_queue_cannot_overflow_to_itself() -> None:
    with pytest.raises(ValidationFailed):
        QueueConfig("q", overflow_target=OverflowTarget(TargetKind.QUEUE, "q"))
    with pytest.raises(ValidationFailed):
        OverflowTarget(TargetKind.QUEUE)


# ---- callbacks, abandons, the lifecycle of a call ----


def test_a_callback_keeps_the_callers_place(acd: Acd) -> None:
    acd.queue("q", max_wait_seconds=60)
    acd.call("c1", "q")
    acd.wait(1)
    acd.call("c2", "q")
    acd.do("request_callback", "c1")
    acd.wait(120)  # callbacks do not overflow
    assert acd.engine.call(T, "c1").position == 1
    acd.login("a1")
    [offer] = [a for a in acd.actions if isinstance(a, Offer)]
    assert (offer.call_id, offer.callback) == ("c1", True)


def test_a_kept_callback_can_enter_directly(acd: Acd) -> None:
    acd.queue("q")
    acd.call("cb1", "q", callback=True)
    acd.login("a1")
    [offer] = [a for a in acd.actions if isinstance(a, Offer)]
    assert offer.callback


def test_abandon_while_waiting(acd: Acd) -> None:
    acd.queue("q")
    acd.call("c1", "q")
    acd.wait(12)
    acd.do("abandon", "c1")
    abandoned = [e for e in acd.events if e.type == "queue.call_abandoned"][-1]
    assert abandoned.data["wait_seconds"] == 12
    acd.login("a1")
    assert acd.offers() == []


def test_calls_refuse_events_in_the_wrong_state(acd: Acd) -> None:
    acd.queue("q")
    acd.call("c1", "q")
    for method in ("answered", "call_ended", "offer_failed", "hold"):
        with pytest.raises(Conflict) as err:
            acd.do(method, "c1")
        assert err.value.code == "call_illegal_transition"
    with pytest.raises(Conflict) as err:
        acd.call("c1", "q")
    assert err.value.code == "call_already_queued"
    acd.login("a1")
    acd.connect("c1")
    with pytest.raises(Conflict):
        acd.do("abandon", "c1")
    with pytest.raises(Conflict):
        acd.do("resume", "c1")
    acd.do("hold", "c1")
    with pytest.raises(Conflict) as err:
        acd.do("hold", "c1")
    assert err.value.details["state"] == "held"


def test_unknown_queue_and_call(acd: Acd) -> None:
    with pytest.raises(NotFound) as err:
        acd.call("c1", "nope")
    assert err.value.code == "queue_not_found"
    with pytest.raises(NotFound) as err:
        acd.do("answered", "nope")
    assert err.value.code == "call_not_found"


def test_a_finished_call_id_may_queue_again(acd: Acd) -> None:
    acd.queue("q")
    acd.talking("a1", "c1")
    acd.do("call_ended", "c1")
    acd.call("c1", "q")
    assert acd.engine.call(T, "c1").state == "waiting"


# ---- configuration changes ----


def test_reconfiguring_a_queue_reevaluates_its_callers(acd: Acd) -> None:
    acd.queue("q", {"en": 8})
    acd.login("a1", {"en": 5})
    acd.call("c1", "q")
    assert acd.engine.realtime(T, "q").agents["available"] == 0
    acd.queue("q", {"en": 5})
    assert acd.offers() == [("c1", "a1")]
    assert acd.engine.realtime(T, "q").agents["reserved"] == 1


def test_reconfigured_timers_count_from_the_entry(acd: Acd) -> None:
    acd.queue("q", max_wait_seconds=600)
    acd.call("c1", "q")
    acd.wait(100)
    acd.queue("q", max_wait_seconds=60)
    out = acd.wait(0)
    assert [a.reason for a in out if isinstance(a, Overflow)] == ["timeout"]


def test_removing_a_queue(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.call("c1", "q")
    with pytest.raises(Conflict) as err:
        acd.engine.remove_queue(T, "q")
    assert err.value.code == "queue_has_calls"
    acd.connect("c1")
    acd.engine.remove_queue(T, "q")
    acd.do("call_ended", "c1")
    assert acd.state("a1") == "available"
    with pytest.raises(NotFound):
        acd.engine.realtime(T, "q")


def test_tenants_are_isolated(acd: Acd) -> None:
    acd.queue("q")
    acd.engine.set_seat_limit("tenant-2", 5)
    acd.engine.configure_queue("tenant-2", QueueConfig("q"))
    acd.engine.login("tenant-2", "a1", {})
    acd.call("c1", "q")
    assert acd.offers() == []
    with pytest.raises(NotFound):
        acd.engine.answered("tenant-2", "c1")
