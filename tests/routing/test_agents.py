"""The agent state machine: every transition, every refusal, logging, no stuck states."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from koe.core.errors import Conflict, NotFound, ValidationFailed
from koe.routing.actions import AgentGone, CancelOffer
from koe.routing.agents import TRANSITIONS, AgentEvent, AgentRecord, AgentState
from tests.routing.conftest import Acd, T

S, E = AgentState, AgentEvent


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("event", list(AgentEvent))
def test_the_table_allows_exactly_its_transitions(state: AgentState, event: AgentEvent) -> None:
    a = AgentRecord(T, "a1", {}, 0.0)
    a.state = state
    allowed = TRANSITIONS.get((state, event), frozenset())
    for new in AgentState:
        a.state = state
        if new in allowed:
            assert a.move(event, new, 1.0) is state
            assert a.state is new
            assert a.state_since == 1.0
        else:
            with pytest.raises(Conflict) as err:
                a.move(event, new, 1.0)
            assert err.value.code == "agent_illegal_transition"
            assert err.value.details == {"agent_id": "a1", "state": state, "event": event}
            assert a.state is state


def test_every_logged_in_state_can_be_left() -> None:
    for state in AgentState:
        if state is not S.LOGGED_OUT:
            assert (state, E.CONNECTION_LOST) in TRANSITIONS, state


def test_login_available_and_logout(acd: Acd) -> None:
    acd.login("a1")
    assert acd.state("a1") == "available"
    acd.do("logout", "a1")
    with pytest.raises(NotFound) as err:
        acd.engine.agent(T, "a1")
    assert err.value.code == "agent_not_logged_in"


def test_login_not_ready_goes_on_break_with_reason(acd: Acd) -> None:
    acd.login("a1", ready=False, reason="meeting")
    view = acd.engine.agent(T, "a1")
    assert (view.state, view.reason) == ("break", "meeting")


def test_second_login_is_refused(acd: Acd) -> None:
    acd.login("a1")
    with pytest.raises(Conflict) as err:
        acd.login("a1")
    assert err.value.code == "agent_illegal_transition"
    assert err.value.details["event"] == "login"


def test_full_call_cycle(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=30)
    acd.login("a1")
    assert acd.offers(acd.call("c1", "q")) == [("c1", "a1")]
    assert acd.state("a1") == "reserved"
    acd.connect("c1")
    assert acd.state("a1") == "on_call"
    acd.do("call_ended", "c1")
    view = acd.engine.agent(T, "a1")
    assert view.state == "wrap_up"
    assert view.wrap_up_until == acd.clock.now() + timedelta(seconds=30)
    acd.wait(29)
    assert acd.state("a1") == "wrap_up"
    acd.wait(1)
    assert acd.state("a1") == "available"


def test_no_wrap_up_returns_straight_to_available(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=0)
    acd.talking("a1", "c1")
    acd.do("call_ended", "c1")
    assert acd.state("a1") == "available"


def test_ready_ends_wrap_up_early(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=60)
    acd.talking("a1", "c1")
    acd.do("call_ended", "c1")
    acd.wait(5)
    acd.do("ready", "a1")
    assert acd.state("a1") == "available"
    acd.wait(60)  # the old wrap-up timer finds nothing to do
    assert acd.state("a1") == "available"


def test_wrap_up_extension_and_its_limit(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=30, max_wrap_up_extension_seconds=60)
    acd.talking("a1", "c1")
    acd.do("call_ended", "c1")
    acd.wait(20)
    acd.do("extend_wrap_up", "a1", 40)
    acd.wait(15)  # 35 s: past the original 30 s
    assert acd.state("a1") == "wrap_up"
    with pytest.raises(Conflict) as err:
        acd.do("extend_wrap_up", "a1", 21)
    assert err.value.code == "wrap_up_extension_exceeded"
    assert "60" in err.value.message_en and "60" in err.value.message_ja
    acd.wait(34)  # 69 s
    assert acd.state("a1") == "wrap_up"
    acd.wait(1)  # 70 s = 30 + 40
    assert acd.state("a1") == "available"


def test_extend_wrap_up_only_in_wrap_up(acd: Acd) -> None:
    acd.login("a1")
    with pytest.raises(Conflict) as err:
        acd.do("extend_wrap_up", "a1", 10)
    assert err.value.code == "agent_illegal_transition"


def test_extend_wrap_up_needs_positive_seconds(acd: Acd) -> None:
    acd.queue("q")
    acd.talking("a1", "c1")
    acd.do("call_ended", "c1")
    with pytest.raises(ValidationFailed):
        acd.do("extend_wrap_up", "a1", 0)


def test_break_from_available_and_back(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.do("start_break", "a1", "lunch")
    assert acd.engine.agent(T, "a1").reason == "lunch"
    assert acd.offers(acd.call("c1", "q")) == []
    acd.do("start_break", "a1", "training")  # change the reason code
    assert acd.engine.agent(T, "a1").reason == "training"
    acd.do("ready", "a1")
    assert acd.offers() == [("c1", "a1")]


def test_break_reason_must_be_a_code(acd: Acd) -> None:
    acd.login("a1")
    with pytest.raises(ValidationFailed) as err:
        acd.do("start_break", "a1", "  ")
    assert err.value.code == "routing_invalid"
    with pytest.raises(ValidationFailed):
        acd.do("start_break", "a1", "x" * 65)


def test_break_asked_on_a_call_starts_after_wrap_up(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=10)
    acd.talking("a1", "c1")
    acd.do("start_break", "a1", "lunch")
    view = acd.engine.agent(T, "a1")
    assert (view.state, view.pending_break) == ("on_call", "lunch")
    assert "agent.break_requested" in acd.types()
    acd.do("call_ended", "c1")
    assert acd.state("a1") == "wrap_up"
    acd.wait(10)
    view = acd.engine.agent(T, "a1")
    assert (view.state, view.reason, view.pending_break) == ("break", "lunch", None)


def test_break_asked_on_a_call_without_wrap_up(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=0)
    acd.talking("a1", "c1")
    acd.do("start_break", "a1", "lunch")
    acd.do("call_ended", "c1")
    assert acd.state("a1") == "break"


def test_ready_during_wrap_up_cancels_a_pending_break(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=30)
    acd.talking("a1", "c1")
    acd.do("start_break", "a1", "lunch")
    acd.do("call_ended", "c1")
    acd.do("ready", "a1")
    assert acd.state("a1") == "available"


def test_break_asked_while_ringing(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=0)
    acd.login("a1")
    acd.call("c1", "q")
    acd.do("start_break", "a1", "lunch")
    assert acd.state("a1") == "reserved"
    acd.do("abandon", "c1")
    view = acd.engine.agent(T, "a1")
    assert (view.state, view.reason, view.call_id) == ("break", "lunch", None)


def test_break_from_wrap_up_ends_the_wrap_up(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=30)
    acd.talking("a1", "c1")
    acd.do("call_ended", "c1")
    acd.do("start_break", "a1", "lunch")
    assert acd.state("a1") == "break"
    acd.wait(60)
    assert acd.state("a1") == "break"


def test_unanswered_offer_pauses_the_agent_and_requeues_the_caller(acd: Acd) -> None:
    acd.queue("q", ring_timeout_seconds=15)
    acd.login("a1")
    acd.wait(1)
    acd.login("a2")
    acd.do("start_break", "a2", "x")
    acd.call("c1", "q")
    acd.call("c2", "q")
    assert acd.offers() == [("c1", "a1")]
    acd.wait(14)
    assert acd.state("a1") == "reserved"
    out = acd.wait(1)
    assert CancelOffer(T, "c1", "a1", "no_answer") in out
    view = acd.engine.agent(T, "a1")
    assert (view.state, view.reason) == ("no_answer", "no_answer")
    # The caller is back first in line, ahead of c2.
    assert acd.engine.call(T, "c1").position == 1
    assert acd.engine.call(T, "c2").position == 2
    acd.do("ready", "a2")
    assert acd.offers()[-1] == ("c1", "a2")


def test_offer_failed_reported_by_call_control(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.call("c1", "q")
    out = acd.do("offer_failed", "c1", "unreachable")
    assert not any(isinstance(a, CancelOffer) for a in out)
    view = acd.engine.agent(T, "a1")
    assert (view.state, view.reason) == ("no_answer", "unreachable")
    assert acd.engine.call(T, "c1").state == "waiting"
    acd.do("ready", "a1")
    assert acd.offers()[-1] == ("c1", "a1")


def test_no_answer_then_break_then_logout(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.call("c1", "q")
    acd.do("offer_failed", "c1")
    acd.do("start_break", "a1", "tired")
    assert acd.state("a1") == "break"
    acd.do("logout", "a1")
    assert acd.engine.agents(T) == []


def test_logout_while_ringing_reoffers_the_caller(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.wait(1)
    acd.login("a2")
    acd.do("start_break", "a2", "x")
    acd.call("c1", "q")
    out = acd.do("logout", "a1")
    assert CancelOffer(T, "c1", "a1", "agent_logged_out") in out
    assert acd.engine.call(T, "c1").state == "waiting"
    acd.do("ready", "a2")
    assert acd.offers()[-1] == ("c1", "a2")


def test_logout_on_a_call_is_refused(acd: Acd) -> None:
    acd.queue("q")
    acd.talking("a1", "c1")
    with pytest.raises(Conflict) as err:
        acd.do("logout", "a1")
    assert err.value.details["state"] == "on_call"


def test_logout_in_wrap_up_books_the_handle_time(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=30)
    acd.talking("a1", "c1")
    acd.wait(100)
    acd.do("call_ended", "c1")
    acd.wait(10)
    acd.do("logout", "a1")
    [interval] = acd.engine.intervals(T, queue_id="q")
    assert (interval.handled, interval.talk_seconds, interval.acw_seconds) == (1, 100, 10)


def test_ready_from_available_is_illegal(acd: Acd) -> None:
    acd.login("a1")
    with pytest.raises(Conflict):
        acd.do("ready", "a1")


def test_unknown_agent_is_not_found(acd: Acd) -> None:
    with pytest.raises(NotFound):
        acd.do("ready", "nobody")
    with pytest.raises(NotFound):
        acd.engine.agent("other-tenant", "nobody")


def test_agents_of_another_tenant_are_not_found(acd: Acd) -> None:
    acd.login("a1")
    with pytest.raises(NotFound):
        acd.engine.ready("tenant-2", "a1")
    assert acd.engine.agents("tenant-2") == []


def test_connection_lost_when_available_frees_the_agent(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.do("connection_lost", "a1")
    assert acd.engine.agents(T) == []
    assert acd.do("connection_lost", "a1") == []  # a late second signal is ignored
    acd.call("c1", "q")
    assert acd.offers() == []


def test_connection_lost_while_ringing_reoffers_the_caller(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.call("c1", "q")
    out = acd.do("connection_lost", "a1")
    assert CancelOffer(T, "c1", "a1", "agent_connection_lost") in out
    assert acd.engine.call(T, "c1").state == "waiting"


def test_connection_lost_on_a_call_ends_it_for_the_acd(acd: Acd) -> None:
    acd.queue("q")
    acd.talking("a1", "c1")
    acd.wait(42)
    out = acd.do("connection_lost", "a1")
    assert out == [AgentGone(T, "a1", "c1")]
    ended = [e for e in acd.events if e.type == "queue.call_ended"][-1]
    assert ended.data["agent_lost"] is True
    assert ended.data["talk_seconds"] == 42
    with pytest.raises(NotFound):
        acd.engine.call(T, "c1")


def test_connection_lost_in_wrap_up_and_on_break(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.login("a2", ready=False)
    acd.call("c1", "q")
    acd.connect("c1")
    acd.do("call_ended", "c1")
    acd.do("connection_lost", "a1")
    acd.do("connection_lost", "a2")
    assert acd.engine.agents(T) == []


def test_presence_timeout_removes_a_silent_agent_within_30_seconds() -> None:
    acd = Acd(presence_timeout=30.0)
    acd.queue("q")
    acd.login("a1")
    acd.login("a2")
    for _ in range(5):
        acd.wait(10)
        assert acd.engine.heartbeat(T, "a1")
    # a2 never sent a heartbeat: gone at 30 s, seat freed, out of the pool.
    assert [v.agent_id for v in acd.engine.agents(T)] == ["a1"]
    assert acd.engine.seats.in_use(T) == 1
    gone = [
        e for e in acd.events if e.type == "agent.state_changed" and e.data["new"] == "logged_out"
    ]
    assert [e.data["agent_id"] for e in gone] == ["a2"]
    assert not acd.engine.heartbeat(T, "a2")
    acd.wait(30)
    assert acd.engine.agents(T) == []


def test_presence_timeout_while_ringing_reoffers() -> None:
    acd = Acd(presence_timeout=30.0)
    acd.queue("q", ring_timeout_seconds=60)
    acd.login("a1")
    acd.wait(25)
    acd.login("a2")
    acd.call("c1", "q")
    assert acd.offers() == [("c1", "a1")]
    out = acd.wait(5)
    assert CancelOffer(T, "c1", "a1", "presence_timeout") in out
    assert acd.offers()[-1] == ("c1", "a2")


def test_relogin_after_loss_gets_a_fresh_session() -> None:
    acd = Acd(presence_timeout=30.0)
    acd.login("a1")
    acd.wait(20)
    acd.do("logout", "a1")
    acd.login("a1")  # at 20 s
    acd.wait(15)  # 35 s: the first session's timer (due at 30 s) must not touch the second
    assert acd.state("a1") == "available"
    assert acd.engine.heartbeat(T, "a1")
    acd.wait(15)  # 50 s: 30 s after the second login, but seen at 35 s
    assert acd.state("a1") == "available"
    acd.wait(15)  # 65 s: 30 s after it was last seen
    assert acd.engine.agents(T) == []


def test_transitions_are_logged_with_tenant_and_agent(
    acd: Acd, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="koe.routing.agents")
    acd.queue("q")
    acd.login("a1")
    acd.call("c1", "q")
    lines = [r.getMessage() for r in caplog.records]
    assert f"agent logged_out -login-> available tenant={T} agent=a1 call=None" in lines
    assert f"agent available -offer-> reserved tenant={T} agent=a1 call=c1" in lines


def test_state_events_carry_old_event_new(acd: Acd) -> None:
    acd.login("a1")
    acd.do("start_break", "a1", "lunch")
    changes = [e for e in acd.events if e.type == "agent.state_changed"]
    assert [(e.data["old"], e.data["event"], e.data["new"]) for e in changes] == [
        ("logged_out", "login", "available"),
        ("available", "break", "break"),
    ]
    assert changes[-1].data["reason"] == "lunch"
    assert all(e.tenant_id == T and e.at == acd.clock.now() for e in changes)


def test_update_skills_reindexes_and_may_give_a_call(acd: Acd) -> None:
    acd.queue("q", {"billing": 3})
    acd.login("a1", {"sales": 5})
    acd.call("c1", "q")
    assert acd.offers() == []
    acd.do("update_skills", "a1", {"sales": 5, "billing": 3})
    assert acd.offers() == [("c1", "a1")]
    assert acd.engine.agent(T, "a1").skills == {"sales": 5, "billing": 3}
    assert acd.engine.realtime(T, "q").agents["reserved"] == 1


def test_skill_levels_are_validated(acd: Acd) -> None:
    for bad in ({"s": 0}, {"s": 11}, {"s": 2.5}, {"": 3}, {"s": True}):
        with pytest.raises(ValidationFailed) as err:
            acd.login("a1", bad)  # type: ignore[arg-type]
        assert err.value.code == "routing_invalid"
        assert err.value.fields[0].field == "skills"
