"""Read-only views of agents, calls and queues for AgentBar, Suite and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent's ACD state now."""

    agent_id: str
    state: str
    since: datetime
    reason: str | None
    pending_break: str | None
    call_id: str | None
    skills: dict[str, int]
    idle_since: datetime | None
    wrap_up_until: datetime | None


@dataclass(frozen=True, slots=True)
class CallView:
    """A call in the ACD now."""

    call_id: str
    queue_id: str
    state: str
    need: str
    priority: int
    position: int | None
    waited_seconds: float
    queue_waited_seconds: float
    agent_id: str | None
    callback: bool
    escalation_step: int


@dataclass(frozen=True, slots=True)
class CallHints:
    """What to tell a waiting caller: position, EWT and whether to offer a callback."""

    call_id: str
    queue_id: str
    position: int | None
    ewt_seconds: float | None
    waited_seconds: float
    offer_callback: bool
    next_announcement: datetime | None


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """A queue's real-time figures.

    ``service_level`` maps a window in minutes (15, 30, 60) to the share answered within
    the queue's threshold, None when no call counted in it. ``agents`` counts the queue's
    agents (those meeting its base need) by state. ``ewt_seconds`` is for a new caller.
    """

    queue_id: str
    waiting: int
    offered: int
    callbacks: int
    longest_wait_seconds: float
    agents: dict[str, int]
    service_level: dict[int, float | None]
    aht_seconds: float
    ewt_seconds: float | None
