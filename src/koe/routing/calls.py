"""A call as the ACD sees it, from entering a queue to the end of its handling.

::

    waiting -offer-> offered -answer-> connected -hangup-> (gone)
    offered -no answer / agent gone-> waiting (at the caller's original place)
    waiting, offered -abandon | overflow-> (gone)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from koe.routing.model import Need

if TYPE_CHECKING:
    from koe.routing.agents import AgentRecord
    from koe.routing.index import CallGroup


class CallState(StrEnum):
    """Where a call stands with the ACD."""

    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    DONE = "done"


Rank = tuple[int, int, int]
"""Sort key of a waiting call: (-queue priority, -caller priority, arrival); lower goes first."""


class CallRecord:
    """One caller (or kept callback) in the ACD."""

    __slots__ = (
        "agent",
        "announce_at",
        "answered_at",
        "base_need",
        "call_id",
        "callback",
        "entered_at",
        "epoch",
        "escalate_at",
        "extra",
        "group",
        "hold_since",
        "hold_total",
        "need",
        "offer_token",
        "offered_at",
        "overflow_at",
        "priority",
        "queue_entered_at",
        "queue_id",
        "rank",
        "seq",
        "state",
        "step",
        "tenant_id",
        "token",
        "visited",
    )

    def __init__(
        self,
        tenant_id: str,
        call_id: str,
        seq: int,
        priority: int,
        extra: Mapping[str, int],
        now: float,
        *,
        callback: bool,
    ) -> None:
        self.tenant_id = tenant_id
        self.call_id = call_id
        self.seq = seq
        self.priority = priority
        self.extra = extra
        self.callback = callback
        self.entered_at = now
        self.queue_entered_at = now
        self.queue_id = ""
        self.epoch = 0
        self.step = 0
        self.base_need = Need.any_agent()
        self.need = self.base_need
        self.rank: Rank = (0, 0, seq)
        self.state = CallState.WAITING
        self.group: CallGroup | None = None
        self.token = 0
        self.agent: AgentRecord | None = None
        self.offer_token = 0
        self.offered_at = 0.0
        self.answered_at = 0.0
        self.hold_since: float | None = None
        self.hold_total = 0.0
        self.visited: tuple[str, ...] = ()
        self.announce_at = float("inf")
        self.escalate_at = float("inf")
        self.overflow_at = float("inf")
