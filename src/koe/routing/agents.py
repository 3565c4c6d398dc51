"""The agent state machine: states, events, the allowed transitions and their log lines.

::

    logged_out -login-> available | break
    available  -offer-> reserved -answer-> on_call -hangup-> wrap_up | available | break
    reserved   -no_answer-> no_answer (auto-pause; the caller is re-offered at their place)
    reserved   -withdrawn-> available (the caller left; the agent keeps their idle rank)
                              or break (when the agent asked for one while it rang)
    wrap_up    -wrap_up_end | ready-> available (or break when one was asked for on the call)
    break, no_answer -ready-> available;  available, wrap_up, no_answer -break-> break
    any logged-in state -logout | connection_lost-> logged_out (on_call: connection_lost only)
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING

from koe.routing.errors import illegal_transition

if TYPE_CHECKING:
    from koe.routing.index import CallGroup
    from koe.routing.queues import QueueState

log = logging.getLogger(__name__)


class AgentState(StrEnum):
    """Where an agent stands with the ACD."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"
    NO_ANSWER = "no_answer"


class AgentEvent(StrEnum):
    """What can happen to an agent."""

    LOGIN = "login"
    LOGOUT = "logout"
    READY = "ready"
    BREAK = "break"
    OFFER = "offer"
    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    WITHDRAWN = "withdrawn"
    HANGUP = "hangup"
    WRAP_UP_END = "wrap_up_end"
    CONNECTION_LOST = "connection_lost"


S, E = AgentState, AgentEvent

TRANSITIONS: dict[tuple[AgentState, AgentEvent], frozenset[AgentState]] = {
    (S.LOGGED_OUT, E.LOGIN): frozenset({S.AVAILABLE, S.BREAK}),
    (S.AVAILABLE, E.OFFER): frozenset({S.RESERVED}),
    (S.AVAILABLE, E.BREAK): frozenset({S.BREAK}),
    (S.AVAILABLE, E.LOGOUT): frozenset({S.LOGGED_OUT}),
    (S.AVAILABLE, E.CONNECTION_LOST): frozenset({S.LOGGED_OUT}),
    (S.RESERVED, E.ANSWER): frozenset({S.ON_CALL}),
    (S.RESERVED, E.NO_ANSWER): frozenset({S.NO_ANSWER}),
    (S.RESERVED, E.WITHDRAWN): frozenset({S.AVAILABLE, S.BREAK}),
    (S.RESERVED, E.LOGOUT): frozenset({S.LOGGED_OUT}),
    (S.RESERVED, E.CONNECTION_LOST): frozenset({S.LOGGED_OUT}),
    (S.ON_CALL, E.HANGUP): frozenset({S.WRAP_UP, S.AVAILABLE, S.BREAK}),
    (S.ON_CALL, E.CONNECTION_LOST): frozenset({S.LOGGED_OUT}),
    (S.WRAP_UP, E.WRAP_UP_END): frozenset({S.AVAILABLE, S.BREAK}),
    (S.WRAP_UP, E.READY): frozenset({S.AVAILABLE}),
    (S.WRAP_UP, E.BREAK): frozenset({S.BREAK}),
    (S.WRAP_UP, E.LOGOUT): frozenset({S.LOGGED_OUT}),
    (S.WRAP_UP, E.CONNECTION_LOST): frozenset({S.LOGGED_OUT}),
    (S.BREAK, E.READY): frozenset({S.AVAILABLE}),
    (S.BREAK, E.BREAK): frozenset({S.BREAK}),
    (S.BREAK, E.LOGOUT): frozenset({S.LOGGED_OUT}),
    (S.BREAK, E.CONNECTION_LOST): frozenset({S.LOGGED_OUT}),
    (S.NO_ANSWER, E.READY): frozenset({S.AVAILABLE}),
    (S.NO_ANSWER, E.BREAK): frozenset({S.BREAK}),
    (S.NO_ANSWER, E.LOGOUT): frozenset({S.LOGGED_OUT}),
    (S.NO_ANSWER, E.CONNECTION_LOST): frozenset({S.LOGGED_OUT}),
}

STAFFED = frozenset({S.AVAILABLE, S.RESERVED, S.ON_CALL, S.WRAP_UP})
"""States in which an agent works the queues (counted for EWT and occupancy)."""

BUSY = frozenset({S.RESERVED, S.ON_CALL, S.WRAP_UP})
"""States in which an agent handles a call (ringing, talking or holding, after-call work)."""

STATE_INDEX = {state: i for i, state in enumerate(AgentState)}


class AgentRecord:
    """One logged-in (or just logged-out) agent as the ACD sees them."""

    __slots__ = (
        "accrued_to",
        "agent_id",
        "break_reason",
        "call_id",
        "groups",
        "groups_seen",
        "handling",
        "idle_since",
        "idle_ticket",
        "last_seen",
        "pending_break",
        "queue_ids",
        "queues",
        "session",
        "skills",
        "state",
        "state_since",
        "tenant_id",
        "wrap_up_deadline",
        "wrap_up_extended",
        "wrap_up_limit",
    )

    def __init__(self, tenant_id: str, agent_id: str, skills: dict[str, int], now: float) -> None:
        self.tenant_id = tenant_id
        self.agent_id = agent_id
        self.skills = skills
        self.state = S.LOGGED_OUT
        self.state_since = now
        self.last_seen = now
        self.session = 0
        self.idle_ticket = 0
        self.idle_since = now
        self.break_reason: str | None = None
        self.pending_break: str | None = None
        self.call_id: str | None = None
        self.wrap_up_deadline = 0.0
        self.wrap_up_extended = 0.0
        self.wrap_up_limit: float | None = None
        self.accrued_to = now
        self.handling: tuple[QueueState, float, float] | None = None
        self.queues: list[QueueState] = []
        self.queue_ids: frozenset[str] = frozenset()
        self.groups: list[CallGroup] = []
        self.groups_seen = 0

    def move(self, event: AgentEvent, new: AgentState, now: float) -> AgentState:
        """Apply ``event``: check that it may lead to ``new``, log it, return the old state."""
        old = self.state
        allowed = TRANSITIONS.get((old, event))
        if allowed is None or new not in allowed:
            raise illegal_transition(self.agent_id, old.value, event.value)
        self.state = new
        self.state_since = now
        log.info(
            "agent %s -%s-> %s tenant=%s agent=%s call=%s",
            old,
            event,
            new,
            self.tenant_id,
            self.agent_id,
            self.call_id,
        )
        return old

    def check(self, event: AgentEvent) -> None:
        """Raise unless ``event`` is allowed in the current state."""
        if (self.state, event) not in TRANSITIONS:
            raise illegal_transition(self.agent_id, self.state.value, event.value)
