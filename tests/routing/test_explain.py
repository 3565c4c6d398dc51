"""Explainability: a record of every decision, the what-if query, and the event trail."""

from __future__ import annotations

import pytest

from koe.core.errors import NotFound
from koe.routing.explain import CallCandidate, Candidate
from koe.routing.model import Need, OverflowTarget, TargetKind
from tests.routing.conftest import Acd, T


def test_call_arrival_lists_the_eligible_agents_in_order(acd: Acd) -> None:
    acd.queue("q", {"en": 3})
    acd.login("a1", {"en": 3})
    acd.wait(30)
    acd.login("a2", {"en": 9})
    acd.wait(10)
    acd.login("a3", {"ja": 9})
    acd.call("c1", "q")
    [d] = acd.engine.explain(T, "c1")
    assert (d.trigger, d.outcome, d.agent_id, d.need) == ("call_arrived", "offered", "a1", "en>=3")
    assert d.eligible == (Candidate("a1", 40.0), Candidate("a2", 10.0))
    assert not d.eligible_truncated
    assert d.reason == "longest idle (40 s) of 2 available agents eligible for en>=3"
    assert d.at == acd.clock.now()
    assert (d.tenant_id, d.queue_id, d.call_id) == (T, "q", "c1")


def test_the_eligible_list_is_capped() -> None:
    acd = Acd(explain_limit=2)
    acd.queue("q")
    for a in ("a1", "a2", "a3"):
        acd.login(a)
        acd.wait(1)
    acd.call("c1", "q")
    [d] = acd.engine.explain(T, "c1")
    assert [c.agent_id for c in d.eligible] == ["a1", "a2"]
    assert d.eligible_truncated
    assert "of 2+ available agents" in d.reason


def test_queued_then_offered_when_an_agent_frees_up(acd: Acd) -> None:
    acd.queue("sales", {"sales": 1}, priority=5)
    acd.queue("support", {"support": 1}, priority=5)
    acd.call("c1", "sales")
    acd.wait(20)
    acd.call("c2", "support", priority=1)
    acd.login("a1", {"sales": 1, "support": 1})
    first, second = acd.engine.explain(T, "c2")
    assert (first.outcome, first.agent_id) == ("queued", None)
    assert first.reason.startswith("no available agent is eligible for support>=1")
    assert (second.trigger, second.outcome, second.agent_id) == (
        "agent_available",
        "offered",
        "a1",
    )
    assert second.calls == (
        CallCandidate("c2", "support", 5, 1, 0.0),
        CallCandidate("c1", "sales", 5, 0, 20.0),
    )
    assert "ranks first (queue priority 5, caller priority 1" in second.reason


def test_requeue_and_overflow_are_recorded(acd: Acd) -> None:
    acd.queue("q", max_wait_seconds=60, overflow_target=OverflowTarget(TargetKind.CALLBACK))
    acd.login("a1")
    acd.call("c1", "q")
    acd.do("offer_failed", "c1")
    acd.wait(60)
    trail = [(d.trigger, d.outcome) for d in acd.engine.explain(T, "c1")]
    assert trail == [
        ("call_arrived", "offered"),
        ("requeued", "queued"),
        ("timeout", "overflowed"),
    ]
    assert acd.engine.explain(T, "c1")[-1].reason == "maximum wait reached after 60 s: to callback"
    assert acd.engine.decisions_made == 3


def test_decision_history_is_bounded() -> None:
    acd = Acd(decision_history=2)
    acd.queue("q")
    for c in ("c1", "c2", "c3"):
        acd.call(c, "q")
    assert acd.engine.explain(T, "c1") == []
    assert len(acd.engine.explain(T, "c3")) == 1
    assert acd.engine.explain("other", "c3") == []


def test_what_if_names_who_would_get_the_call(acd: Acd) -> None:
    acd.queue("q", {"en": 3})
    acd.login("a1", {"en": 3})
    acd.wait(5)
    acd.login("a2", {"en": 9, "vip": 1})
    acd.login("a3", {"en": 9}, ready=False)
    w = acd.engine.what_if(T, queue_id="q")
    assert (w.agent_id, w.need) == ("a1", "en>=3")
    assert [c.agent_id for c in w.eligible] == ["a1", "a2"]
    assert w.staffed == {"available": 2, "break": 1}
    w = acd.engine.what_if(T, queue_id="q", skills={"vip": 1})
    assert w.agent_id == "a2"
    w = acd.engine.what_if(T, need=Need.all_of({"ja": 1}))
    assert (w.agent_id, w.eligible, w.staffed) == (None, (), {})
    assert acd.actions == []  # a question changes nothing


def test_what_if_when_the_call_would_wait(acd: Acd) -> None:
    acd.queue("q", default_handle_seconds=60)
    acd.login("a1")
    acd.call("c1", "q")
    acd.call("c2", "q")
    w = acd.engine.what_if(T, queue_id="q")
    assert (w.agent_id, w.position, w.ewt_seconds) == (None, 2, 120)
    assert w.staffed == {"reserved": 1}
    w = acd.engine.what_if(T, queue_id="q", priority=1)
    assert w.position == 1


def test_what_if_unknown_queue(acd: Acd) -> None:
    with pytest.raises(NotFound):
        acd.engine.what_if(T, queue_id="nope")
    assert acd.engine.what_if("nobody").agent_id is None


def test_every_change_is_an_event(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=5)
    acd.talking("a1", "c1")
    acd.do("hold", "c1")
    acd.do("resume", "c1")
    acd.wait(30)
    acd.do("call_ended", "c1")
    acd.wait(5)
    assert acd.types() == [
        "queue.configured",
        "agent.state_changed",  # login
        "queue.call_entered",
        "agent.state_changed",  # offer
        "queue.call_offered",
        "agent.state_changed",  # answer
        "queue.call_answered",
        "queue.call_held",
        "queue.call_resumed",
        "queue.call_ended",
        "agent.state_changed",  # hangup -> wrap_up
        "agent.state_changed",  # wrap_up_end
    ]
    ended = next(e for e in acd.events if e.type == "queue.call_ended")
    assert ended.data == {
        "call_id": "c1",
        "queue_id": "q",
        "agent_id": "a1",
        "wait_seconds": 0.0,
        "total_wait_seconds": 0.0,
        "talk_seconds": 30.0,
        "hold_seconds": 0.0,
        "agent_lost": False,
    }


def test_queue_events_for_waiting_callers(acd: Acd) -> None:
    acd.queue("q", max_wait_seconds=30)
    acd.call("c1", "q")
    acd.wait(30)
    assert acd.types()[-3:] == ["queue.call_entered", "queue.call_queued", "queue.call_overflowed"]
    overflowed = acd.events[-1].data
    assert overflowed == {
        "call_id": "c1",
        "queue_id": "q",
        "target": "voicemail",
        "reason": "timeout",
        "wait_seconds": 30.0,
    }
