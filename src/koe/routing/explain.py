"""Why a call went where it went: a record per decision, and the what-if answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """An eligible available agent at decision time; ``idle_seconds`` ranks them."""

    agent_id: str
    idle_seconds: float


@dataclass(frozen=True, slots=True)
class CallCandidate:
    """A waiting call an available agent could take, with what ranks it."""

    call_id: str
    queue_id: str
    queue_priority: int
    caller_priority: int
    waited_seconds: float


@dataclass(frozen=True, slots=True)
class Decision:
    """One routing decision for one call.

    ``trigger``: "call_arrived", "requeued", "escalated", "agent_available" or
    "reconfigured". ``outcome``: "offered" or "queued". ``eligible`` lists available
    eligible agents, longest idle first, up to the engine's ``explain_limit``
    (``eligible_truncated`` says more were left out); ``calls`` lists the waiting calls the
    agent was eligible for when an agent's availability triggered the decision.
    """

    at: datetime
    tenant_id: str
    call_id: str
    queue_id: str
    trigger: str
    need: str
    outcome: str
    agent_id: str | None
    eligible: tuple[Candidate, ...]
    eligible_truncated: bool
    calls: tuple[CallCandidate, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class WhatIf:
    """Who would get a call with ``need`` now, and what the caller would face otherwise.

    ``agent_id`` is the agent it would be offered to (None: it would wait). ``eligible``
    lists every available eligible agent in the order they would be chosen; ``staffed``
    counts the eligible logged-in agents by state. ``position`` and ``ewt_seconds`` are
    for a call that waits in ``queue_id``.
    """

    need: str
    queue_id: str | None
    agent_id: str | None
    eligible: tuple[Candidate, ...]
    staffed: dict[str, int]
    position: int | None
    ewt_seconds: float | None
    reason: str
