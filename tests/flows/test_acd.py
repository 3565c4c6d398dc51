"""The ACD service with the flow engine: a template IVR end to end, queues, agents, callbacks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from koe.core.errors import LicenseExceeded
from koe.flows import events as fev
from koe.routing.model import EscalationStep, OverflowTarget, TargetKind
from koe.tenancy.templates import build_ivr
from tests.flows.conftest import WEEKDAYS_9_18, Harness, T
from tests.flows.fakes import FakeSession, wav

SALES, SUPPORT = "q-sales", "q-support"


def standard_flow(h: Harness, template: str = "hours_menu", **queue_node: Any) -> None:
    """The standard setup's main flow: business hours → template IVR → queues; else voicemail."""
    h.flow(
        {
            "hours": {
                "type": "business_hours",
                "calendar": "cal",
                "open": "open",
                "closed": "closed",
            },
            "open": {"type": "ivr_menu", "ivr": "ivr", "next": "voicemail"},
            "closed": {"type": "play", "prompt": {"ja": "営業時間外です"}, "next": "voicemail"},
            "voicemail": {"type": "voicemail", "next": "end"},
            "end": {"type": "hangup"},
        },
        "hours",
        ivrs={"ivr": build_ivr(template, [SALES, SUPPORT], "声商事")},
        calendars={"cal": {"weekly": WEEKDAYS_9_18, "closed_on_public_holidays": True}},
    )


def finished(h: Harness, session: FakeSession) -> dict[str, Any]:
    return next(
        e.data
        for e in h.events
        if e.type == fev.FLOW_FINISHED and e.data["call_id"] == session.call_id
    )


async def staffed(h: Harness, *agents: tuple[str, dict[str, int]]) -> None:
    for agent_id, skills in agents:
        h.agent(agent_id, skills)
        await h.login(agent_id)
        await h.advance(1)  # distinct idle times: the first logged in is the longest idle


async def test_template_ivr_to_the_longest_idle_agent_with_the_skill(h: Harness) -> None:
    h.queue(SALES, {"sales": 1})
    h.queue(SUPPORT, {"support": 3})
    standard_flow(h)
    await staffed(
        h, ("sales1", {"sales": 9}), ("sup-weak", {"support": 2}), ("sup1", {"support": 5})
    )
    h.agent("sup2", {"support": 8})
    await h.login("sup2")
    s = h.session(digits=["2"])  # "2": the second queue
    task = h.call(s)
    await h.until(lambda: "sup1" in h.phones.talking)
    assert h.phones.rang == [(s.call_id, "sup1")]
    assert s.notes["ivr_choice"] == "2" and s.notes["queue"] == SUPPORT
    assert s.notes["hours"] == "open"
    decision = (await h.acd.explain(T, s.call_id))[0]
    assert decision.outcome == "offered" and decision.agent_id == "sup1"
    assert [c.agent_id for c in decision.eligible] == ["sup1", "sup2"]
    assert "longest idle" in decision.reason
    h.phones.hang_up("sup1")
    await task
    assert finished(h, s)["outcome"] == "answered"
    assert h.state("sup1") == "wrap_up"
    await h.acd.drain()
    ended = next(e for e in h.events if e.type == "queue.call_ended")
    assert ended.data["agent_id"] == "sup1" and ended.data["queue_id"] == SUPPORT


async def test_escalates_when_no_one_has_the_skill_level(h: Harness) -> None:
    h.queue(SALES, {"sales": 1})
    h.queue(SUPPORT, {"support": 8}, escalation=(EscalationStep(60, lower_levels_by=4),))
    standard_flow(h)
    await staffed(h, ("sup1", {"support": 5}))
    s = h.session(digits=["2"])
    h.call(s)
    await h.until(lambda: s.music)
    await h.advance(58)
    assert h.phones.rang == []
    await h.advance(2)
    await h.until(lambda: "sup1" in h.phones.talking)
    triggers = [d.trigger for d in await h.acd.explain(T, s.call_id)]
    assert triggers == ["call_arrived", "escalated"]
    h.phones.hang_up("sup1")


async def test_overflows_to_voicemail_after_the_timeout(h: Harness) -> None:
    h.queue(SALES, {"sales": 1}, max_wait_seconds=120)
    h.queue(SUPPORT, {"support": 1})
    standard_flow(h)
    s = h.session(digits=["1"])
    task = h.call(s)
    await h.until(lambda: s.music)
    await h.advance(119)
    assert not task.done()
    await h.advance(1)
    await asyncio.wait_for(task, 2)
    assert s.notes["overflow"] == "voicemail" and s.notes["overflow_reason"] == "timeout"
    assert "record" in s.ops() and s.log[-1] == ("hangup", "16")
    assert finished(h, s)["outcome"] == "voicemail"
    (interval,) = h.acd.engine.intervals(T, queue_id=SALES)
    assert interval.offered == 1 and interval.overflowed == 1


async def test_abandoned_caller_is_counted_as_abandoned(h: Harness) -> None:
    h.queue(SALES, {"sales": 1})
    h.queue(SUPPORT, {"support": 1})
    standard_flow(h)
    s = h.session(digits=["1"])
    task = h.call(s)
    await h.until(lambda: s.music)
    await h.advance(42)
    s.caller_hangs_up()
    await asyncio.wait_for(task, 2)
    assert finished(h, s)["outcome"] == "abandoned"
    assert s.notes["abandoned"] == "true"
    (interval,) = h.acd.engine.intervals(T, queue_id=SALES)
    assert interval.abandoned == 1 and interval.abandon_wait_max_seconds == 42
    await h.acd.drain()
    abandoned = next(e for e in h.events if e.type == "queue.call_abandoned")
    assert abandoned.data["wait_seconds"] == 42
    assert (await h.acd.realtime(T, SALES)).waiting == 0


async def test_agent_ignoring_a_ringing_call_is_paused_and_the_caller_keeps_their_place(
    h: Harness,
) -> None:
    h.queue(SALES, {"sales": 1}, ring_timeout_seconds=20)
    h.queue(SUPPORT, {"support": 1})
    standard_flow(h)
    h.phones.set("lazy", "ignore")
    await staffed(h, ("lazy", {"sales": 5}), ("keen", {"sales": 5}))
    h.phones.set("keen", "busy")
    await h.acd.start_break(T, "keen", "meeting")
    s = h.session(digits=["1"])
    h.call(s)
    await h.until(lambda: h.phones.rang == [(s.call_id, "lazy")])
    await h.advance(20)
    await h.until(lambda: (s.call_id, "lazy") in h.phones.cancelled)
    assert h.state("lazy") == "no_answer"
    assert h.acd.engine.agent(T, "lazy").reason == "no_answer"
    view = h.acd.engine.call(T, s.call_id)
    assert view.state == "waiting" and view.position == 1
    h.phones.set("keen", "answer")
    await h.acd.ready(T, "keen")
    await h.until(lambda: "keen" in h.phones.talking)
    h.phones.hang_up("keen")


async def test_phone_that_gives_up_ringing_pauses_the_agent(h: Harness) -> None:
    h.queue(SALES, {"sales": 1})
    h.queue(SUPPORT, {"support": 1})
    standard_flow(h)
    h.phones.set("a1", "no_answer")
    h.phones.set("a2", "reject")
    await staffed(h, ("a1", {"sales": 5}), ("a2", {"sales": 5}), ("a3", {"sales": 5}))
    s = h.session(digits=["1"])
    h.call(s)
    await h.until(lambda: "a3" in h.phones.talking)
    assert [a for _, a in h.phones.rang] == ["a1", "a2", "a3"]
    assert (h.state("a1"), h.state("a2")) == ("no_answer", "no_answer")
    assert h.acd.engine.agent(T, "a2").reason == "rejected"
    h.phones.hang_up("a3")


async def test_caller_hanging_up_while_ringing(h: Harness) -> None:
    h.queue(SALES)
    h.queue(SUPPORT)
    standard_flow(h)
    h.phones.set("a1", "ignore")
    await staffed(h, ("a1", {}))
    s = h.session(digits=["1"])
    task = h.call(s)
    await h.until(lambda: bool(h.phones.rang))
    s.caller_hangs_up()
    await asyncio.wait_for(task, 2)
    assert finished(h, s)["outcome"] == "abandoned"
    assert h.state("a1") == "available"


async def test_in_queue_announcements_and_a_kept_callback(h: Harness) -> None:
    h.prompts.library.upload(T, "position_1", "ja", wav())
    h.queue(
        SALES,
        {"sales": 1},
        announce_first_seconds=30,
        announce_every_seconds=60,
        announce_position=True,
        callback_offer_after_seconds=30,
    )
    h.queue(SUPPORT)
    standard_flow(h)
    h.agent("a1", {"sales": 3})
    s = h.session(digits=["1"])
    task = h.call(s)
    await h.until(lambda: s.music)
    assert s.played()[-1] == "ja/position_1"
    assert s.played()[-2] == "ja/please_wait"
    await h.advance(30)
    await h.until(lambda: "ja/callback_offer" in s.played())
    assert s.played()[-3:] == ["ja/comfort", "ja/position_1", "ja/callback_offer"]
    await h.until(lambda: s.music)
    s.press("1")
    await asyncio.wait_for(task, 2)
    assert s.played()[-1] == "ja/callback_confirmed"
    assert s.notes["callback"] == "kept"
    assert finished(h, s)["outcome"] == "callback"
    assert h.acd.engine.call(T, s.call_id).callback
    # An agent becomes free: ring them, then dial the customer.
    await h.login("a1")
    await h.until(lambda: "+819012345678" in h.trunk.talking)
    assert h.state("a1") == "on_call"
    (agent_leg,) = h.dialer.sessions
    assert agent_leg.notes["callback_for"] == s.call_id
    h.trunk.end("+819012345678")
    await h.until(lambda: h.state("a1") == "wrap_up")
    await h.acd.drain()
    assert fev.CALLBACK_COMPLETED in h.types()
    assert h.acd.callbacks(T) == []


async def test_callback_not_reached_is_tried_again(h: Harness) -> None:
    h.queue(SALES, wrap_up_seconds=0)
    h.queue(SUPPORT)
    h.flow({"cb": {"type": "callback", "queue": SALES}}, "cb")
    h.trunk.behaviour["+819012345678"] = "no_answer"
    s = await h.run(h.session())
    h.agent("a1")
    await h.login("a1")
    await h.until(lambda: len(h.trunk.dialled) == 3)
    await h.until(lambda: len([e for e in h.events if e.type == fev.CALLBACK_FAILED]) == 3)
    failed = [e.data for e in h.events if e.type == fev.CALLBACK_FAILED]
    assert [f["retrying"] for f in failed] == [True, True, False]
    assert h.acd.callbacks(T) == []
    assert s.call_id not in {c.call_id for c in h.acd.engine.calls(T, SALES)}


async def test_overflow_without_next_goes_to_the_queues_target(h: Harness) -> None:
    h.queue(
        "q",
        max_wait_seconds=60,
        overflow_target=OverflowTarget(TargetKind.TRANSFER, "0312345679"),
    )
    h.flow({"q": {"type": "queue", "queue": "q"}}, "q")
    s = h.session()
    task = h.call(s)
    await h.until(lambda: s.music)
    await h.advance(60)
    await h.until(lambda: "+81312345679" in h.trunk.talking)
    h.trunk.end("+81312345679")
    await asyncio.wait_for(task, 2)
    assert finished(h, s)["outcome"] == "transferred"


async def test_overflow_at_entry_when_nobody_is_staffed(h: Harness) -> None:
    h.queue("q", overflow_ewt_seconds=300, overflow_target=OverflowTarget(TargetKind.HANGUP))
    h.flow({"q": {"type": "queue", "queue": "q"}}, "q")
    s = await h.run(h.session())
    assert s.notes["overflow_reason"] == "ewt"
    assert s.played()[-1] == "ja/goodbye" and s.log[-1] == ("hangup", "16")


async def test_silent_agent_leaves_the_pool_within_30_seconds(tmp_path: Path) -> None:
    h = Harness(tmp_path, presence_timeout=30.0)
    try:
        await silent_agent(h)
    finally:
        await h.close()


async def silent_agent(h: Harness) -> None:
    h.queue("q")
    h.agent("a1")
    h.agent("a2")
    await h.login("a1")
    await h.login("a2")
    assert h.acd.engine.seats.in_use(T) == 2
    for _ in range(3):
        await h.advance(10)
        assert await h.acd.heartbeat(T, "a2")
    assert await h.acd.agents(T) == [await h.acd.agent(T, "a2")]
    assert h.acd.engine.seats.in_use(T) == 1
    await h.acd.drain()
    lost = [
        e.data
        for e in h.events
        if e.type == "agent.state_changed" and e.data["new"] == "logged_out"
    ]
    assert lost[0]["agent_id"] == "a1"
    assert not await h.acd.heartbeat(T, "a1")


async def test_login_refused_past_the_seat_licenses(h: Harness) -> None:
    h.agent("a1")
    h.agent("a2")
    h.directory.seats[T] = 1
    await h.login("a1")
    with pytest.raises(LicenseExceeded) as err:
        await h.acd.login(T, "a2")
    assert err.value.code == "license_seats_exceeded"
    assert "All 1 seat licenses are in use" in err.value.message_en
    assert "シートライセンス(1)はすべて使用中です" in err.value.message_ja
    await h.acd.drain()
    assert "agent.login_refused" in h.types()
    await h.acd.logout(T, "a1")
    await h.acd.login(T, "a2")  # the seat is free again


async def test_login_twice_is_a_heartbeat(h: Harness) -> None:
    h.agent("a1")
    first = await h.acd.login(T, "a1")
    await h.advance(5)
    again = await h.acd.login(T, "a1")
    assert again.since == first.since and again.state == "available"


async def test_agent_connection_lost_during_a_call_ends_the_call(h: Harness) -> None:
    h.queue("q")
    h.agent("a1")
    await h.login("a1")
    h.flow({"q": {"type": "queue", "queue": "q"}}, "q")
    s = h.session()
    task = h.call(s)
    await h.until(lambda: "a1" in h.phones.talking)
    await h.acd.connection_lost(T, "a1")
    await asyncio.wait_for(task, 2)
    assert s.notes["agent_lost"] == "true"
    assert s.log[-1] == ("hangup", "16")
    assert h.acd.engine.seats.in_use(T) == 0


async def test_holiday_routes_the_template_flow_to_voicemail(h: Harness) -> None:
    h.clock.set(datetime(2026, 11, 3, 1, 30, tzinfo=UTC))  # 10:30 on 文化の日
    h.queue(SALES)
    h.queue(SUPPORT)
    standard_flow(h)
    s = await h.run(h.session())
    assert s.notes["hours"] == "holiday"
    # The closed text has no recording: the default prompt of the node's name plays.
    assert s.played() == ["ja/closed", "ja/voicemail"]
    assert s.ops()[-2:] == ["record", "hangup"]


async def test_stop_ends_the_acd_tasks(h: Harness) -> None:
    await h.acd.start()
    assert h.acd._ticker is not None and h.acd._publisher is not None
    await h.acd.stop()
    assert h.acd._ticker is None and h.acd._publisher is None
