"""Properties: any flow that validates runs to an end within its step limit, whatever the
caller presses; a broken flow is refused naming the node; calendars and queue options."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jpholiday
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koe.core.errors import ValidationFailed
from koe.flows import events as fev
from koe.flows.hours import Calendar, HoursStatus
from koe.flows.queues import queue_config
from koe.media.prompts import CATALOG
from koe.routing.model import OverflowTarget, TargetKind
from koe.tenancy.flowdoc import NODE_TYPES, validate_flow
from koe.tenancy.templates import TEMPLATES, build_ivr
from tests.flows.conftest import WEEKDAYS_9_18, Harness
from tests.flows.fakes import FakeSession

MAX_STEPS = 30
PROMPTS = st.one_of(
    st.sampled_from(sorted(CATALOG)),
    st.builds(lambda t: {"ja": t, "en": t}, st.text(max_size=5)),
)
DIGITS = st.lists(st.one_of(st.none(), st.text(alphabet="0123456789*#", max_size=4)), max_size=8)


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    """A flow document that validates: every node type, edges to existing nodes."""
    count = draw(st.integers(1, 10))
    ids = [f"n{i}" for i in range(count)]
    edge = st.sampled_from(ids)
    nodes: dict[str, Any] = {}
    for node_id in ids:
        kind = draw(st.sampled_from(sorted(NODE_TYPES)))
        node: dict[str, Any] = {"type": kind}
        if kind == "business_hours":
            node |= {"calendar": "cal", "open": draw(edge), "closed": draw(edge)}
            if draw(st.booleans()):
                node["holiday"] = draw(edge)
        elif kind == "ivr_menu":
            node["ivr"] = draw(st.sampled_from(["ivr-menu", "ivr-tpl"]))
        elif kind == "menu_route":
            keys = draw(st.lists(st.sampled_from("0123456789*#"), max_size=4, unique=True))
            node |= {"routes": {k: draw(edge) for k in keys}, "default": draw(edge)}
            if draw(st.booleans()):
                node["prompt"] = draw(PROMPTS)
            else:
                node["variable"] = draw(st.sampled_from(["v", "last_input", "missing"]))
        elif kind == "play":
            node |= {"prompt": draw(PROMPTS), "barge_in": draw(st.booleans())}
        elif kind == "gather":
            low = draw(st.integers(0, 4))
            node |= {
                "variable": "v",
                "min_digits": low,
                "max_digits": draw(st.integers(max(low, 1), 8)),
                "retries": draw(st.integers(0, 3)),
            }
        elif kind == "set":
            node["values"] = draw(
                st.dictionaries(
                    st.sampled_from(["v", "language", "priority", "tier"]),
                    st.one_of(st.sampled_from(["ja", "en", "1"]), st.integers(-5, 5)),
                    max_size=3,
                )
            )
        elif kind in ("queue", "callback"):
            node["queue"] = draw(st.sampled_from(["q", "q-gone"]))
        elif kind == "transfer":
            node["number"] = draw(st.sampled_from(["03-1111-2222", "0120-000-000", "bogus"]))
        elif kind == "hangup" and draw(st.booleans()):
            node["prompt"] = draw(PROMPTS)
        if kind not in ("business_hours", "menu_route", "hangup") and draw(st.booleans()):
            node["next"] = draw(edge)
        nodes[node_id] = node
    return {"start": draw(edge), "nodes": nodes}


def harness(tmp: Path) -> Harness:
    h = Harness(tmp)
    h.engine.max_steps = MAX_STEPS
    # Nobody staffed: callers overflow at entry (no estimate), so queue nodes end at once.
    h.queue("q", overflow_ewt_seconds=60, overflow_target=OverflowTarget(TargetKind.HANGUP))
    h.trunk.behaviour["+81311112222"] = "answer_and_end"
    h.trunk.behaviour["+81120000000"] = "busy"
    return h


async def run_flow(tmp: Path, document: dict[str, Any], digits: list[str | None]) -> None:
    h = harness(tmp)
    try:
        h.flow(
            document["nodes"],
            document["start"],
            ivrs={
                "ivr-menu": {
                    "prompt": {"ja": "メニュー", "en": "Menu"},
                    "choices": {"1": {"action": "queue", "queue": "q"}, "2": {"action": "repeat"}},
                    "retries": 1,
                    "default": {"action": "hangup"},
                },
                "ivr-tpl": build_ivr("support_callback", ["q"], "声"),
            },
            calendars={"cal": {"weekly": WEEKDAYS_9_18}},
        )
        session = FakeSession(
            "tenant-a",
            "+81312345678",
            digits=digits,
            phones=h.phones,
            trunk=h.trunk,
            scale=1e-5,
        )
        await asyncio.wait_for(h.engine.handle(session), 5)
        assert session.gone.is_set(), session.log  # every call ends hung up
        finished = [e for e in h.events if e.type == fev.FLOW_FINISHED]
        assert len(finished) == 1
        assert finished[0].data["steps"] <= MAX_STEPS + 1
        if finished[0].data["outcome"] == "step_limit":
            assert session.notes["flow_error"] == "step_limit"
    finally:
        await h.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=flows(), digits=DIGITS)
def test_any_valid_flow_ends_within_its_step_limit(
    tmp_path: Path, document: dict[str, Any], digits: list[str | None]
) -> None:
    refs = validate_flow(document)
    assert set(refs) <= {"hours", "ivrs", "queues"}
    asyncio.run(run_flow(tmp_path, document, digits))


@st.composite
def broken(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    """A valid flow with one node broken: (document, node id, expected error code)."""
    document = draw(flows())
    node_id = draw(st.sampled_from(sorted(document["nodes"])))
    node = document["nodes"][node_id]
    how = draw(st.sampled_from(["type", "field", "edge"]))
    required, edges, _ = NODE_TYPES[node["type"]]
    if how == "type":
        node["type"] = draw(st.sampled_from(["menu", "Queue", "dial", ""]))
        return document, node_id, "flow_node_type"
    if how == "field" and required:
        del node[draw(st.sampled_from(required))]
        return document, node_id, "flow_node_field"
    node["next" if "next" in edges else edges[0] if edges else "next"] = "nowhere"
    if not edges:
        node["type"] = "play"
        node.setdefault("prompt", "welcome")
    return document, node_id, "flow_dangling_edge"


@given(case=broken())
def test_a_broken_flow_is_refused_naming_the_node(case: tuple[dict[str, Any], str, str]) -> None:
    document, node_id, code = case
    with pytest.raises(ValidationFailed) as err:
        validate_flow(document)
    assert (f"nodes.{node_id}", code) in {(f.field, f.code) for f in err.value.fields}


@given(start=st.text(max_size=3).filter(lambda s: s not in ("n0",)))
def test_a_missing_start_is_refused(start: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_flow({"start": start, "nodes": {"n0": {"type": "hangup"}}})
    assert err.value.fields[0].code == "flow_start_missing"


@given(
    moment=st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001 (hypothesis adds the zone)
        max_value=datetime(2030, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    holidays_closed=st.booleans(),
)
def test_calendar_agrees_with_jpholiday_and_the_week(
    moment: datetime, holidays_closed: bool
) -> None:
    calendar = Calendar.from_row(
        {"weekly": WEEKDAYS_9_18, "closed_on_public_holidays": holidays_closed}
    )
    check = calendar.check(moment)
    local = moment + timedelta(hours=9)
    day: date = local.date()
    in_hours = local.weekday() < 5 and 9 <= local.hour < 18
    if holidays_closed and jpholiday.is_holiday(day):
        assert check.status is HoursStatus.HOLIDAY
    else:
        assert check.open == in_hours
    assert check.local.utcoffset() == timedelta(hours=9)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 1000) | st.floats(-1, 1e4) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
OPTION = st.sampled_from(
    [
        "escalation",
        "overflow",
        "ring_timeout_seconds",
        "overflow_ewt_seconds",
        "announce_every_seconds",
        "announce_position",
        "callback_offer_after_seconds",
        "unknown",
    ]
)


@given(routing=st.dictionaries(OPTION, JSON, max_size=4))
def test_queue_options_validate_or_name_the_field(routing: dict[str, Any]) -> None:
    outcome: Any
    try:
        outcome = queue_config({"id": "q", "routing": routing})
    except ValidationFailed as err:
        outcome = err
    if isinstance(outcome, ValidationFailed):
        assert outcome.code == "invalid_queue_routing"
        assert outcome.fields and outcome.fields[0].field.startswith("routing")
    else:
        assert outcome.queue_id == "q"


def test_templates_build_flows_that_validate() -> None:
    for template in TEMPLATES:
        ivr = build_ivr(template, ["q1", "q2"], "声")
        assert ivr["default"]["action"] in ("queue", "voicemail")
