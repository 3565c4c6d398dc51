"""Every node type of a flow, on the fake call control."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from koe.calls.session import CallerIdentity, Withheld
from koe.flows import events as fev
from koe.tenancy.settings import TenantSettings
from tests.flows.conftest import NUMBER, WEEKDAYS_9_18, Harness, T
from tests.flows.fakes import wav

END = {"type": "hangup"}


def finished(h: Harness) -> dict[str, object]:
    return next(e.data for e in h.events if e.type == fev.FLOW_FINISHED)


async def test_play_then_hangup(h: Harness) -> None:
    h.flow({"hi": {"type": "play", "prompt": "welcome", "next": "end"}, "end": END}, "hi")
    s = await h.run(h.session())
    assert s.log == [("answer", ""), ("play", "ja/welcome"), ("hangup", "16")]
    assert s.notes["flow"] == "flow-1" and s.notes["flow_version"] == "1"
    assert h.types() == [fev.FLOW_STARTED, fev.FLOW_FINISHED]
    assert h.events[-1].data["outcome"] == "hangup"


async def test_text_prompts_play_the_recording_or_the_default_of_the_same_name(
    h: Harness,
) -> None:
    h.prompts.library.upload(T, "flow-flow-1-mine", "ja", wav())
    h.flow(
        {
            "closed": {"type": "play", "prompt": {"ja": "休業", "en": "Closed"}, "next": "mine"},
            "mine": {"type": "play", "prompt": {"ja": "独自", "en": "Own"}, "next": "none"},
            "none": {"type": "play", "prompt": {"ja": "録音なし", "en": "none"}, "next": "end"},
            "end": END,
        },
        "closed",
    )
    s = await h.run(h.session())
    assert s.played() == ["ja/closed", "ja/flow-flow-1-mine"]  # unrecorded text: skipped
    assert s.log[-1] == ("hangup", "16")


async def test_recording_notice_first_when_the_tenant_records(h: Harness) -> None:
    h.flow(
        {"hi": {"type": "play", "prompt": "welcome", "next": "end"}, "end": END},
        "hi",
        settings=TenantSettings(record_calls=True),
    )
    s = await h.run(h.session())
    assert s.played() == ["ja/recording_notice", "ja/welcome"]


def hours_flow(h: Harness, *, holiday_edge: bool, **calendar: object) -> None:
    node: dict[str, object] = {
        "type": "business_hours",
        "calendar": "cal",
        "open": "open",
        "closed": "closed",
    }
    if holiday_edge:
        node["holiday"] = "holiday"
    h.flow(
        {
            "hours": node,
            "open": {"type": "play", "prompt": "welcome", "next": "end"},
            "closed": {"type": "play", "prompt": "closed", "next": "end"},
            "holiday": {"type": "play", "prompt": "holiday", "next": "end"},
            "end": END,
        },
        "hours",
        calendars={"cal": {"weekly": WEEKDAYS_9_18, **calendar}},
    )


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-24T10:00", "ja/welcome"),  # Tuesday, open
        ("2026-11-24T08:59", "ja/closed"),
        ("2026-11-24T18:00", "ja/closed"),  # the end is exclusive
        ("2026-11-28T11:00", "ja/closed"),  # Saturday
        ("2026-11-03T10:00", "ja/holiday"),  # 文化の日 (a Tuesday)
        ("2026-11-23T10:00", "ja/holiday"),  # 勤労感謝の日 (a Monday)
    ],
)
async def test_business_hours_weekly_and_japanese_holidays(
    h: Harness, local: str, expected: str
) -> None:
    h.clock.set(datetime.fromisoformat(local + "+09:00"))
    hours_flow(h, holiday_edge=True)
    s = await h.run(h.session())
    assert s.played() == [expected]
    assert s.notes["hours"] in ("open", "closed", "holiday")


async def test_holiday_without_a_holiday_edge_is_closed(h: Harness) -> None:
    h.clock.set(datetime(2026, 11, 3, 1, 0, tzinfo=UTC))  # 10:00 JST on 文化の日
    hours_flow(h, holiday_edge=False)
    s = await h.run(h.session())
    assert s.played() == ["ja/closed"] and s.notes["hours"] == "holiday"


async def test_holidays_can_be_working_days(h: Harness) -> None:
    h.clock.set(datetime(2026, 11, 3, 1, 0, tzinfo=UTC))
    hours_flow(h, holiday_edge=True, closed_on_public_holidays=False)
    assert (await h.run(h.session())).played() == ["ja/welcome"]


async def test_special_days_override_the_week_and_holidays(h: Harness) -> None:
    special = [
        {"date": "2026-11-24", "name": "棚卸し"},  # a Tuesday, closed
        {"date": "2026-11-29", "spans": [["10:00", "12:00"]]},  # a Sunday, open in the morning
        "2026-11-25",
    ]
    hours_flow(h, holiday_edge=True, special_days=special)
    assert (await h.run(h.session())).played() == ["ja/closed"]
    h.clock.set(datetime.fromisoformat("2026-11-29T11:00+09:00"))
    assert (await h.run(h.session())).played() == ["ja/welcome"]
    h.clock.set(datetime.fromisoformat("2026-11-29T12:30+09:00"))
    assert (await h.run(h.session())).played() == ["ja/closed"]
    h.clock.set(datetime.fromisoformat("2026-11-25T10:00+09:00"))
    assert (await h.run(h.session())).played() == ["ja/closed"]


async def test_business_hours_in_another_time_zone(h: Harness) -> None:
    h.clock.set(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))  # 10:00 Tokyo, 01:00 London
    hours_flow(h, holiday_edge=False, timezone="Europe/London")
    assert (await h.run(h.session())).played() == ["ja/closed"]


IVR = {
    "prompt": {"ja": "1は営業、2は留守電、3は住所", "en": "1 sales, 2 voicemail, 3 address"},
    "choices": {
        "1": {"action": "transfer", "number": "03-1111-2222"},
        "2": {"action": "voicemail"},
        "3": {"action": "play", "prompt": "welcome"},
        "8": {"action": "hangup"},
        "9": {"action": "repeat"},
        "5": {"action": "hangup", "language": "en", "prompt": "goodbye"},
    },
    "timeout_seconds": 5,
    "retries": 2,
    "default": {"action": "hangup", "prompt": "goodbye"},
}


def ivr_flow(h: Harness) -> None:
    h.flow(
        {
            "menu": {"type": "ivr_menu", "ivr": "ivr-1", "next": "after"},
            "after": {"type": "play", "prompt": "lines_busy", "next": "end"},
            "end": END,
        },
        "menu",
        ivrs={"ivr-1": IVR},
    )


async def test_ivr_menu_choice_runs_its_action(h: Harness) -> None:
    ivr_flow(h)
    s = await h.run(h.session(digits=["2"]))
    assert s.played() == ["ja/welcome", "ja/voicemail"]  # menu (no recording → welcome)
    assert s.ops()[-2:] == ["record", "hangup"]
    assert s.notes["ivr_choice"] == "2" and s.notes["voicemail"] == "main"


async def test_ivr_menu_default_route_for_callers_who_press_nothing(h: Harness) -> None:
    ivr_flow(h)
    s = await h.run(h.session(digits=[None, None, None]))
    # Three tries (retries = 2), two "no input" notices, then the default route.
    assert s.played() == [
        "ja/welcome",
        "ja/no_input",
        "ja/welcome",
        "ja/no_input",
        "ja/welcome",
        "ja/goodbye",
    ]
    assert s.notes["ivr_choice"] == "default"
    assert s.log[-1] == ("hangup", "16")


async def test_ivr_menu_invalid_input_then_a_valid_one(h: Harness) -> None:
    ivr_flow(h)
    s = await h.run(h.session(digits=["7", "8"]))
    assert s.played() == ["ja/welcome", "ja/invalid_input", "ja/welcome"]
    assert s.notes["ivr_choice"] == "8"


async def test_ivr_repeat_and_play_come_back_to_the_menu(h: Harness) -> None:
    ivr_flow(h)
    s = await h.run(h.session(digits=["9", "3", "8"]))
    assert s.played() == ["ja/welcome", "ja/welcome", "ja/welcome", "ja/welcome"]


async def test_ivr_language_choice_switches_prompts(h: Harness) -> None:
    ivr_flow(h)
    s = await h.run(h.session(digits=["5"]))
    assert s.played() == ["ja/welcome", "en/goodbye"]


async def test_ivr_barge_in_digit_is_the_choice(h: Harness) -> None:
    ivr_flow(h)
    s = h.session()
    s.press("8")
    await h.run(s)
    assert s.played() == ["ja/welcome"] and s.notes["ivr_choice"] == "8"


async def test_ivr_transfer_bridges_until_the_far_end_hangs_up(h: Harness) -> None:
    ivr_flow(h)
    s = h.session(digits=["1"])
    task = h.call(s)
    await h.until(lambda: "+81311112222" in h.trunk.talking)
    assert s.played()[-1] == "ja/transferring"
    assert not task.done()
    h.trunk.end("+81311112222")
    await task
    assert s.notes["transfer"] == "+81311112222" and s.notes["transfer_result"] == "answered"
    assert s.log[-1] == ("hangup", "16")


async def test_transfer_not_answered_goes_to_next(h: Harness) -> None:
    h.trunk.behaviour["+81311112222"] = "busy"
    ivr_flow(h)
    s = await h.run(h.session(digits=["1"]))
    assert s.played()[-1] == "ja/lines_busy"
    assert s.notes["transfer_result"] == "busy"


async def test_transfer_to_an_unusable_number_goes_on(h: Harness) -> None:
    h.flow({"t": {"type": "transfer", "number": "not a number", "next": "end"}, "end": END}, "t")
    s = await h.run(h.session())
    assert s.notes["transfer"] == "invalid_number" and "transfer" not in s.ops()


async def test_gather_menu_route_and_set(h: Harness) -> None:
    h.flow(
        {
            "ask": {
                "type": "gather",
                "variable": "account",
                "min_digits": 4,
                "max_digits": 6,
                "prompt": "welcome",
                "note": True,
                "next": "lang",
            },
            "lang": {"type": "set", "values": {"language": "en", "tier": "gold"}, "next": "r"},
            "r": {"type": "menu_route", "variable": "tier1", "routes": {}, "default": "d"},
            "d": {
                "type": "menu_route",
                "prompt": "callback_offer",
                "routes": {"1": "one", "2": "two"},
                "default": "end",
            },
            "one": {"type": "play", "prompt": "goodbye", "next": "end"},
            "two": {"type": "play", "prompt": "comfort", "next": "end"},
            "end": END,
        },
        "ask",
    )
    s = await h.run(h.session(digits=["12", "12345#", "2"]))
    # Too short the first time: a notice and the question again.
    assert s.played() == [
        "ja/welcome",
        "ja/invalid_input",
        "ja/welcome",
        "en/callback_offer",
        "en/comfort",
    ]
    assert s.notes["var_account"] == "12345"
    assert s.notes["attr_tier"] == "gold" and s.notes["route_d"] == "2"


async def test_gather_gives_up_with_an_empty_value(h: Harness) -> None:
    h.flow(
        {
            "ask": {"type": "gather", "variable": "pin", "retries": 1, "next": "r"},
            "r": {"type": "menu_route", "variable": "pin", "routes": {"1": "end"}, "default": "x"},
            "x": {"type": "play", "prompt": "goodbye", "next": "end"},
            "end": END,
        },
        "ask",
    )
    s = await h.run(h.session(digits=[None, None]))
    assert s.played() == ["ja/no_input", "ja/goodbye"]


async def test_voicemail_records_into_the_tenants_mailbox(h: Harness) -> None:
    h.flow({"vm": {"type": "voicemail", "mailbox": "sales", "next": "end"}, "end": END}, "vm")
    s = await h.run(h.session())
    path = h.data / "voicemail" / T / "sales" / f"{s.call_id}.wav"
    assert path.exists()
    assert ("record", str(path)) in s.log
    assert s.played() == ["ja/voicemail"]
    event = next(e for e in h.events if e.type == fev.VOICEMAIL_RECORDED)
    assert event.data["path"] == f"{T}/sales/{s.call_id}.wav"
    assert event.data["caller"] == "+819012345678" and event.data["seconds"] == 7.5
    assert h.events[-1].data["outcome"] == "voicemail"


async def test_voicemail_never_reveals_a_withheld_caller(h: Harness) -> None:
    h.flow({"vm": {"type": "voicemail", "mailbox": "../etc"}}, "vm")
    s = await h.run(h.session(caller=CallerIdentity(None, Withheld.ANONYMOUS)))
    event = next(e for e in h.events if e.type == fev.VOICEMAIL_RECORDED)
    assert event.data["caller"] is None
    assert event.data["mailbox"] == "main"  # an unusable mailbox name is not a path
    assert s.log[-1] == ("hangup", "16")


async def test_hangup_node_with_prompt_and_cause(h: Harness) -> None:
    h.flow({"bye": {"type": "hangup", "prompt": "goodbye", "cause": 17}}, "bye")
    s = await h.run(h.session())
    assert s.log == [("answer", ""), ("play", "ja/goodbye"), ("hangup", "17")]


async def test_unknown_number_gets_a_clear_announcement(h: Harness) -> None:
    s = await h.run(h.session(called="+81399999999"))
    assert s.log == [
        ("answer", ""),
        ("play", "ja/unallocated"),
        ("play", "en/unallocated"),
        ("hangup", "1"),
    ]
    assert s.notes == {"unallocated": "unknown_number"}
    assert h.types() == [fev.NUMBER_UNALLOCATED]


async def test_number_without_flow(h: Harness) -> None:
    plan = h.flow({"end": END}, "end")
    h.reflow(plan, flow_id=None, document={})
    s = await h.run(h.session())
    assert s.played() == ["ja/service_unavailable", "en/service_unavailable"]
    assert s.cause == 63 and s.notes == {"unallocated": "no_flow"}


async def test_store_down_still_answers_with_an_announcement(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(tenant_id: str, number: str) -> None:
        raise ConnectionError("database is down")

    h.plans.plan = broken  # type: ignore[method-assign,assignment]
    s = await h.run(h.session())
    assert s.played() == ["ja/service_unavailable", "en/service_unavailable"]
    assert s.notes == {"unallocated": "store_unavailable"} and s.cause == 63
    assert "flow plan unavailable" in caplog.text


async def test_loops_are_bounded(h: Harness) -> None:
    h.flow(
        {
            "a": {"type": "play", "prompt": "comfort", "next": "b"},
            "b": {"type": "set", "values": {"x": 1}, "next": "a"},
        },
        "a",
    )
    s = await h.run(h.session())
    assert s.notes["flow_error"] == "step_limit"
    assert s.played().count("ja/comfort") == 50
    assert s.played()[-1] == "ja/service_unavailable"
    assert s.log[-1] == ("hangup", "16")
    assert h.events[-1].data == {
        "call_id": s.call_id,
        "flow_id": "flow-1",
        "version": 1,
        "steps": 101,
        "outcome": "step_limit",
    }


async def test_ivr_repeat_loops_are_bounded_too(h: Harness) -> None:
    ivr_flow(h)
    s = await h.run(h.session(digits=["9"] * 500))
    assert s.notes["flow_error"] == "step_limit"


async def test_caller_hanging_up_mid_menu_ends_the_flow(h: Harness) -> None:
    ivr_flow(h)
    s = h.session(digits=[])
    task = h.call(s)
    await h.until(lambda: "ja/welcome" in s.played())
    s.caller_hangs_up()
    await task
    assert "hangup" not in s.ops()
    assert h.events[-1].data["outcome"] == "caller_gone"


async def test_callback_node_keeps_a_place(h: Harness) -> None:
    h.queue("q")
    h.flow({"cb": {"type": "callback", "queue": "q", "next": "end"}, "end": END}, "cb")
    s = await h.run(h.session())
    assert s.played() == ["ja/callback_confirmed"]
    assert s.notes["callback"] == "kept"
    view = h.acd.engine.call(T, s.call_id)
    assert view.callback and view.state == "waiting"
    assert [c.number for c in h.acd.callbacks(T)] == ["+819012345678"]


async def test_a_kept_callback_survives_a_later_queue_node(h: Harness) -> None:
    h.queue("q")
    h.flow(
        {
            "cb": {"type": "callback", "queue": "q", "next": "again"},
            "again": {"type": "queue", "queue": "q", "next": "end"},
            "end": END,
        },
        "cb",
    )
    s = await h.run(h.session())
    assert s.notes["callback"] == "kept"
    assert h.acd.engine.call(T, s.call_id).callback  # still waiting for its callback


async def test_callback_node_refuses_withheld_numbers(h: Harness) -> None:
    h.queue("q")
    h.flow(
        {
            "cb": {"type": "callback", "queue": "q", "next": "vm"},
            "vm": {"type": "voicemail"},
        },
        "cb",
    )
    s = await h.run(h.session(caller=CallerIdentity(None, Withheld.PAYPHONE)))
    assert s.notes["callback"] == "unavailable" and "record" in s.ops()


async def test_queue_node_answered_by_an_agent(h: Harness, tmp_path: Path) -> None:
    h.queue("q", wrap_up_seconds=30)
    h.agent("a1")
    await h.login("a1")
    h.flow({"q": {"type": "queue", "queue": "q", "next": "end"}, "end": END}, "q")
    s = h.session()
    task = h.call(s)
    await h.until(lambda: "a1" in h.phones.talking)
    assert h.state("a1") == "on_call"
    assert s.notes["queue"] == "q" and s.notes["agent"] == "a1"
    h.phones.hang_up("a1")
    await task
    assert h.state("a1") == "wrap_up"
    assert s.log[-1] == ("hangup", "16")
    assert finished(h)["outcome"] == "answered"
    await h.acd.drain()
    assert "queue.call_ended" in h.types()


async def test_queue_that_does_not_exist_goes_to_next(h: Harness) -> None:
    h.flow({"q": {"type": "queue", "queue": "nope", "next": "end"}, "end": END}, "q")
    s = await h.run(h.session())
    assert s.ops() == ["answer", "hangup"]
    assert s.called == NUMBER
