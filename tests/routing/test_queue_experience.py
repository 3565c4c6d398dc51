"""In-queue experience: position, EWT, announcement schedule, callback offers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from koe.routing.actions import Announce
from tests.routing.conftest import Acd, T


def announces(actions: list[object]) -> list[Announce]:
    return [a for a in actions if isinstance(a, Announce)]


def busy_agents(acd: Acd, n: int, queue_id: str = "q") -> None:
    """``n`` agents on calls of ``queue_id``."""
    for i in range(n):
        acd.login(f"busy{i}")
        acd.call(f"busy-call{i}", queue_id)
        acd.connect(f"busy-call{i}")


def test_position_counts_the_callers_ahead(acd: Acd) -> None:
    acd.queue("q")
    for c in ("c1", "c2", "c3"):
        acd.call(c, "q")
    assert [acd.engine.call(T, c).position for c in ("c1", "c2", "c3")] == [1, 2, 3]
    acd.do("abandon", "c1")
    assert [acd.engine.call(T, c).position for c in ("c2", "c3")] == [1, 2]
    assert [v.call_id for v in acd.engine.calls(T, "q")] == ["c2", "c3"]


def test_ewt_is_position_times_aht_over_staffed_agents(acd: Acd) -> None:
    acd.queue("q", default_handle_seconds=120, wrap_up_seconds=0)
    busy_agents(acd, 2)
    acd.call("c1", "q")
    acd.call("c2", "q")
    acd.call("c3", "q")
    assert acd.engine.hints(T, "c1").ewt_seconds == 60  # 1 x 120 / 2
    assert acd.engine.hints(T, "c3").ewt_seconds == 180  # 3 x 120 / 2


def test_ewt_follows_recent_handle_times(acd: Acd) -> None:
    acd.queue("q", default_handle_seconds=999, wrap_up_seconds=10)
    busy_agents(acd, 1)
    acd.wait(60)
    acd.do("hold", "busy-call0")
    acd.wait(20)
    acd.do("resume", "busy-call0")
    acd.do("call_ended", "busy-call0")  # talk 60 + hold 20, then 10 s after-call work
    acd.wait(10)
    acd.do("start_break", "busy0", "x")
    acd.login("a2")
    acd.call("c2", "q")
    acd.connect("c2")
    acd.call("c3", "q")
    assert acd.engine.realtime(T, "q").aht_seconds == 90
    assert acd.engine.hints(T, "c3").ewt_seconds == 90


def test_no_staffed_agent_means_no_estimate(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1", ready=False)
    acd.call("c1", "q")
    assert acd.engine.hints(T, "c1").ewt_seconds is None


def test_entry_and_comfort_announcements(acd: Acd) -> None:
    acd.queue("q", announce_first_seconds=30, announce_every_seconds=45, default_handle_seconds=60)
    busy_agents(acd, 1)
    out = acd.call("c1", "q")
    assert announces(out) == [Announce(T, "c1", "q", "entry", 1, 60.0, False)]
    assert acd.engine.hints(T, "c1").next_announcement == acd.clock.now() + timedelta(seconds=30)
    assert announces(acd.wait(29)) == []
    assert announces(acd.wait(1)) == [Announce(T, "c1", "q", "comfort", 1, 60.0, False)]
    assert announces(acd.wait(44)) == []
    assert [a.kind for a in announces(acd.wait(1))] == ["comfort"]
    assert [a.kind for a in announces(acd.wait(45))] == ["comfort"]


def test_announcements_can_leave_out_position_and_ewt(acd: Acd) -> None:
    acd.queue("q", announce_position=False, announce_ewt=False, announce_first_seconds=10)
    assert announces(acd.call("c1", "q")) == []
    [comfort] = announces(acd.wait(10))
    assert (comfort.position, comfort.ewt_seconds) == (None, None)


def test_no_announcements_for_a_ringing_caller(acd: Acd) -> None:
    acd.queue("q", announce_first_seconds=10, announce_every_seconds=10, ring_timeout_seconds=60)
    acd.login("a1")
    acd.call("c1", "q")
    assert announces(acd.wait(30)) == []
    acd.do("offer_failed", "c1")
    assert [a.kind for a in announces(acd.wait(10))] == ["comfort"]


def test_announcements_stop_when_the_caller_is_answered_or_leaves(acd: Acd) -> None:
    acd.queue("q", announce_first_seconds=10, announce_every_seconds=10)
    acd.call("c1", "q")
    acd.call("c2", "q")
    acd.wait(10)
    acd.do("abandon", "c1")
    acd.login("a1")
    acd.connect("c2")
    assert announces(acd.wait(60)) == []


def test_callback_offered_when_the_wait_is_long(acd: Acd) -> None:
    acd.queue(
        "q",
        default_handle_seconds=100,
        callback_offer_ewt_seconds=150,
        announce_first_seconds=20,
    )
    busy_agents(acd, 1)
    [first] = announces(acd.call("c1", "q"))
    assert not first.offer_callback  # 100 s < 150 s
    [second] = announces(acd.call("c2", "q"))
    assert second.offer_callback  # 200 s
    assert acd.engine.hints(T, "c2").offer_callback


def test_callback_offered_after_a_time_in_queue(acd: Acd) -> None:
    acd.queue(
        "q", callback_offer_after_seconds=60, announce_first_seconds=30, announce_every_seconds=30
    )
    busy_agents(acd, 1)
    acd.call("c1", "q")
    assert [a.offer_callback for a in announces(acd.wait(30))] == [False]
    assert [a.offer_callback for a in announces(acd.wait(30))] == [True]


def test_no_callback_offer_once_the_caller_has_one(acd: Acd) -> None:
    acd.queue("q", callback_offer_after_seconds=0, announce_first_seconds=10)
    acd.call("c1", "q")
    acd.do("request_callback", "c1")
    assert announces(acd.wait(60)) == []
    hints = acd.engine.hints(T, "c1")
    assert (hints.offer_callback, hints.next_announcement) == (False, None)
    events = [e for e in acd.events if e.type == "queue.callback_requested"]
    assert events[0].data == {"call_id": "c1", "queue_id": "q", "position": 1}


@pytest.mark.parametrize("agents", [0, 1, 3])
def test_realtime_ewt_for_a_new_caller(acd: Acd, agents: int) -> None:
    acd.queue("q", default_handle_seconds=90)
    busy_agents(acd, agents)
    acd.call("w1", "q")
    ewt = acd.engine.realtime(T, "q").ewt_seconds
    assert ewt == (None if agents == 0 else 2 * 90 / agents)


def test_realtime_ewt_is_zero_with_an_available_agent(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    assert acd.engine.realtime(T, "q").ewt_seconds == 0
