"""Real-time queue figures and historical 15-minute intervals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from koe.routing.metrics import INTERVAL_SECONDS, QueueStats, interval_start
from tests.routing.conftest import START, Acd, T


def test_realtime_figures(acd: Acd) -> None:
    acd.queue("q", {"s": 1})
    acd.login("on-call", {"s": 1})
    acd.login("ringing", {"s": 1})
    acd.login("paused", {"s": 1}, ready=False)
    acd.login("other", {"x": 1})
    acd.call("c1", "q")
    acd.connect("c1")
    acd.call("c2", "q")
    acd.wait(10)
    acd.call("c3", "q")
    acd.wait(5)
    acd.call("c4", "q")
    acd.do("request_callback", "c4")
    fig = acd.engine.realtime(T, "q")
    assert (fig.waiting, fig.offered, fig.callbacks) == (1, 1, 1)
    assert fig.longest_wait_seconds == 15  # c2, ringing since it entered
    assert fig.agents == {
        "available": 0,
        "reserved": 1,
        "on_call": 1,
        "wrap_up": 0,
        "break": 1,
        "no_answer": 0,
    }


def test_service_level_windows(acd: Acd) -> None:
    acd.queue("q", service_level_seconds=20, wrap_up_seconds=0)
    acd.login("a1", ready=False)
    # 70 minutes ago: one answered late (not counted in the last hour)
    acd.call("old", "q")
    acd.wait(30)
    acd.do("ready", "a1")
    acd.connect("old")
    acd.do("call_ended", "old")
    acd.wait(50 * 60)
    # 20 minutes ago: one answered in 5 s (good)
    acd.do("start_break", "a1", "x")
    acd.call("good", "q")
    acd.wait(5)
    acd.do("ready", "a1")
    acd.connect("good")
    acd.do("call_ended", "good")
    acd.wait(10 * 60)
    # 10 minutes ago: one abandoned after 25 s (bad), one after 10 s (not counted)
    acd.do("start_break", "a1", "x")
    acd.call("bad", "q")
    acd.call("short", "q")
    acd.wait(10)
    acd.do("abandon", "short")
    acd.wait(15)
    acd.do("abandon", "bad")
    acd.wait(10 * 60)
    fig = acd.engine.realtime(T, "q")
    assert fig.service_level == {15: 0.0, 30: 0.5, 60: 0.5}
    acd.wait(60 * 60)
    assert acd.engine.realtime(T, "q").service_level == {15: None, 30: None, 60: None}


def test_interval_buckets(acd: Acd) -> None:
    acd.queue("q", service_level_seconds=20, wrap_up_seconds=30)
    acd.login("a1", ready=False)
    acd.call("c1", "q")
    acd.call("c2", "q")
    acd.wait(10)
    acd.do("ready", "a1")  # c1 answered after 10 s
    acd.connect("c1")
    acd.wait(40)
    acd.do("abandon", "c2")  # after 50 s
    acd.do("hold", "c1")
    acd.wait(20)
    acd.do("resume", "c1")
    acd.wait(60)
    acd.do("call_ended", "c1")  # talk 100, hold 20
    acd.wait(30)  # after-call work 30
    [b] = acd.engine.intervals(T, queue_id="q")
    assert b.start == START
    assert (b.offered, b.answered, b.answered_within_sl) == (2, 1, 1)
    assert (b.abandoned, b.abandon_wait_avg_seconds, b.abandon_wait_max_seconds) == (1, 50, 50)
    assert b.asa_seconds == 10
    assert (b.handled, b.talk_seconds, b.hold_seconds, b.acw_seconds) == (1, 100, 20, 30)
    assert b.aht_seconds == 150
    assert b.service_level == 0.5  # c1 good, c2 abandoned after 20 s
    # a1 was staffed from 10 s (ready) to 160 s, busy from 10 s to 160 s (ringing, call, ACW)
    assert (b.staffed_seconds, b.busy_seconds, b.occupancy) == (150, 150, 1.0)
    acd.wait(50)
    [b] = acd.engine.intervals(T, queue_id="q")
    assert (b.staffed_seconds, b.busy_seconds) == (200, 150)
    assert b.occupancy == pytest.approx(0.75)
    [agent] = acd.engine.intervals(T, agent_id="a1")
    assert (agent.staffed_seconds, agent.busy_seconds) == (200, 150)
    [tenant] = acd.engine.intervals(T)
    assert tenant.staffed_seconds == 200


def test_agent_time_is_split_at_interval_boundaries(acd: Acd) -> None:
    acd.queue("q")
    acd.wait(INTERVAL_SECONDS - 100)
    acd.login("a1")
    acd.wait(300)
    first, second = acd.engine.intervals(T, queue_id="q")
    assert (first.staffed_seconds, second.staffed_seconds) == (100, 200)
    assert second.start - first.start == timedelta(seconds=INTERVAL_SECONDS)


def test_breaks_are_not_staffed_time(acd: Acd) -> None:
    acd.queue("q")
    acd.login("a1")
    acd.wait(100)
    acd.do("start_break", "a1", "lunch")
    acd.wait(100)
    [b] = acd.engine.intervals(T, agent_id="a1")
    assert (b.staffed_seconds, b.busy_seconds, b.occupancy) == (100, 0, 0)


def test_take_intervals_removes_the_finished_ones(acd: Acd) -> None:
    acd.queue("q", wrap_up_seconds=0)
    acd.talking("a1", "c1")
    acd.wait(60)
    acd.do("call_ended", "c1")
    acd.wait(INTERVAL_SECONDS)  # into the second interval
    acd.call("c2", "q")
    report = acd.engine.take_intervals(T)
    [q] = report.queues["q"]
    assert (q.start, q.offered, q.handled, q.staffed_seconds, q.busy_seconds) == (
        START,
        1,
        1,
        INTERVAL_SECONDS,
        60,
    )
    [a] = report.agents["a1"]
    assert a.occupancy == pytest.approx(60 / INTERVAL_SECONDS)
    assert [t.staffed_seconds for t in report.tenant] == [INTERVAL_SECONDS]
    again = acd.engine.take_intervals(T)
    assert (again.queues, again.agents, again.tenant) == ({}, {}, [])
    [current] = acd.engine.intervals(T, queue_id="q")
    assert current.offered == 1  # c2, in the interval still running


def test_queue_occupancy_counts_the_queues_agents_only(acd: Acd) -> None:
    acd.queue("sales", {"sales": 1})
    acd.queue("support", {"support": 1})
    acd.login("s", {"sales": 1})
    acd.login("both", {"sales": 1, "support": 1})
    acd.wait(100)
    [sales] = acd.engine.intervals(T, queue_id="sales")
    [support] = acd.engine.intervals(T, queue_id="support")
    assert (sales.staffed_seconds, support.staffed_seconds) == (200, 100)


def test_unknown_tenant_and_queue(acd: Acd) -> None:
    from koe.core.errors import NotFound

    assert acd.engine.intervals("nobody") == []
    assert acd.engine.take_intervals("nobody").queues == {}
    with pytest.raises(NotFound):
        acd.engine.intervals(T, queue_id="nope")


def test_aht_uses_the_recent_calls_only() -> None:
    stats = QueueStats(20, samples=3)
    assert stats.aht(180) == 180
    for total in (100, 200, 300, 400):
        stats.handled(0, total, 0, 0)
    assert stats.aht(180) == 300


def test_interval_start_is_the_quarter_hour() -> None:
    t = START.timestamp()
    assert interval_start(t + 899) == t
    assert interval_start(t + 900) == t + 900
