"""Property tests: random sequences of ACD events against the routing promises.

The state machine drives the engine with logins, breaks, calls, answers, failed offers,
hang-ups, lost connections and the passing of time, and after every step checks, with the
test's own reading of the rules (needs computed from the queue settings and elapsed time):

- an offer only goes to an agent who was free and is eligible for the call;
- no caller waits while an eligible agent is available (nobody is starved by idleness);
- the longest-idle eligible agent gets a new caller; an agent who becomes free gets the
  best-ranked caller across all of their queues (fairness);
- states, counts, positions and seats stay consistent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from koe.core.clock import FrozenClock
from koe.core.errors import KoeError, NotFound
from koe.routing.actions import Action, Offer
from koe.routing.engine import RoutingEngine
from koe.routing.model import EscalationStep, Need, QueueConfig
from koe.routing.views import AgentView, CallView

T = "t"
SKILLS = ("a", "b", "c")
AGENTS = tuple(f"a{i}" for i in range(6))
SEATS = 5
CALL_TRIGGERED = {"call_arrived", "requeued", "escalated", "reconfigured"}

skills_st = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3)


class CallInfo:
    """What the test knows of a call it queued."""

    def __init__(self, queue_id: str, extra: dict[str, int], prio: int, seq: int, at: float):
        self.queue_id = queue_id
        self.extra = extra
        self.prio = prio
        self.seq = seq
        self.entered = at


class AcdMachine(RuleBasedStateMachine):
    """The ACD under random events."""

    calls = Bundle("calls")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
        self.engine = RoutingEngine(self.clock, presence_timeout=None, explain_limit=3)
        self.engine.set_seat_limit(T, SEATS)
        self.skills: dict[str, dict[str, int]] = {}
        self.info: dict[str, CallInfo] = {}
        self.configs: dict[str, QueueConfig] = {}
        self.seq = 0
        self.idle_since: dict[str, datetime] = {}

    # ---- set-up ----

    @initialize(
        levels=st.tuples(*[st.integers(1, 5)] * 3),
        prios=st.tuples(*[st.integers(3, 7)] * 3),
        lower=st.integers(0, 3),
        wrap=st.sampled_from([0.0, 10.0]),
    )
    def setup(
        self, levels: tuple[int, ...], prios: tuple[int, ...], lower: int, wrap: float
    ) -> None:
        la, lb, lc = levels
        configs = [
            QueueConfig(
                "q0",
                need=Need.all_of({"a": la}),
                priority=prios[0],
                wrap_up_seconds=wrap,
                ring_timeout_seconds=15,
                max_wait_seconds=120,
                escalation=(EscalationStep(30, lower_levels_by=lower, raise_priority_by=1),),
            ),
            QueueConfig(
                "q1",
                need=Need.any_of({"b": lb}, {"c": lc}),
                priority=prios[1],
                wrap_up_seconds=wrap,
                ring_timeout_seconds=15,
                max_wait_seconds=None,
                escalation=(
                    EscalationStep(20, drop_skills=("b",)),
                    EscalationStep(50, replace=Need.all_of({"a": 1})),
                ),
            ),
            QueueConfig(
                "q2",
                priority=prios[2],
                wrap_up_seconds=wrap,
                ring_timeout_seconds=15,
                max_wait_seconds=None,
            ),
        ]
        for config in configs:
            self.configs[config.queue_id] = config
            self.engine.configure_queue(T, config)

    # ---- the test's reading of the rules ----

    def now(self) -> float:
        return self.clock.now().timestamp()

    def need(self, call_id: str) -> tuple[Need, int]:
        """What the call needs now and its priority boost, from settings and elapsed time."""
        info = self.info[call_id]
        cfg = self.configs[info.queue_id]
        waited = self.now() - info.entered
        step = sum(1 for s in cfg.escalation if waited >= s.after_seconds)
        return cfg.need_at_step(cfg.need.combined(info.extra), step)

    def rank(self, call_id: str) -> tuple[int, int, int]:
        info = self.info[call_id]
        _, boost = self.need(call_id)
        return (-self.configs[info.queue_id].priority, -(info.prio + boost), info.seq)

    def agents(self) -> dict[str, AgentView]:
        return {v.agent_id: v for v in self.engine.agents(T)}

    def live_calls(self) -> dict[str, CallView]:
        out = {}
        for call_id in self.info:
            with contextlib.suppress(NotFound):
                out[call_id] = self.engine.call(T, call_id)
        return out

    # ---- running one event and checking what it did ----

    def run(self, method: str, *args: Any, agent_freed: str | None = None, **kw: Any) -> None:
        before_agents = self.agents()
        before_calls = self.live_calls()
        try:
            fn = getattr(self.engine, method)
            out: list[Action] = fn() if method == "tick" else fn(T, *args, **kw)
        except KoeError:
            assert self.agents() == before_agents  # a refused event changes nothing
            return
        self.engine.take_events()
        after_agents = self.agents()
        self.check_offers(out, before_agents, before_calls, after_agents, agent_freed)
        for offer in out:
            if isinstance(offer, Offer):
                was = before_agents.get(offer.agent_id)
                if was is None or was.state not in ("available", "reserved"):
                    # Became available in this event and was offered a call at once.
                    self.idle_since[offer.agent_id] = self.clock.now()
        for agent_id, view in after_agents.items():
            was = before_agents.get(agent_id)
            if view.state == "available" and (was is None or was.state != "available"):
                if was is not None and was.state == "reserved" and method == "abandon":
                    assert view.idle_since == self.idle_since[agent_id]  # keeps its rank
                else:
                    assert view.idle_since == self.clock.now()
                    self.idle_since[agent_id] = self.clock.now()
            if view.state == "available" and was is not None and was.state == "available":
                assert view.idle_since == was.idle_since

    def check_offers(
        self,
        out: list[Action],
        before: Mapping[str, AgentView],
        calls_before: Mapping[str, CallView],
        after: Mapping[str, AgentView],
        agent_freed: str | None,
    ) -> None:
        offers = [a for a in out if isinstance(a, Offer)]
        assert len({o.agent_id for o in offers}) == len(offers)
        for offer in offers:
            agent_id, call_id = offer.agent_id, offer.call_id
            need, _ = self.need(call_id)
            # Eligible, by the test's own reading of skills, levels and escalation.
            assert need.satisfied_by(self.skills[agent_id]), (call_id, agent_id, need)
            decision = self.engine.explain(T, call_id)[-1]
            assert decision.agent_id == agent_id
            assert decision.need == str(need)
            # Free: available before, or freed by this very event.
            was = before.get(agent_id)
            free_before = was is not None and was.state == "available"
            freed_now = agent_id == agent_freed or (
                was is not None and was.state in ("wrap_up", "on_call", "reserved")
            )
            assert free_before or freed_now or was is None, (agent_id, was)
            if decision.trigger in CALL_TRIGGERED and free_before and was is not None:
                # Longest idle: nobody eligible who stayed available was idle for longer.
                for other_id, other in before.items():
                    still = after.get(other_id)
                    if (
                        other.state == "available"
                        and still is not None
                        and still.state == "available"
                        and need.satisfied_by(self.skills[other_id])
                    ):
                        assert other.idle_since is not None and was.idle_since is not None
                        assert was.idle_since <= other.idle_since, (agent_id, other_id)
            if decision.trigger == "agent_available" and len(offers) == 1:
                # Fairness: the best-ranked waiting call the agent may take, across queues.
                mine = self.rank(call_id)
                for other_id, view in calls_before.items():
                    if view.state == "waiting" and other_id != call_id:
                        other_need, _ = self.need(other_id)
                        if other_need.satisfied_by(self.skills[agent_id]):
                            assert mine < self.rank(other_id), (call_id, other_id)

    # ---- rules ----

    @rule(agent=st.sampled_from(AGENTS), skills=skills_st, ready=st.booleans())
    def login(self, agent: str, skills: dict[str, int], ready: bool) -> None:
        if agent not in self.agents():
            self.skills[agent] = skills
        self.run("login", agent, skills, ready=ready, agent_freed=agent)

    @rule(agent=st.sampled_from(AGENTS))
    def logout(self, agent: str) -> None:
        self.run("logout", agent)

    @rule(agent=st.sampled_from(AGENTS))
    def lose_connection(self, agent: str) -> None:
        self.run("connection_lost", agent)

    @rule(agent=st.sampled_from(AGENTS))
    def take_a_break(self, agent: str) -> None:
        self.run("start_break", agent, "coffee")

    @rule(agent=st.sampled_from(AGENTS))
    def get_ready(self, agent: str) -> None:
        self.run("ready", agent, agent_freed=agent)

    @rule(agent=st.sampled_from(AGENTS), skills=skills_st)
    def change_skills(self, agent: str, skills: dict[str, int]) -> None:
        if agent in self.agents():
            self.skills[agent] = skills
        self.run("update_skills", agent, skills, agent_freed=agent)

    @rule(
        target=calls,
        queue=st.sampled_from(["q0", "q1", "q2"]),
        prio=st.integers(0, 2),
        extra=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=1),
    )
    def new_call(self, queue: str, prio: int, extra: dict[str, int]) -> str:
        self.seq += 1
        call_id = f"c{self.seq}"
        self.info[call_id] = CallInfo(queue, extra, prio, self.seq, self.now())
        self.run("enqueue", call_id, queue, priority=prio, skills=extra)
        return call_id

    @rule(call=calls)
    def answer(self, call: str) -> None:
        self.run("answered", call)

    @rule(call=calls, reason=st.sampled_from(["no_answer", "rejected", "unreachable"]))
    def fail_offer(self, call: str, reason: str) -> None:
        self.run("offer_failed", call, reason)

    @rule(call=calls)
    def abandon(self, call: str) -> None:
        self.run("abandon", call)

    @rule(call=calls)
    def hang_up(self, call: str) -> None:
        self.run("call_ended", call)

    @rule(call=calls)
    def callback(self, call: str) -> None:
        self.run("request_callback", call)

    @rule(agent=st.sampled_from(AGENTS), seconds=st.sampled_from([5.0, 30.0]))
    def more_wrap_up(self, agent: str, seconds: float) -> None:
        self.run("extend_wrap_up", agent, seconds)

    @rule(call=calls)
    def hold(self, call: str) -> None:
        self.run("hold", call)

    @rule(call=calls)
    def resume(self, call: str) -> None:
        self.run("resume", call)

    @rule(level=st.integers(1, 5), priority=st.integers(3, 7), lower=st.integers(0, 3))
    def reconfigure(self, level: int, priority: int, lower: int) -> None:
        old = self.configs["q0"]
        step = EscalationStep(30, lower_levels_by=lower, raise_priority_by=1)
        new = QueueConfig(
            "q0",
            need=Need.all_of({"a": level}),
            priority=priority,
            wrap_up_seconds=old.wrap_up_seconds,
            ring_timeout_seconds=15,
            max_wait_seconds=120,
            escalation=(step,),
        )
        self.configs["q0"] = new
        before = self.agents()
        calls_before = self.live_calls()
        out = self.engine.configure_queue(T, new)
        self.engine.take_events()
        self.check_offers(out, before, calls_before, self.agents(), None)

    @rule(seconds=st.sampled_from([1, 5, 10, 16, 31, 60]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.run("tick")

    # ---- invariants ----

    @invariant()
    def nobody_waits_while_an_eligible_agent_is_free(self) -> None:
        agents = self.agents()
        free = [a for a, v in agents.items() if v.state == "available"]
        for call_id, view in self.live_calls().items():
            if view.state == "waiting":
                need, _ = self.need(call_id)
                assert view.need == str(need)
                for agent_id in free:
                    assert not need.satisfied_by(self.skills[agent_id]), (call_id, agent_id)

    @invariant()
    def agents_and_calls_agree(self) -> None:
        agents = self.agents()
        calls = self.live_calls()
        for agent_id, view in agents.items():
            if view.state in ("reserved", "on_call"):
                assert view.call_id is not None
                call = calls[view.call_id]
                assert call.agent_id == agent_id
                assert call.state == ("offered" if view.state == "reserved" else "connected")
            elif view.state in ("available", "break", "no_answer"):
                assert view.call_id is None
        for call_id, call in calls.items():
            if call.state in ("offered", "connected"):
                assert call.agent_id is not None
                assert agents[call.agent_id].call_id == call_id
            else:
                assert call.agent_id is None

    @invariant()
    def queue_figures_agree(self) -> None:
        agents = self.agents()
        calls = self.live_calls()
        for queue_id, cfg in self.configs.items():
            fig = self.engine.realtime(T, queue_id)
            expected: dict[str, int] = dict.fromkeys(fig.agents, 0)
            for view in agents.values():
                if cfg.need.satisfied_by(self.skills[view.agent_id]):
                    expected[view.state] += 1
            assert fig.agents == expected
            waiting = sorted(
                (c for c in calls.values() if c.queue_id == queue_id and c.state == "waiting"),
                key=lambda c: c.position or 0,
            )
            assert [c.position for c in waiting] == list(range(1, len(waiting) + 1))
            assert [self.rank(c.call_id) for c in waiting] == sorted(
                self.rank(c.call_id) for c in waiting
            )
            assert fig.waiting + fig.callbacks >= len(waiting)

    @invariant()
    def seats_hold(self) -> None:
        n = len(self.agents())
        assert n <= SEATS
        assert self.engine.seats.in_use(T) == n


AcdMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAcd = AcdMachine.TestCase


# ---- a served queue: every caller is answered, in order, within a bound ----


@settings(max_examples=40, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.sampled_from(["q0", "q1"]), st.integers(0, 20)), min_size=1, max_size=30
    ),
    handle=st.integers(10, 120),
    n_agents=st.integers(1, 4),
)
def test_every_caller_is_answered_in_arrival_order(
    arrivals: list[tuple[str, int]], handle: int, n_agents: int
) -> None:
    """With agents who take every call, nobody is starved and nobody is overtaken.

    Two queues of equal priority, agents who hold both skills: calls are answered in the
    order they arrived, across the queues, each within (calls ahead / agents + 1) handle
    times plus the ring and wrap-up overheads.
    """
    clock = FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    engine = RoutingEngine(clock, presence_timeout=None)
    engine.set_seat_limit(T, 10)
    for queue_id, skill in (("q0", "a"), ("q1", "b")):
        cfg = QueueConfig(
            queue_id, need=Need.all_of({skill: 1}), wrap_up_seconds=5, max_wait_seconds=None
        )
        engine.configure_queue(T, cfg)
    for i in range(n_agents):
        engine.login(T, f"a{i}", {"a": 1, "b": 1})
    pending = []
    t = 0
    for i, (queue, gap) in enumerate(arrivals):
        t += gap
        pending.append((t, f"c{i}", queue))
    answered: list[tuple[str, float]] = []
    ends: dict[str, float] = {}
    arrived: dict[str, float] = {}
    start = clock.now()
    for second in range(t + len(arrivals) * (handle + 10) + 60):
        clock.set(start + timedelta(seconds=second))
        out = list(engine.tick())
        for call_id, end in list(ends.items()):
            if end <= second:
                del ends[call_id]
                out += engine.call_ended(T, call_id)
        while pending and pending[0][0] <= second:
            _, call_id, queue = pending.pop(0)
            arrived[call_id] = second
            out += engine.enqueue(T, call_id, queue)
        for action in out:
            if isinstance(action, Offer):
                engine.answered(T, action.call_id)
                answered.append((action.call_id, second))
                ends[action.call_id] = second + handle
    order = [c for c, _ in answered]
    assert sorted(order, key=lambda c: int(c[1:])) == order
    assert len(order) == len(arrivals)
    for n, (call_id, at) in enumerate(answered):
        ahead = n  # everyone answered before arrived before
        bound = (ahead // n_agents + 1) * (handle + 6)
        assert at - arrived[call_id] <= bound


def test_machine_runs_one_known_sequence() -> None:
    """A fixed walk through the machine, so the rules above are seen to do something."""
    m = AcdMachine()
    m.setup(levels=(1, 1, 1), prios=(5, 5, 5), lower=1, wrap=10.0)
    m.login("a0", {"a": 2, "b": 2}, True)
    c1 = m.new_call("q0", 0, {})
    c2 = m.new_call("q1", 0, {})
    assert m.engine.call(T, c1).state == "offered"
    assert m.engine.call(T, c2).state == "waiting"
    m.fail_offer(c1, "no_answer")
    m.get_ready("a0")
    assert m.engine.call(T, c1).agent_id == "a0"  # back at its place, ahead of c2
    m.answer(c1)
    m.hang_up(c1)
    m.time_passes(10)
    assert m.engine.call(T, c2).agent_id == "a0"
    for check in (
        m.nobody_waits_while_an_eligible_agent_is_free,
        m.agents_and_calls_agree,
        m.queue_figures_agree,
        m.seats_hold,
    ):
        check()


@pytest.mark.parametrize("seed", [1, 2])
def test_idle_order_survives_many_cycles(seed: int) -> None:
    """Agents cycle through calls; each new caller still goes to the longest idle."""
    import random

    rng = random.Random(seed)
    clock = FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    engine = RoutingEngine(clock, presence_timeout=None)
    engine.set_seat_limit(T, 20)
    engine.configure_queue(T, QueueConfig("q", wrap_up_seconds=0))
    for i in range(8):
        engine.login(T, f"a{i}", {})
        clock.advance(timedelta(seconds=1))
    for n in range(200):
        clock.advance(timedelta(seconds=rng.randint(0, 3)))
        free = sorted(
            (v for v in engine.agents(T) if v.state == "available"),
            key=lambda v: (v.idle_since, v.agent_id),
        )
        out = engine.enqueue(T, f"c{n}", "q")
        offers = [a for a in out if isinstance(a, Offer)]
        if free:
            chosen = next(v for v in free if v.agent_id == offers[0].agent_id)
            assert chosen.idle_since == free[0].idle_since  # ties: either of the longest idle
            engine.answered(T, offers[0].call_id)
            if rng.random() < 0.7:
                engine.call_ended(T, offers[0].call_id)
        else:
            engine.abandon(T, f"c{n}")
        for v in engine.agents(T):
            if v.state == "on_call" and v.call_id and rng.random() < 0.3:
                engine.call_ended(T, v.call_id)
