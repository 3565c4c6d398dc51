"""Kept callbacks: what the ACD needs from call control to call a customer back.

When a kept callback reaches an available agent (an ``Offer`` with ``callback``), the ACD
rings the agent first through a ``CallbackDialer``; once the agent answers, the session it
returns dials the customer with ``transfer_out`` and bridges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from koe.calls.session import CallSession, RingOutcome


class CallbackDialer(Protocol):
    """Call control's side of a callback (implemented by ``koe.calls``)."""

    async def call_agent(
        self, tenant_id: str, agent_id: str, *, callback_id: str, ring_s: float
    ) -> tuple[RingOutcome, CallSession | None]:
        """Ring the agent for callback ``callback_id``; answered: a session on the agent's leg.

        Cancelling the coroutine stops the ringing.
        """
        ...


@dataclass(slots=True)
class KeptCallback:
    """A caller waiting for a callback: whom to dial, in which language, how often tried."""

    tenant_id: str
    callback_id: str
    queue_id: str
    number: str
    language: str = "ja"
    priority: int = 0
    attempts: int = 0
