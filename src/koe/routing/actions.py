"""What the ACD asks the call-control layer to do; every engine method returns a list of them."""

from __future__ import annotations

from dataclasses import dataclass

from koe.routing.model import OverflowTarget


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agent_id`` with ``call_id``; report back with answered() or offer_failed().

    For a kept callback (``callback``), ring the agent first, then dial the customer.
    """

    tenant_id: str
    call_id: str
    agent_id: str
    queue_id: str
    ring_timeout_seconds: float
    callback: bool = False


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing ``agent_id`` (no answer in time, or the agent logged out or dropped)."""

    tenant_id: str
    call_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Overflow:
    """Take the caller out of the queues to ``target`` (voicemail, callback, transfer, hang up)."""

    tenant_id: str
    call_id: str
    queue_id: str
    target: OverflowTarget
    reason: str


@dataclass(frozen=True, slots=True)
class Announce:
    """Play an in-queue message now; music on hold resumes after it.

    ``kind`` is "entry" (when the caller starts waiting) or "comfort" (periodic);
    ``position`` and ``ewt_seconds`` are None when the queue does not announce them (or no
    agent is staffed, for the EWT); ``offer_callback`` asks to offer a callback.
    """

    tenant_id: str
    call_id: str
    queue_id: str
    kind: str
    position: int | None
    ewt_seconds: float | None
    offer_callback: bool


@dataclass(frozen=True, slots=True)
class AgentGone:
    """The agent's connection dropped during ``call_id``: release the agent's leg."""

    tenant_id: str
    agent_id: str
    call_id: str


Action = Offer | CancelOffer | Overflow | Announce | AgentGone
