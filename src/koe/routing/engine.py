"""The ACD engine: agents, queues and calls of many tenants, driven by the caller's events.

Pure and deterministic: no I/O, no tasks, no threads. Time comes from the injected clock.
The call-control layer calls a method for each thing that happens (a call enters a queue,
an agent's phone answers, a caller hangs up, an agent goes on break) and carries out the
:mod:`~koe.routing.actions` each method returns (ring this agent, send that caller to
voicemail, play a comfort message). Timers (ring timeout, after-call work, escalation,
overflow, announcements, lost agents) are due at :meth:`RoutingEngine.next_deadline`;
call :meth:`RoutingEngine.tick` then. Events for every change wait in an outbox
(:meth:`RoutingEngine.take_events`) for the caller to publish after it has acted.

Routing is eager: after every method, no available agent is eligible for a waiting call.
So a new call only looks for an available agent (the longest idle among the eligible),
and an agent who becomes available only looks for a waiting call (the best ranked among
those they are eligible for, across all queues: higher queue priority, then higher caller
priority, then the caller who arrived first). See docs/routing.md.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from koe.core.clock import Clock
from koe.core.events import Event
from koe.licensing.counters import ConcurrencyCounter
from koe.routing import events as ev
from koe.routing.actions import Action, AgentGone, Announce, CancelOffer, Offer, Overflow
from koe.routing.agents import (
    BUSY,
    STAFFED,
    STATE_INDEX,
    AgentEvent,
    AgentRecord,
    AgentState,
)
from koe.routing.calls import CallRecord, CallState
from koe.routing.errors import (
    agent_not_logged_in,
    call_already_queued,
    call_in_wrong_state,
    call_not_found,
    illegal_transition,
    invalid,
    queue_has_calls,
    queue_not_found,
    seats_exceeded,
    wrap_up_limit,
)
from koe.routing.explain import CallCandidate, Candidate, Decision, WhatIf
from koe.routing.index import CallGroup, IdleIndex
from koe.routing.metrics import (
    INTERVAL_SECONDS,
    WINDOWS,
    AgentTime,
    IntervalFigures,
    IntervalMap,
    accrue,
    agent_time,
    figures,
    take,
)
from koe.routing.model import (
    Need,
    OverflowTarget,
    QueueConfig,
    TargetKind,
    check_reason,
    check_skills,
)
from koe.routing.queues import QueueState
from koe.routing.timers import Entry, Timers
from koe.routing.views import AgentView, CallHints, CallView, QueueFigures

S, E = AgentState, AgentEvent
_LOGGED_OUT = STATE_INDEX[S.LOGGED_OUT]

# Empty call groups are dropped when there are this many (or 4x the live ones after a drop).
_GC_GROUPS = 4096

# Timer kinds.
_RING, _WRAP, _QUEUE, _PRESENCE, _ESCALATE = range(5)
_NEVER = float("inf")
_NO_SKILLS: Mapping[str, int] = MappingProxyType({})
_PAUSED = frozenset({S.BREAK, S.NO_ANSWER})
_by_rank = attrgetter("rank")


def _text(need: Need) -> str:
    return need.text


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True, slots=True)
class IntervalReport:
    """Completed 15-minute intervals taken out of the engine for storage.

    ``tenant`` holds agent time only (staffed, busy, occupancy of all agents).
    """

    tenant_id: str
    queues: dict[str, list[IntervalFigures]]
    agents: dict[str, list[IntervalFigures]]
    tenant: list[IntervalFigures]


class _Tenant:
    """Everything the engine holds for one tenant."""

    __slots__ = (
        "agent_intervals",
        "agents",
        "calls",
        "decisions",
        "gc_at",
        "groups",
        "groups_by_skill",
        "idle",
        "queues",
        "seat_limit",
        "seq",
        "tenant_id",
        "tickets",
    )

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.seat_limit = 0
        self.agents: dict[str, AgentRecord] = {}
        self.queues: dict[str, QueueState] = {}
        self.calls: dict[str, CallRecord] = {}
        self.idle = IdleIndex()
        self.groups: list[CallGroup] = []
        self.groups_by_skill: dict[str, list[CallGroup]] = {}
        """Groups under the first skill of each of their alternatives ("" for any agent)."""
        self.gc_at = _GC_GROUPS
        self.seq = 0
        self.tickets = 0
        self.decisions: OrderedDict[str, tuple[_Record, ...]] = OrderedDict()
        self.agent_intervals: dict[str, IntervalMap] = {}


class RoutingEngine:
    """The ACD of every tenant this node owns.

    ``seats`` counts logged-in agents per tenant (shared with whoever else needs it);
    ``presence_timeout`` is how long an agent may go without :meth:`heartbeat` before
    they leave the pool (None: only :meth:`connection_lost` removes them);
    ``explain_limit`` caps the eligible agents listed per decision; ``decision_history``
    is how many calls' decisions are kept for :meth:`explain`; ``handle_time_samples`` is
    how many recent calls per queue the AHT (and so the EWT) is taken over.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        seats: ConcurrencyCounter | None = None,
        presence_timeout: float | None = 30.0,
        explain_limit: int = 10,
        decision_history: int = 10_000,
        handle_time_samples: int = 100,
        final_target: OverflowTarget | None = None,
    ) -> None:
        if explain_limit < 1 or decision_history < 0 or handle_time_samples < 1:
            raise ValueError("explain_limit and handle_time_samples must be >= 1")
        self._clock = clock
        self.seats = seats if seats is not None else ConcurrencyCounter("seat")
        self._presence = presence_timeout
        self._explain_limit = explain_limit
        self._history = decision_history
        self._samples = handle_time_samples
        self._final = final_target or OverflowTarget(TargetKind.VOICEMAIL)
        self._tenants: dict[str, _Tenant] = {}
        self._timers = Timers()
        self._tokens = itertools.count(1)
        """Tokens for timers and heap entries, unique in the engine (a stale one never fits)."""
        self._events: list[Event] = []
        self._out: list[Action] = []
        self._now_at = clock.now()
        self.decisions_made = 0
        """Routing decisions so far: a caller offered, left waiting or sent to overflow."""

    # ---- plumbing ----

    def _begin(self) -> float:
        at = self._clock.now()
        self._now_at = at
        self._out = []
        return at.timestamp()

    def _finish(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _emit(self, tenant_id: str, type_: str, data: dict[str, Any]) -> None:
        self._events.append(Event(type_, tenant_id, self._now_at, data))

    def _tenant(self, tenant_id: str) -> _Tenant:
        t = self._tenants.get(tenant_id)
        if t is None:
            t = self._tenants[tenant_id] = _Tenant(tenant_id)
        return t

    def _agent(self, tenant_id: str, agent_id: str) -> tuple[_Tenant, AgentRecord]:
        t = self._tenants.get(tenant_id)
        a = t.agents.get(agent_id) if t is not None else None
        if t is None or a is None:
            raise agent_not_logged_in(agent_id)
        return t, a

    def _call(self, tenant_id: str, call_id: str) -> tuple[_Tenant, CallRecord]:
        t = self._tenants.get(tenant_id)
        c = t.calls.get(call_id) if t is not None else None
        if t is None or c is None:
            raise call_not_found(call_id)
        return t, c

    def _queue(self, tenant_id: str, queue_id: str) -> tuple[_Tenant, QueueState]:
        t = self._tenants.get(tenant_id)
        q = t.queues.get(queue_id) if t is not None else None
        if t is None or q is None:
            raise queue_not_found(queue_id)
        return t, q

    def take_events(self) -> list[Event]:
        """The events since the last call, oldest first (publish them, in order)."""
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> datetime | None:
        """When :meth:`tick` should run next (None: no timer is pending)."""
        deadline = self._timers.next_deadline()
        return _at(deadline) if deadline is not None else None

    # ---- tenants and queues ----

    def set_seat_limit(self, tenant_id: str, seats: int) -> None:
        """Seat licenses in force for ``tenant_id`` (R2.2); agents beyond stay logged in."""
        if seats < 0:
            raise invalid("seats", "シート数は0以上にしてください。", "seats must be >= 0.")
        self._tenant(tenant_id).seat_limit = seats

    def configure_queue(self, tenant_id: str, config: QueueConfig) -> list[Action]:
        """Add a queue or change its settings; callers in it are re-evaluated at their place."""
        now = self._begin()
        t = self._tenant(tenant_id)
        for a in t.agents.values():
            self._accrue(t, a, now)
        q = t.queues.get(config.queue_id)
        if q is None:
            q = t.queues[config.queue_id] = QueueState(config, self._samples)
            for a in t.agents.values():
                if config.need.satisfied_by(a.skills):
                    a.queues.append(q)
                    q.counts[STATE_INDEX[a.state]] += 1
        else:
            old, q.config = q.config, config
            q.steps.clear()
            q.stats.sl_seconds = config.service_level_seconds
            if old.need != config.need:
                q.counts = [0] * len(AgentState)
                for a in t.agents.values():
                    if q in a.queues:
                        a.queues.remove(q)
                    if config.need.satisfied_by(a.skills):
                        a.queues.append(q)
                        q.counts[STATE_INDEX[a.state]] += 1
            waiting = []
            for call in list(q.calls.values()):
                call.step = min(call.step, len(config.escalation))
                call.base_need = config.need.combined(call.extra)
                if call.group is not None:
                    self._unwait(t, call)
                    waiting.append(call)
                self._set_step(call, q)
                self._schedule(call, config, now)
                if now >= call.escalate_at:
                    self._escalate(t, q, call, now)
            waiting.sort(key=lambda c: c.rank)
            for call in waiting:
                self._place(t, call, now, "reconfigured")
        for a in t.agents.values():
            a.queue_ids = frozenset(x.queue_id for x in a.queues)
        # The groups of the queue's own steps exist up front, so agents' lists are stable.
        for step in range(len(config.escalation) + 1):
            need = q.need_at(config.need, step)[0]
            if need not in q.groups:
                self._new_group(t, q, need)
        self._emit(tenant_id, ev.QUEUE_CONFIGURED, {"queue_id": config.queue_id})
        return self._finish()

    def remove_queue(self, tenant_id: str, queue_id: str) -> None:
        """Remove an empty queue."""
        self._begin()
        t, q = self._queue(tenant_id, queue_id)
        if q.calls:
            raise queue_has_calls(queue_id, len(q.calls))
        now = self._now_at.timestamp()
        for a in t.agents.values():
            if q in a.queues:
                self._accrue(t, a, now)
                a.queues.remove(q)
                a.queue_ids = frozenset(x.queue_id for x in a.queues)
        del t.queues[queue_id]
        self._emit(tenant_id, ev.QUEUE_REMOVED, {"queue_id": queue_id})

    # ---- agents ----

    def login(
        self,
        tenant_id: str,
        agent_id: str,
        skills: Mapping[str, int],
        *,
        ready: bool = True,
        reason: str = "not_ready",
    ) -> list[Action]:
        """Log an agent in, available or on break; refused beyond the seat licenses (R2.2)."""
        now = self._begin()
        skills = check_skills(skills)
        if not ready:
            reason = check_reason(reason)
        t = self._tenant(tenant_id)
        a = t.agents.get(agent_id)
        if a is not None:
            raise illegal_transition(agent_id, a.state.value, E.LOGIN.value)
        if not self.seats.try_acquire(tenant_id, agent_id, t.seat_limit):
            err = seats_exceeded(t.seat_limit, self.seats.in_use(tenant_id))
            self._emit(
                tenant_id,
                ev.AGENT_LOGIN_REFUSED,
                {"agent_id": agent_id, "code": err.code, **err.details},
            )
            raise err
        a = AgentRecord(tenant_id, agent_id, skills, now)
        a.session = next(self._tokens)
        t.agents[agent_id] = a
        self._join_queues(t, a)
        if self._presence is not None:
            self._timers.after(now, self._presence, _PRESENCE, tenant_id, agent_id, a.session)
        if ready:
            self._available(t, a, E.LOGIN, now, keep_rank=False)
        else:
            a.break_reason = reason
            self._move(t, a, E.LOGIN, S.BREAK, now)
        return self._finish()

    def logout(self, tenant_id: str, agent_id: str) -> list[Action]:
        """Log an agent out (not during a call); frees the seat. A ringing call is re-offered."""
        now = self._begin()
        t, a = self._agent(tenant_id, agent_id)
        a.check(E.LOGOUT)
        self._leave(t, a, now, E.LOGOUT, "agent_logged_out")
        return self._finish()

    def connection_lost(self, tenant_id: str, agent_id: str) -> list[Action]:
        """The agent's browser or phone is gone: they leave the pool and free the seat.

        A ringing call goes back to its place; a call in progress ends for the ACD (an
        :class:`AgentGone` action asks call control to release the agent's leg). An agent
        who is not logged in is ignored: the signal may come late.
        """
        now = self._begin()
        t = self._tenants.get(tenant_id)
        a = t.agents.get(agent_id) if t is not None else None
        if t is not None and a is not None:
            self._leave(t, a, now, E.CONNECTION_LOST, "agent_connection_lost")
        return self._finish()

    def heartbeat(self, tenant_id: str, agent_id: str) -> bool:
        """The agent's client or phone is still there; False if the agent is not logged in."""
        t = self._tenants.get(tenant_id)
        a = t.agents.get(agent_id) if t is not None else None
        if a is None:
            return False
        a.last_seen = self._clock.now().timestamp()
        return True

    def ready(self, tenant_id: str, agent_id: str) -> list[Action]:
        """The agent is ready for calls (from break, no-answer pause or after-call work)."""
        now = self._begin()
        t, a = self._agent(tenant_id, agent_id)
        a.check(E.READY)
        a.pending_break = None
        if a.state is S.WRAP_UP:
            self._end_wrap_up(t, a, now, E.READY)
        else:
            self._available(t, a, E.READY, now, keep_rank=False)
        return self._finish()

    def start_break(self, tenant_id: str, agent_id: str, reason: str) -> list[Action]:
        """Go on break with a reason code; during a call the break starts when its work ends."""
        now = self._begin()
        reason = check_reason(reason)
        t, a = self._agent(tenant_id, agent_id)
        if a.state in (S.ON_CALL, S.RESERVED):
            a.pending_break = reason
            self._emit(
                tenant_id, ev.AGENT_BREAK_REQUESTED, {"agent_id": agent_id, "reason": reason}
            )
            return self._finish()
        a.check(E.BREAK)
        if a.state is S.WRAP_UP:
            self._record_handling(a, now)
        elif a.state is S.AVAILABLE:
            t.idle.remove(a)
        a.pending_break = None
        a.break_reason = reason
        a.call_id = None
        self._move(t, a, E.BREAK, S.BREAK, now)
        return self._finish()

    def extend_wrap_up(self, tenant_id: str, agent_id: str, seconds: float) -> list[Action]:
        """Give the agent ``seconds`` more after-call work (up to the queue's limit)."""
        now = self._begin()
        _, a = self._agent(tenant_id, agent_id)
        if a.state is not S.WRAP_UP:
            raise illegal_transition(agent_id, a.state.value, "extend_wrap_up")
        if not seconds > 0 or seconds == float("inf"):
            raise invalid("seconds", "延長秒数は正の数にしてください。", "seconds must be > 0.")
        if a.wrap_up_limit is not None and a.wrap_up_extended + seconds > a.wrap_up_limit:
            raise wrap_up_limit(agent_id, a.wrap_up_limit)
        a.wrap_up_extended += seconds
        a.wrap_up_deadline = max(a.wrap_up_deadline, now) + seconds
        self._timers.at(a.wrap_up_deadline, _WRAP, tenant_id, agent_id, a.session)
        self._emit(
            tenant_id,
            ev.AGENT_STATE_CHANGED,
            {
                "agent_id": agent_id,
                "old": a.state.value,
                "new": a.state.value,
                "event": "extend_wrap_up",
                "reason": None,
                "call_id": a.call_id,
                "wrap_up_until": _at(a.wrap_up_deadline).isoformat(),
            },
        )
        return self._finish()

    def update_skills(
        self, tenant_id: str, agent_id: str, skills: Mapping[str, int]
    ) -> list[Action]:
        """Change a logged-in agent's skills; they may get a waiting call at once."""
        now = self._begin()
        skills = check_skills(skills)
        t, a = self._agent(tenant_id, agent_id)
        available = a.state is S.AVAILABLE
        if available:
            t.idle.remove(a)
        self._accrue(t, a, now)
        self._leave_queues(a)
        a.skills = skills
        a.groups = []
        a.groups_seen = 0
        self._join_queues(t, a)
        self._emit(tenant_id, ev.AGENT_SKILLS_CHANGED, {"agent_id": agent_id, "skills": skills})
        if available:
            self._route_agent(t, a, now)
        return self._finish()

    # ---- calls ----

    def enqueue(
        self,
        tenant_id: str,
        call_id: str,
        queue_id: str,
        *,
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        callback: bool = False,
    ) -> list[Action]:
        """A call enters ``queue_id``; ``skills`` adds to what the queue needs.

        ``callback`` enters a kept callback request instead of a caller on the line.
        """
        now = self._begin()
        t, q = self._queue(tenant_id, queue_id)
        if call_id in t.calls:
            raise call_already_queued(call_id)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise invalid(
                "priority", "優先度は整数にしてください。", "priority must be an integer."
            )
        extra = check_skills(skills) if skills else _NO_SKILLS
        t.seq += 1
        call = CallRecord(tenant_id, call_id, t.seq, priority, extra, now, callback=callback)
        t.calls[call_id] = call
        self._enter(t, call, q, now, None)
        return self._finish()

    def answered(self, tenant_id: str, call_id: str) -> list[Action]:
        """The offered agent answered: the caller leaves the queue, the agent is on the call."""
        now = self._begin()
        t, call = self._call(tenant_id, call_id)
        if call.state is not CallState.OFFERED or call.agent is None:
            raise call_in_wrong_state(call_id, call.state.value, "answer")
        q = t.queues[call.queue_id]
        call.state = CallState.CONNECTED
        call.answered_at = now
        wait = now - call.queue_entered_at
        q.stats.answered(now, wait)
        q.calls.pop(call_id, None)
        self._move(t, call.agent, E.ANSWER, S.ON_CALL, now)
        self._emit(
            tenant_id,
            ev.CALL_ANSWERED,
            {
                "call_id": call_id,
                "queue_id": call.queue_id,
                "agent_id": call.agent.agent_id,
                "wait_seconds": wait,
                "total_wait_seconds": now - call.entered_at,
            },
        )
        return self._finish()

    def offer_failed(self, tenant_id: str, call_id: str, reason: str = "no_answer") -> list[Action]:
        """The offered agent did not answer (or rejected, or was unreachable).

        The agent is paused (no_answer state with ``reason``); the caller goes back to their
        original place and is offered to the next eligible agent.
        """
        now = self._begin()
        reason = check_reason(reason)
        t, call = self._call(tenant_id, call_id)
        if call.state is not CallState.OFFERED:
            raise call_in_wrong_state(call_id, call.state.value, "offer_failed")
        self._no_answer(t, call, now, reason, cancel=False)
        return self._finish()

    def abandon(self, tenant_id: str, call_id: str) -> list[Action]:
        """The caller hung up while waiting or ringing (or a kept callback is cancelled)."""
        now = self._begin()
        t, call = self._call(tenant_id, call_id)
        if call.state not in (CallState.WAITING, CallState.OFFERED):
            raise call_in_wrong_state(call_id, call.state.value, "abandon")
        q = t.queues[call.queue_id]
        if call.group is not None:
            self._unwait(t, call)
        wait = now - call.queue_entered_at
        q.stats.left(now, wait, abandoned=True)
        q.calls.pop(call_id, None)
        del t.calls[call_id]
        self._emit(
            tenant_id,
            ev.CALL_ABANDONED,
            {
                "call_id": call_id,
                "queue_id": call.queue_id,
                "wait_seconds": wait,
                "total_wait_seconds": now - call.entered_at,
                "callback": call.callback,
            },
        )
        agent, call.agent = call.agent, None
        call.state = CallState.DONE
        if agent is not None:
            self._out.append(CancelOffer(tenant_id, call_id, agent.agent_id, "caller_abandoned"))
            if agent.pending_break is not None:
                agent.break_reason, agent.pending_break = agent.pending_break, None
                self._move(t, agent, E.WITHDRAWN, S.BREAK, now)
                agent.call_id = None
            else:
                self._available(t, agent, E.WITHDRAWN, now, keep_rank=True)
        return self._finish()

    def request_callback(self, tenant_id: str, call_id: str) -> list[Action]:
        """The waiting caller chose a callback: they hang up and keep their place."""
        self._begin()
        t, call = self._call(tenant_id, call_id)
        if call.state not in (CallState.WAITING, CallState.OFFERED) or call.callback:
            raise call_in_wrong_state(call_id, call.state.value, "request_callback")
        call.callback = True
        call.overflow_at = call.announce_at = _NEVER
        q = t.queues[call.queue_id]
        self._emit(
            tenant_id,
            ev.CALLBACK_REQUESTED,
            {"call_id": call_id, "queue_id": q.queue_id, "position": self._position(q, call)},
        )
        return self._finish()

    def hold(self, tenant_id: str, call_id: str) -> list[Action]:
        """The agent put the caller on hold (hold time counts in AHT, not in talk time)."""
        now = self._begin()
        _, call = self._call(tenant_id, call_id)
        if call.state is not CallState.CONNECTED or call.hold_since is not None:
            raise call_in_wrong_state(call_id, self._call_state(call), "hold")
        call.hold_since = now
        agent_id = call.agent.agent_id if call.agent else None
        self._emit(tenant_id, ev.CALL_HELD, {"call_id": call_id, "agent_id": agent_id})
        return self._finish()

    def resume(self, tenant_id: str, call_id: str) -> list[Action]:
        """The caller is taken off hold."""
        now = self._begin()
        _, call = self._call(tenant_id, call_id)
        if call.state is not CallState.CONNECTED or call.hold_since is None:
            raise call_in_wrong_state(call_id, self._call_state(call), "resume")
        call.hold_total += now - call.hold_since
        call.hold_since = None
        agent_id = call.agent.agent_id if call.agent else None
        self._emit(tenant_id, ev.CALL_RESUMED, {"call_id": call_id, "agent_id": agent_id})
        return self._finish()

    def call_ended(self, tenant_id: str, call_id: str) -> list[Action]:
        """The answered call is over (either side hung up): the agent goes to after-call work."""
        now = self._begin()
        t, call = self._call(tenant_id, call_id)
        if call.state is not CallState.CONNECTED or call.agent is None:
            raise call_in_wrong_state(call_id, call.state.value, "hangup")
        a = call.agent
        q = t.queues.get(call.queue_id)
        talk, hold = self._close_call(t, call, now, agent_lost=False)
        cfg = q.config if q is not None else None
        wrap = cfg.wrap_up_seconds if cfg is not None else 0.0
        if q is not None:
            a.handling = (q, talk, hold)
        if wrap > 0 and cfg is not None:
            a.wrap_up_deadline = now + wrap
            a.wrap_up_extended = 0.0
            a.wrap_up_limit = cfg.max_wrap_up_extension_seconds
            self._move(t, a, E.HANGUP, S.WRAP_UP, now)
            self._timers.after(now, wrap, _WRAP, tenant_id, a.agent_id, a.session)
        else:
            self._record_handling(a, now)
            a.call_id = None
            if a.pending_break is not None:
                a.break_reason, a.pending_break = a.pending_break, None
                self._move(t, a, E.HANGUP, S.BREAK, now)
            else:
                self._available(t, a, E.HANGUP, now, keep_rank=False)
        return self._finish()

    def tick(self) -> list[Action]:
        """Run every timer that is due (ring timeouts, wrap-up ends, escalation, overflow...)."""
        now = self._begin()
        tenants = self._tenants
        # In batches: a timer that fires may set others; every delay is > 0, so a batch is
        # complete unless one was set for a deadline already past (a reconfigured queue).
        while batch := self._timers.due(now):
            self._run(tenants, batch, now)
        return self._finish()

    def _run(self, tenants: dict[str, _Tenant], batch: list[Entry], now: float) -> None:
        # Escalations first: every decision this tick then sees the needs and priorities
        # callers have now. The rest in deadline order.
        for _, _, kind, tenant_id, key, token in batch:
            if kind == _ESCALATE:
                t = tenants.get(tenant_id)
                call = t.calls.get(key) if t is not None else None
                if (
                    t is not None
                    and call is not None
                    and call.epoch == token
                    and call.state in (CallState.WAITING, CallState.OFFERED)
                ):
                    self._escalate(t, t.queues[call.queue_id], call, now)
        for _, _, kind, tenant_id, key, token in batch:
            if kind == _ESCALATE:
                continue
            t = tenants.get(tenant_id)
            if t is None:
                continue
            if kind in (_RING, _QUEUE):
                call = t.calls.get(key)
                if call is None:
                    continue
                if kind == _RING:
                    self._ring_timeout(t, call, token, now)
                else:
                    self._queue_due(t, call, token, now)
                continue
            a = t.agents.get(key)
            if a is None:
                continue
            if kind == _WRAP:
                self._wrap_due(t, a, token, now)
            else:
                self._presence_due(t, a, token, now)

    # ---- queries ----

    def agent(self, tenant_id: str, agent_id: str) -> AgentView:
        """A logged-in agent's state."""
        _, a = self._agent(tenant_id, agent_id)
        return self._agent_view(a)

    def agents(self, tenant_id: str) -> list[AgentView]:
        """Every logged-in agent of the tenant."""
        t = self._tenants.get(tenant_id)
        return [self._agent_view(a) for a in t.agents.values()] if t else []

    def call(self, tenant_id: str, call_id: str) -> CallView:
        """A call in the ACD (waiting, ringing or connected)."""
        t, c = self._call(tenant_id, call_id)
        now = self._clock.now().timestamp()
        q = t.queues[c.queue_id]
        return CallView(
            call_id=c.call_id,
            queue_id=c.queue_id,
            state=c.state.value,
            need=_text(c.need),
            priority=-c.rank[1],
            position=self._position(q, c) if c.group is not None else None,
            waited_seconds=now - c.entered_at,
            queue_waited_seconds=now - c.queue_entered_at,
            agent_id=c.agent.agent_id if c.agent else None,
            callback=c.callback,
            escalation_step=c.step,
        )

    def calls(self, tenant_id: str, queue_id: str) -> list[CallView]:
        """The callers in a queue, in the order they will be served (then ringing ones)."""
        _, q = self._queue(tenant_id, queue_id)
        ordered = sorted(q.calls.values(), key=lambda c: (c.group is None, c.rank))
        return [self.call(tenant_id, c.call_id) for c in ordered]

    def hints(self, tenant_id: str, call_id: str) -> CallHints:
        """What to announce to a waiting caller now (position, EWT, callback offer)."""
        t, c = self._call(tenant_id, call_id)
        now = self._clock.now().timestamp()
        q = t.queues[c.queue_id]
        cfg = q.config
        position = self._position(q, c) if c.group is not None else None
        ewt = q.ewt(position) if position is not None else 0.0
        waited = now - c.queue_entered_at
        nxt = c.announce_at
        return CallHints(
            call_id=call_id,
            queue_id=c.queue_id,
            position=position,
            ewt_seconds=ewt,
            waited_seconds=waited,
            offer_callback=self._callback_offer(cfg, c, ewt, waited),
            next_announcement=_at(nxt) if nxt != _NEVER and not c.callback else None,
        )

    def realtime(self, tenant_id: str, queue_id: str) -> QueueFigures:
        """A queue's real-time figures: callers, longest wait, agents by state, SL, EWT."""
        t, q = self._queue(tenant_id, queue_id)
        now = self._clock.now().timestamp()
        waiting = offered = callbacks = 0
        oldest = now
        for c in q.calls.values():
            if c.callback:
                callbacks += 1
            elif c.group is not None:
                waiting += 1
            else:
                offered += 1
            oldest = min(oldest, c.queue_entered_at)
        return QueueFigures(
            queue_id=queue_id,
            waiting=waiting,
            offered=offered,
            callbacks=callbacks,
            longest_wait_seconds=now - oldest,
            agents={s.value: q.counts[i] for s, i in STATE_INDEX.items() if s is not S.LOGGED_OUT},
            service_level={w // 60: q.stats.service_level(now, w) for w in WINDOWS},
            aht_seconds=q.stats.aht(q.config.default_handle_seconds),
            ewt_seconds=q.ewt(len(q.keys) + 1) if t.idle.first(q.config.need) is None else 0.0,
        )

    def intervals(
        self, tenant_id: str, *, queue_id: str | None = None, agent_id: str | None = None
    ) -> list[IntervalFigures]:
        """15-minute intervals so far (the current one included) of a queue, agent or tenant."""
        t = self._tenants.get(tenant_id)
        if t is None:
            return []
        self._flush(t)
        maps = list(t.agent_intervals.values())
        if queue_id is not None:
            q = t.queues.get(queue_id)
            if q is None:
                raise queue_not_found(queue_id)
            return figures(q.stats.intervals, time=agent_time(maps, queue_id))
        if agent_id is not None:
            return figures(t.agent_intervals.get(agent_id, {}))
        return figures({}, time=agent_time(maps, None))

    def take_intervals(self, tenant_id: str) -> IntervalReport:
        """Remove and return every interval that has ended (to store it for the reports)."""
        t = self._tenants.get(tenant_id)
        if t is None:
            return IntervalReport(tenant_id, {}, {}, [])
        now = self._flush(t)
        maps = list(t.agent_intervals.values())
        by_queue: dict[str, AgentTime] = {}
        for m in maps:
            for start, b in m.items():
                if start + INTERVAL_SECONDS <= now:
                    for qid in b.queues:
                        acc = by_queue.setdefault(qid, {}).setdefault(start, [0.0, 0.0])
                        acc[0] += b.staffed
                        acc[1] += b.busy
        tenant = figures({}, now, agent_time(maps, None, now))
        queues = {
            qid: take(q.stats.intervals, now, by_queue.get(qid, {})) for qid, q in t.queues.items()
        }
        agents = {aid: take(m, now) for aid, m in t.agent_intervals.items()}
        for aid in [aid for aid, m in t.agent_intervals.items() if not m]:
            del t.agent_intervals[aid]
        return IntervalReport(
            tenant_id,
            {k: v for k, v in queues.items() if v},
            {k: v for k, v in agents.items() if v},
            tenant,
        )

    def explain(self, tenant_id: str, call_id: str) -> list[Decision]:
        """The routing decisions taken for a call, oldest first (kept for recent calls)."""
        t = self._tenants.get(tenant_id)
        return [_decision(tenant_id, call_id, r) for r in t.decisions.get(call_id, ())] if t else []

    def what_if(
        self,
        tenant_id: str,
        *,
        queue_id: str | None = None,
        skills: Mapping[str, int] | None = None,
        need: Need | None = None,
        priority: int = 0,
    ) -> WhatIf:
        """Who would get a call now with the queue's need plus ``skills`` (or ``need``)?"""
        t = self._tenants.get(tenant_id) or _Tenant(tenant_id)
        now = self._clock.now().timestamp()
        q = None
        if queue_id is not None:
            q = t.queues.get(queue_id)
            if q is None:
                raise queue_not_found(queue_id)
        base = need if need is not None else (q.config.need if q else Need.any_agent())
        want = base.combined(check_skills(skills or {}))
        eligible = tuple(Candidate(a.agent_id, now - a.idle_since) for a in t.idle.eligible(want))
        staffed: dict[str, int] = {}
        for a in t.agents.values():
            if want.satisfied_by(a.skills):
                staffed[a.state.value] = staffed.get(a.state.value, 0) + 1
        position = ewt = None
        if eligible:
            reason = f"longest idle of {len(eligible)} available agents eligible for {want}"
        elif q is not None:
            rank = (-q.config.priority, -priority, t.seq + 1)
            position = bisect_left(q.keys, rank) + 1
            ewt = q.ewt(position)
            reason = f"no available agent is eligible for {want}; the call would wait"
        else:
            reason = f"no available agent is eligible for {want}"
        return WhatIf(
            need=str(want),
            queue_id=queue_id,
            agent_id=eligible[0].agent_id if eligible else None,
            eligible=eligible,
            staffed=staffed,
            position=position,
            ewt_seconds=ewt,
            reason=reason,
        )

    # ---- agent internals ----

    def _accrue(self, t: _Tenant, a: AgentRecord, now: float) -> None:
        """Book the agent's time since the last booking to its state, by interval."""
        start = a.accrued_to
        if now > start and a.state in STAFFED:
            m = t.agent_intervals.get(a.agent_id)
            if m is None:
                m = t.agent_intervals[a.agent_id] = {}
            accrue(m, start, now, a.state in BUSY, a.queue_ids)
        a.accrued_to = now

    def _flush(self, t: _Tenant) -> float:
        now = self._clock.now().timestamp()
        for a in t.agents.values():
            self._accrue(t, a, now)
        return now

    def _move(
        self, t: _Tenant, a: AgentRecord, event: AgentEvent, new: AgentState, now: float
    ) -> None:
        if now > a.accrued_to and a.state in STAFFED:
            self._accrue(t, a, now)
        a.accrued_to = now
        call_id = a.call_id
        old = a.move(event, new, now)
        if old is not new:
            oi, ni = STATE_INDEX[old], STATE_INDEX[new]
            for q in a.queues:
                counts = q.counts
                counts[oi] -= 1
                counts[ni] += 1
        data = {
            "agent_id": a.agent_id,
            "old": old,
            "new": new,
            "event": event,
            "reason": a.break_reason if new in _PAUSED else None,
            "call_id": call_id,
        }
        self._events.append(Event(ev.AGENT_STATE_CHANGED, t.tenant_id, self._now_at, data))

    def _join_queues(self, t: _Tenant, a: AgentRecord) -> None:
        i = STATE_INDEX[a.state]
        a.queues = [q for q in t.queues.values() if q.config.need.satisfied_by(a.skills)]
        a.queue_ids = frozenset(q.queue_id for q in a.queues)
        for q in a.queues:
            q.counts[i] += 1

    def _leave_queues(self, a: AgentRecord) -> None:
        i = STATE_INDEX[a.state]
        for q in a.queues:
            q.counts[i] -= 1
        a.queues = []
        a.queue_ids = frozenset()

    def _available(
        self, t: _Tenant, a: AgentRecord, event: AgentEvent, now: float, *, keep_rank: bool
    ) -> None:
        """Make the agent available and give them the best waiting call they may take."""
        if not keep_rank:
            t.tickets += 1
            a.idle_ticket = t.tickets
            a.idle_since = now
        a.break_reason = None
        self._move(t, a, event, S.AVAILABLE, now)
        a.call_id = None
        self._route_agent(t, a, now)

    def _route_agent(self, t: _Tenant, a: AgentRecord, now: float) -> None:
        """Offer the best-ranked waiting call ``a`` is eligible for, or index ``a`` as idle."""
        groups = t.groups
        if a.groups_seen < len(groups):
            self._refresh_groups(t, a)
        best: CallRecord | None = None
        heads = []
        calls = t.calls
        for g in a.groups:
            if g.live:
                c = g.head(calls)
                if c is not None:
                    heads.append(c)
                    if best is None or c.rank < best.rank:
                        best = c
        if best is None:
            t.idle.add(a)
            return
        self._offer(t, best, a, now, "agent_available", [a], False, heads)

    def _refresh_groups(self, t: _Tenant, a: AgentRecord) -> None:
        """Bring the agent's list of call groups they are eligible for up to date."""
        skills = a.skills
        if a.groups_seen == 0:
            # First time: only groups keyed by one of the agent's skills can fit.
            by_skill = t.groups_by_skill
            seen: set[int] = set()
            found = []
            for key in ("", *skills):
                for g in by_skill.get(key, ()):
                    if id(g) not in seen:
                        seen.add(id(g))
                        if g.need.satisfied_by(skills):
                            found.append(g)
            a.groups = found
        else:
            a.groups.extend(g for g in t.groups[a.groups_seen :] if g.need.satisfied_by(skills))
        a.groups_seen = len(t.groups)

    def _leave(self, t: _Tenant, a: AgentRecord, now: float, event: AgentEvent, why: str) -> None:
        """Log the agent out (asked or lost), settling whatever call they had."""
        state = a.state
        requeue: CallRecord | None = None
        call = t.calls.get(a.call_id) if a.call_id is not None else None
        if state is S.AVAILABLE:
            t.idle.remove(a)
        elif state is S.RESERVED and call is not None:
            self._out.append(CancelOffer(t.tenant_id, call.call_id, a.agent_id, why))
            requeue = call
        elif state is S.ON_CALL and call is not None:
            q = t.queues.get(call.queue_id)
            talk, hold = self._close_call(t, call, now, agent_lost=True)
            if q is not None:
                q.stats.handled(now, talk, hold, 0.0)
            self._out.append(AgentGone(t.tenant_id, a.agent_id, call.call_id))
        elif state is S.WRAP_UP:
            self._record_handling(a, now)
        a.pending_break = None
        self._move(t, a, event, S.LOGGED_OUT, now)
        a.call_id = None
        self._leave_queues(a)
        del t.agents[a.agent_id]
        self.seats.release(t.tenant_id, a.agent_id)
        a.session = -1
        if requeue is not None:
            self._requeue(t, requeue, now, a.agent_id, why)

    def _record_handling(self, a: AgentRecord, now: float) -> None:
        """Book the handle time of the agent's last call (after-call work up to now)."""
        if a.handling is not None:
            q, talk, hold = a.handling
            acw = now - a.state_since if a.state is S.WRAP_UP else 0.0
            q.stats.handled(now, talk, hold, acw)
            a.handling = None

    def _end_wrap_up(self, t: _Tenant, a: AgentRecord, now: float, event: AgentEvent) -> None:
        self._record_handling(a, now)
        a.call_id = None
        if a.pending_break is not None:
            a.break_reason, a.pending_break = a.pending_break, None
            self._move(t, a, event, S.BREAK, now)
        else:
            self._available(t, a, event, now, keep_rank=False)

    # ---- call internals ----

    def _set_step(self, call: CallRecord, q: QueueState) -> None:
        cfg = q.config
        need, boost = q.need_at(call.base_need, call.step)
        call.need = need
        call.rank = (-cfg.priority, -(call.priority + boost), call.seq)

    def _schedule(self, call: CallRecord, cfg: QueueConfig, now: float) -> None:
        """(Re)start the call's queue timers, measured from its entry into the queue."""
        call.epoch = epoch = next(self._tokens)
        start = call.queue_entered_at
        tenant_id, call_id = call.tenant_id, call.call_id
        # Delays after "now" fill the timers' ordered lanes; after a change of settings the
        # deadlines count from the entry, in the past, so they go to the heap.
        # Only the next escalation step: each step sets the one after it (_escalate).
        steps = [s.after_seconds for s in cfg.escalation[call.step : call.step + 1]]
        call.escalate_at = start + steps[0] if steps else _NEVER
        delays: list[float] = []
        limit = cfg.max_wait_seconds
        call.overflow_at = _NEVER
        if limit is not None and not call.callback:
            call.overflow_at = start + limit
            delays.append(limit)
        call.announce_at = _NEVER
        first, every = cfg.announce_first_seconds, cfg.announce_every_seconds
        if first is not None and not call.callback:
            if start + first > now:
                call.announce_at = start + first
                delays.append(first)
            elif every:
                call.announce_at = now + every
                self._timers.after(now, every, _QUEUE, tenant_id, call_id, epoch)
        timers = self._timers
        for kind, group in ((_ESCALATE, steps), (_QUEUE, delays)):
            for delay in group:
                if now == start:
                    timers.after(now, delay, kind, tenant_id, call_id, epoch)
                else:
                    timers.at(start + delay, kind, tenant_id, call_id, epoch)

    def _enter(
        self, t: _Tenant, call: CallRecord, q: QueueState, now: float, from_queue: str | None
    ) -> None:
        cfg = q.config
        call.queue_id = q.queue_id
        call.visited += (q.queue_id,)
        call.queue_entered_at = now
        call.step = 0
        call.base_need = cfg.need.combined(call.extra) if call.extra else cfg.need
        self._set_step(call, q)
        q.stats.offered(now)
        self._emit(
            t.tenant_id,
            ev.CALL_ENTERED,
            {
                "call_id": call.call_id,
                "queue_id": q.queue_id,
                "priority": call.priority,
                "callback": call.callback,
                "from_queue": from_queue,
            },
        )
        if cfg.max_length is not None and len(q.calls) >= cfg.max_length:
            self._overflow(t, call, q, now, "queue_full")
            return
        q.calls[call.call_id] = call
        self._schedule(call, cfg, now)
        if self._place(t, call, now, "call_arrived" if from_queue is None else "overflowed_in"):
            return
        position = self._position(q, call)
        ewt = q.ewt(position)
        limit = cfg.overflow_ewt_seconds
        if limit is not None and not call.callback and (ewt is None or ewt > limit):
            self._overflow(t, call, q, now, "ewt")
            return
        self._emit(
            t.tenant_id,
            ev.CALL_QUEUED,
            {
                "call_id": call.call_id,
                "queue_id": q.queue_id,
                "position": position,
                "ewt_seconds": ewt,
            },
        )
        if not call.callback and (
            cfg.announce_position or cfg.announce_ewt or self._callback_offer(cfg, call, ewt, 0)
        ):
            self._announce(t, call, q, "entry", position, ewt, now)

    def _place(self, t: _Tenant, call: CallRecord, now: float, trigger: str) -> bool:
        """Offer the call to the longest-idle eligible agent, or let it wait. True if offered."""
        limit = self._explain_limit
        if limit == 1:
            agent = t.idle.first(call.need)
            eligible = [agent] if agent is not None else []
            truncated = False
        else:
            eligible = t.idle.top(call.need, limit + 1)
            truncated = len(eligible) > limit
            if truncated:
                eligible.pop()
        if eligible:
            self._offer(t, call, eligible[0], now, trigger, eligible, truncated, [])
            return True
        self._wait(t, call)
        self.decisions_made += 1
        if self._history:
            q = t.queues[call.queue_id]
            args = (q.staffed(), self._position(q, call))
            self._decide(t, call, now, trigger, "queued", None, (), False, (), args)
        return False

    def _wait(self, t: _Tenant, call: CallRecord) -> None:
        q = t.queues[call.queue_id]
        g = q.groups.get(call.need)
        if g is None:
            g = self._new_group(t, q, call.need)
        call.state = CallState.WAITING
        call.group = g
        call.token = next(self._tokens)
        g.push(call)
        insort(q.keys, call.rank)

    def _unwait(self, t: _Tenant, call: CallRecord) -> None:
        g = call.group
        assert g is not None
        g.live -= 1
        call.group = None
        keys = t.queues[call.queue_id].keys
        del keys[bisect_left(keys, call.rank)]

    def _new_group(self, t: _Tenant, q: QueueState, need: Need) -> CallGroup:
        if len(t.groups) >= t.gc_at:
            # Drop empty groups (a need that no caller has any more) and rebuild caches.
            t.groups = [g for g in t.groups if g.live]
            t.groups_by_skill = {}
            for g in t.groups:
                self._key_group(t, g)
            for qs in t.queues.values():
                qs.groups = {n: g for n, g in qs.groups.items() if g.live}
            for a in t.agents.values():
                a.groups = []
                a.groups_seen = 0
            t.gc_at = max(_GC_GROUPS, 4 * len(t.groups))
        g = q.groups[need] = CallGroup(q.queue_id, need)
        t.groups.append(g)
        self._key_group(t, g)
        return g

    def _key_group(self, t: _Tenant, g: CallGroup) -> None:
        for key in {alt[0][0] if alt else "" for alt in g.need.alternatives}:
            t.groups_by_skill.setdefault(key, []).append(g)

    def _position(self, q: QueueState, call: CallRecord) -> int:
        return bisect_left(q.keys, call.rank) + 1

    def _offer(
        self,
        t: _Tenant,
        call: CallRecord,
        a: AgentRecord,
        now: float,
        trigger: str,
        eligible: list[AgentRecord],
        truncated: bool,
        heads: list[CallRecord],
    ) -> None:
        if call.group is not None:
            self._unwait(t, call)
        if a in t.idle:
            t.idle.remove(a)
        q = t.queues[call.queue_id]
        call.state = CallState.OFFERED
        call.agent = a
        call.offer_token = next(self._tokens)
        call.offered_at = now
        a.call_id = call.call_id
        self._move(t, a, E.OFFER, S.RESERVED, now)
        ring = q.config.ring_timeout_seconds
        self._timers.after(now, ring, _RING, t.tenant_id, call.call_id, call.offer_token)
        self._out.append(
            Offer(t.tenant_id, call.call_id, a.agent_id, q.queue_id, ring, call.callback)
        )
        wait = now - call.queue_entered_at
        self._emit(
            t.tenant_id,
            ev.CALL_OFFERED,
            {
                "call_id": call.call_id,
                "queue_id": q.queue_id,
                "agent_id": a.agent_id,
                "wait_seconds": wait,
                "trigger": trigger,
            },
        )
        self.decisions_made += 1
        if not self._history:
            return
        candidates = tuple([(e.agent_id, now - e.idle_since) for e in eligible])
        calls: tuple[tuple[str, str, int, int, float], ...] = ()
        if heads:
            heads.sort(key=_by_rank)
            calls = tuple(
                [
                    (c.call_id, c.queue_id, -c.rank[0], -c.rank[1], now - c.queue_entered_at)
                    for c in heads[: self._explain_limit]
                ]
            )
            args: tuple[Any, ...] = (len(heads), now - call.entered_at)
        else:
            args = (now - a.idle_since,)
        self._decide(
            t, call, now, trigger, "offered", a.agent_id, candidates, truncated, calls, args
        )

    def _decide(
        self,
        t: _Tenant,
        call: CallRecord,
        now: float,
        trigger: str,
        outcome: str,
        agent_id: str | None,
        eligible: tuple[tuple[str, float], ...],
        truncated: bool,
        calls: tuple[tuple[str, str, int, int, float], ...],
        args: tuple[Any, ...],
    ) -> None:
        # Kept as plain tuples (the collector stops tracking them); explain() builds objects.
        d = (
            now,
            call.queue_id,
            trigger,
            _text(call.need),
            outcome,
            agent_id,
            eligible,
            truncated,
            calls,
            -call.rank[0],
            -call.rank[1],
            args,
        )
        found = t.decisions.get(call.call_id)
        if found is None:
            t.decisions[call.call_id] = (d,)
            if len(t.decisions) > self._history:
                t.decisions.popitem(last=False)
        else:
            t.decisions[call.call_id] = (*found, d)

    def _requeue(self, t: _Tenant, call: CallRecord, now: float, agent_id: str, why: str) -> None:
        """Back to the caller's original place after an offer that did not connect."""
        call.agent = None
        call.state = CallState.WAITING
        q = t.queues[call.queue_id]
        self._emit(
            t.tenant_id,
            ev.CALL_REQUEUED,
            {"call_id": call.call_id, "queue_id": q.queue_id, "agent_id": agent_id, "reason": why},
        )
        cfg = q.config
        if (
            not call.callback
            and cfg.max_wait_seconds is not None
            and now >= call.queue_entered_at + cfg.max_wait_seconds
        ):
            self._overflow(t, call, q, now, "timeout")
            return
        if now >= call.escalate_at:
            self._escalate(t, q, call, now)  # steps that came due while it was ringing
        self._place(t, call, now, "requeued")

    def _no_answer(
        self, t: _Tenant, call: CallRecord, now: float, why: str, *, cancel: bool
    ) -> None:
        a = call.agent
        assert a is not None
        if cancel:
            self._out.append(CancelOffer(t.tenant_id, call.call_id, a.agent_id, why))
        a.break_reason = why
        a.pending_break = None
        self._move(t, a, E.NO_ANSWER, S.NO_ANSWER, now)
        a.call_id = None
        self._requeue(t, call, now, a.agent_id, why)

    def _close_call(
        self, t: _Tenant, call: CallRecord, now: float, *, agent_lost: bool
    ) -> tuple[float, float]:
        """The connected call is over: its talk and hold seconds, and the CDR event."""
        if call.hold_since is not None:
            call.hold_total += now - call.hold_since
            call.hold_since = None
        hold = call.hold_total
        talk = max(0.0, now - call.answered_at - hold)
        call.state = CallState.DONE
        t.calls.pop(call.call_id, None)
        self._emit(
            t.tenant_id,
            ev.CALL_ENDED,
            {
                "call_id": call.call_id,
                "queue_id": call.queue_id,
                "agent_id": call.agent.agent_id if call.agent else None,
                "wait_seconds": call.answered_at - call.queue_entered_at,
                "total_wait_seconds": call.answered_at - call.entered_at,
                "talk_seconds": talk,
                "hold_seconds": hold,
                "agent_lost": agent_lost,
            },
        )
        return talk, hold

    def _overflow(
        self, t: _Tenant, call: CallRecord, q: QueueState, now: float, reason: str
    ) -> None:
        if call.group is not None:
            self._unwait(t, call)
        wait = now - call.queue_entered_at
        q.stats.left(now, wait, abandoned=False)
        q.calls.pop(call.call_id, None)
        target = q.config.overflow_target
        nxt = t.queues.get(target.ref) if target.kind is TargetKind.QUEUE and target.ref else None
        if target.kind is TargetKind.QUEUE and (nxt is None or nxt.queue_id in call.visited):
            target = self._final
        self._emit(
            t.tenant_id,
            ev.CALL_OVERFLOWED,
            {
                "call_id": call.call_id,
                "queue_id": q.queue_id,
                "target": str(target),
                "reason": reason,
                "wait_seconds": wait,
            },
        )
        self.decisions_made += 1
        if self._history:
            self._decide(
                t, call, now, reason, "overflowed", None, (), False, (), (wait, str(target))
            )
        if nxt is not None and target.kind is TargetKind.QUEUE:
            self._enter(t, call, nxt, now, q.queue_id)
            return
        call.state = CallState.DONE
        t.calls.pop(call.call_id, None)
        self._out.append(Overflow(t.tenant_id, call.call_id, q.queue_id, target, reason))

    def _callback_offer(
        self, cfg: QueueConfig, call: CallRecord, ewt: float | None, waited: float
    ) -> bool:
        if call.callback:
            return False
        limit = cfg.callback_offer_ewt_seconds
        if limit is not None and (ewt is None or ewt >= limit):
            return True
        after = cfg.callback_offer_after_seconds
        return after is not None and waited >= after

    def _announce(
        self,
        t: _Tenant,
        call: CallRecord,
        q: QueueState,
        kind: str,
        position: int,
        ewt: float | None,
        now: float,
    ) -> None:
        cfg = q.config
        self._out.append(
            Announce(
                t.tenant_id,
                call.call_id,
                q.queue_id,
                kind,
                position if cfg.announce_position else None,
                ewt if cfg.announce_ewt else None,
                self._callback_offer(cfg, call, ewt, now - call.queue_entered_at),
            )
        )

    def _call_state(self, call: CallRecord) -> str:
        if call.state is CallState.CONNECTED and call.hold_since is not None:
            return "held"
        return call.state.value

    # ---- timers ----

    def _ring_timeout(self, t: _Tenant, call: CallRecord, token: int, now: float) -> None:
        if call.state is CallState.OFFERED and call.offer_token == token:
            self._no_answer(t, call, now, "no_answer", cancel=True)

    def _wrap_due(self, t: _Tenant, a: AgentRecord, session: int, now: float) -> None:
        if a.session == session and a.state is S.WRAP_UP and a.wrap_up_deadline <= now:
            self._end_wrap_up(t, a, now, E.WRAP_UP_END)

    def _queue_due(self, t: _Tenant, call: CallRecord, epoch: int, now: float) -> None:
        """The call's queue timer: overflow or announce, whichever is due."""
        if call.epoch != epoch or call.state not in (CallState.WAITING, CallState.OFFERED):
            return
        q = t.queues[call.queue_id]
        if now >= call.overflow_at:
            call.overflow_at = _NEVER
            if call.group is not None:
                self._overflow(t, call, q, now, "timeout")
                return
        if now >= call.announce_at:
            every = q.config.announce_every_seconds
            call.announce_at = _NEVER
            if every:
                call.announce_at = now + every
                self._timers.after(now, every, _QUEUE, t.tenant_id, call.call_id, epoch)
            if call.group is not None:
                position = self._position(q, call)
                self._announce(t, call, q, "comfort", position, q.ewt(position), now)

    def _escalate(self, t: _Tenant, q: QueueState, call: CallRecord, now: float) -> None:
        steps = q.config.escalation
        step = call.step
        while step < len(steps) and now >= call.queue_entered_at + steps[step].after_seconds:
            step += 1
        if step == call.step:
            return
        if step < len(steps):
            call.escalate_at = call.queue_entered_at + steps[step].after_seconds
            self._timers.at(call.escalate_at, _ESCALATE, t.tenant_id, call.call_id, call.epoch)
        else:
            call.escalate_at = _NEVER
        waiting = call.group is not None
        if waiting:
            self._unwait(t, call)
        call.step = step
        self._set_step(call, q)
        self._emit(
            t.tenant_id,
            ev.CALL_ESCALATED,
            {
                "call_id": call.call_id,
                "queue_id": q.queue_id,
                "step": step,
                "need": _text(call.need),
                "priority": -call.rank[1],
            },
        )
        if waiting:
            self._place(t, call, now, "escalated")

    def _presence_due(self, t: _Tenant, a: AgentRecord, session: int, now: float) -> None:
        if a.session != session or self._presence is None:
            return
        if now >= a.last_seen + self._presence:
            self._leave(t, a, now, E.CONNECTION_LOST, "presence_timeout")
        else:
            self._timers.at(
                a.last_seen + self._presence, _PRESENCE, t.tenant_id, a.agent_id, session
            )

    # ---- views ----

    def _agent_view(self, a: AgentRecord) -> AgentView:
        return AgentView(
            agent_id=a.agent_id,
            state=a.state.value,
            since=_at(a.state_since),
            reason=a.break_reason if a.state in (S.BREAK, S.NO_ANSWER) else None,
            pending_break=a.pending_break,
            call_id=a.call_id,
            skills=dict(a.skills),
            idle_since=_at(a.idle_since) if a.state is S.AVAILABLE else None,
            wrap_up_until=_at(a.wrap_up_deadline) if a.state is S.WRAP_UP else None,
        )


_Record = tuple[
    float,
    str,
    str,
    str,
    str,
    str | None,
    tuple[tuple[str, float], ...],
    bool,
    tuple[tuple[str, str, int, int, float], ...],
    int,
    int,
    tuple[Any, ...],
]
"""A decision as kept: at, queue, trigger, need, outcome, agent, eligible, truncated, calls,
queue priority, caller priority, reason arguments."""


def _decision(tenant_id: str, call_id: str, r: _Record) -> Decision:
    at, queue_id, trigger, need, outcome, agent_id, eligible, truncated, calls, qp, cp, args = r
    if outcome == "queued":
        staffed, position = args
        reason = (
            f"no available agent is eligible for {need}; {staffed} of the queue's agents "
            f"are working; waits at position {position}"
        )
    elif outcome == "overflowed":
        wait, target = args
        reason = f"{_REASONS.get(trigger, trigger)} after {wait:.0f} s: to {target}"
    elif calls:
        heads, waited = args
        reason = (
            f"agent {agent_id} became available, eligible for {heads} waiting calls across "
            f"queues; this one ranks first (queue priority {qp}, caller priority {cp}, "
            f"waiting {waited:.0f} s)"
        )
    else:
        (idle,) = args
        more = "+" if truncated else ""
        reason = (
            f"longest idle ({idle:.0f} s) of {len(eligible)}{more} available agents "
            f"eligible for {need}"
        )
    return Decision(
        at=_at(at),
        tenant_id=tenant_id,
        call_id=call_id,
        queue_id=queue_id,
        trigger=trigger,
        need=need,
        outcome=outcome,
        agent_id=agent_id,
        eligible=tuple(Candidate(a, idle) for a, idle in eligible),
        eligible_truncated=truncated,
        calls=tuple(CallCandidate(*c) for c in calls),
        reason=reason,
    )


_REASONS = {
    "timeout": "maximum wait reached",
    "ewt": "estimated wait over the limit",
    "queue_full": "queue full",
}
