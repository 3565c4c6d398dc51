"""Needs, escalation steps, queue settings, timers and the idle index, against brute force."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koe.core.errors import ValidationFailed
from koe.routing.agents import AgentRecord
from koe.routing.index import IdleIndex
from koe.routing.model import (
    EscalationStep,
    Need,
    QueueConfig,
    check_reason,
    skills_from_rows,
)
from koe.routing.timers import Timers

SKILLS = ["en", "ja", "billing", "vip"]
skills_st = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=4)
alternative_st = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=3)
need_st = st.lists(alternative_st, min_size=1, max_size=3).map(lambda alts: Need.any_of(*alts))


def test_need_basics() -> None:
    need = Need.all_of({"en": 3, "billing": 2})
    assert need.satisfied_by({"en": 3, "billing": 2, "ja": 1})
    assert not need.satisfied_by({"en": 9})
    assert str(need) == "billing>=2 and en>=3"
    assert Need.any_agent().satisfied_by({})
    assert str(Need.any_agent()) == "any agent"
    assert not Need(()).satisfied_by({"en": 10})
    assert str(Need(())) == "nobody"
    either = Need.any_of({"en": 5}, {"ja": 5})
    assert str(either) == "(en>=5) or (ja>=5)"
    assert either.skills() == {"en", "ja"}


def test_need_is_hashable_and_immutable() -> None:
    a, b = Need.all_of({"en": 3}), Need.all_of({"en": 3})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Need.all_of({"en": 4})
    assert a != "en>=3"
    with pytest.raises(AttributeError):
        a.alternatives = ()  # type: ignore[misc]
    assert repr(a) == "Need(((('en', 3),),))"


def test_need_transformations() -> None:
    need = Need.all_of({"en": 5, "billing": 2})
    assert need.lowered(3) == Need.all_of({"en": 2, "billing": 1})
    assert need.lowered(0) is need
    assert need.without(["billing"]) == Need.all_of({"en": 5})
    assert need.combined({"en": 7, "vip": 1}) == Need.all_of({"en": 7, "billing": 2, "vip": 1})
    assert need.combined({"en": 1}) == need
    assert need.widened([(("ja", 5),)]) == Need.any_of({"en": 5, "billing": 2}, {"ja": 5})


def test_need_from_store_rows() -> None:
    rows = [{"skill_id": "en", "min_level": 3}, {"skill_id": "ja"}]
    assert Need.from_rows(rows) == Need.all_of({"en": 3, "ja": 1})
    with pytest.raises(ValidationFailed):
        Need.from_rows([{"skill_id": "en", "min_level": 0}])
    assert skills_from_rows([{"skill_id": "en", "level": 4}]) == {"en": 4}
    with pytest.raises(ValidationFailed):
        skills_from_rows([{"skill_id": "en", "level": 12}])
    with pytest.raises(ValidationFailed):
        Need.any_of()


def test_escalation_step_order_of_operations() -> None:
    step = EscalationStep(
        20,
        replace=Need.all_of({"en": 6, "billing": 4}),
        lower_levels_by=2,
        drop_skills=("billing",),
        also_accept=((("general", 1),),),
    )
    assert step.apply(Need.any_agent()) == Need.any_of({"en": 4}, {"general": 1})
    config = QueueConfig("q", escalation=(EscalationStep(10, raise_priority_by=2), step))
    base = Need.all_of({"x": 1})
    assert config.need_at_step(base, 0) == (base, 0)
    assert config.need_at_step(base, 1) == (base, 2)
    assert config.need_at_step(base, 2)[0] == Need.any_of({"en": 4}, {"general": 1})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"wrap_up_seconds": -1},
        {"max_wait_seconds": 0},
        {"ring_timeout_seconds": float("nan")},
        {"max_length": 0},
        {"announce_every_seconds": 0},
        {"default_handle_seconds": 0},
        {"escalation": (EscalationStep(0),)},
    ],
)
def test_queue_settings_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as err:
        QueueConfig("q", **kwargs)  # type: ignore[arg-type]
    assert err.value.code == "routing_invalid"
    assert err.value.message_ja.startswith("ルーティング設定が正しくありません")


def test_queue_id_is_required() -> None:
    with pytest.raises(ValidationFailed):
        QueueConfig("")


def test_reason_codes() -> None:
    assert check_reason(" lunch ") == "lunch"
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(ValidationFailed):
            check_reason(bad)


@given(need=need_st, skills=skills_st)
def test_satisfied_by_matches_the_definition(need: Need, skills: dict[str, int]) -> None:
    expected = any(all(skills.get(s, 0) >= lv for s, lv in alt) for alt in need.alternatives)
    assert need.satisfied_by(skills) is expected


@given(need=need_st, skills=skills_st, by=st.integers(0, 9))
def test_relaxing_a_need_never_loses_an_agent(need: Need, skills: dict[str, int], by: int) -> None:
    if need.satisfied_by(skills):
        assert need.lowered(by).satisfied_by(skills)
        assert need.without(["en"]).satisfied_by(skills)
        assert need.widened([(("ja", 1),)]).satisfied_by(skills)


@settings(max_examples=60)
@given(
    agents=st.lists(skills_st, max_size=25),
    removed=st.sets(st.integers(0, 24)),
    need=need_st,
)
def test_idle_index_agrees_with_brute_force(
    agents: list[dict[str, int]], removed: set[int], need: Need
) -> None:
    index = IdleIndex()
    records = []
    for i, skills in enumerate(agents):
        a = AgentRecord("t", f"a{i}", skills, 0.0)
        a.idle_ticket = (i * 7919) % 1000 + i * 1000  # unique, not insertion ordered
        records.append(a)
        index.add(a)
    for i in removed:
        if i < len(records):
            index.remove(records[i])
    live = [a for i, a in enumerate(records) if i not in removed]
    expected = sorted((a for a in live if need.satisfied_by(a.skills)), key=lambda a: a.idle_ticket)
    assert list(index.eligible(need)) == expected
    assert index.first(need) is (expected[0] if expected else None)
    for k in (1, 3, 12):
        assert index.top(need, k) == expected[:k]
    count = index.count(need)
    assert count is None or count == len(expected)
    assert len(index) == len(live)
    assert all((a in index) == (i not in removed) for i, a in enumerate(records))


@given(
    delays=st.lists(
        st.tuples(st.sampled_from([5.0, 10.0, 30.0]), st.floats(0, 50), st.booleans()),
        max_size=40,
    )
)
def test_timers_come_due_in_deadline_order(delays: list[tuple[float, float, bool]]) -> None:
    timers = Timers()
    now = 0.0
    expected = []
    for n, (delay, step, absolute) in enumerate(delays):
        now += step / 10
        if absolute:
            timers.at(now + delay - step, 0, "t", str(n), n)
            expected.append((now + delay - step, n))
        else:
            timers.after(now, delay, 0, "t", str(n), n)
            expected.append((now + delay, n))
    assert len(timers) == len(expected)
    expected.sort()
    if expected:
        assert timers.next_deadline() == expected[0][0]
    got = [(e[0], e[5]) for e in timers.due(expected[len(expected) // 2][0] if expected else 0)]
    while (entry := timers.pop(float("inf"))) is not None:
        got.append((entry[0], entry[5]))
    assert got == expected
    assert timers.next_deadline() is None


def test_timers_going_back_in_time_stay_ordered() -> None:
    timers = Timers()
    timers.after(100.0, 10.0, 0, "t", "late", 1)
    timers.after(50.0, 10.0, 0, "t", "early", 2)  # the clock went back: heap
    assert [e[4] for e in timers.due(200.0)] == ["early", "late"]
