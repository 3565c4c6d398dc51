"""The contract between call control (``koe.calls``) and the flow engine (``koe.flows``).

Call control owns the SIP dialogs and the rtpengine media of a call; when an inbound call
for a tenant's number arrives it hands a ``CallSession`` to an ``InboundHandler`` (the flow
engine), which drives the caller through greetings, IVR menus, queues and transfers using
only these operations. Every operation raises ``CallGone`` once the caller has hung up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from koe.core.errors import KoeError


class CallGone(KoeError):
    """The caller hung up (or the call failed) while the flow was acting on it."""

    status = 410


class Withheld(StrEnum):
    """Why a caller's number is not shown (非通知, 公衆電話, 表示圏外)."""

    ANONYMOUS = "anonymous"  # 184 / Privacy: id / "Anonymous"
    PAYPHONE = "payphone"
    UNAVAILABLE = "unavailable"  # out of area, interworking


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    """Who calls: a number in E.164 unless withheld (then never shown to agents)."""

    number: str | None
    withheld: Withheld | None = None
    display_name: str = ""


class RingOutcome(StrEnum):
    """How offering the call to an agent or number ended."""

    ANSWERED = "answered"  # bridged: the caller now talks to the target
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    CALLER_GONE = "caller_gone"


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """What came of ringing a target; ``ended`` is set when the bridged conversation ends."""

    outcome: RingOutcome
    q850_cause: int | None = None
    ended: asyncio.Event | None = None


class CallSession(Protocol):
    """One inbound call as the flow engine sees it."""

    @property
    def call_id(self) -> str:
        """Koe's id of the call (also the CDR id)."""
        ...

    @property
    def tenant_id(self) -> str:
        """The tenant whose number was called."""
        ...

    @property
    def called(self) -> str:
        """The dialled number (DID), E.164."""
        ...

    @property
    def caller(self) -> CallerIdentity:
        """The calling party."""
        ...

    async def answer(self) -> None:
        """Answer the caller (200 OK); media flows through rtpengine from now on."""
        ...

    async def play(self, prompt: Path, *, barge_in: bool = True) -> str | None:
        """Play a prompt file to the caller; returns the digit that interrupted it, if any."""
        ...

    async def start_music(self, music: Path) -> None:
        """Loop music on hold to the caller until ``stop_media`` or a bridge."""
        ...

    async def stop_media(self) -> None:
        """Stop what plays to the caller."""
        ...

    async def collect_digits(
        self,
        *,
        max_digits: int,
        first_digit_s: float,
        terminator: str = "#",
        inter_digit_s: float = 3.0,
    ) -> str:
        """Digits the caller presses (RFC 4733, SIP INFO or in-band, de-duplicated)."""
        ...

    async def ring_agent(self, agent_id: str, *, ring_s: float) -> BridgeResult:
        """Ring an agent's registered phone or browser; on answer, bridge the caller to it."""
        ...

    async def transfer_out(self, number: str, *, ring_s: float) -> BridgeResult:
        """Call an outside number via the tenant's trunk and bridge (holds a second line)."""
        ...

    async def record(self, path: Path, *, max_seconds: float) -> float:
        """Record the caller alone (voicemail) until silence, hang-up or the limit; seconds."""
        ...

    async def hangup(self, q850_cause: int = 16) -> None:
        """End the call (16 = normal clearing)."""
        ...

    def note(self, **attributes: str) -> None:
        """Attach attributes to the call and its CDR (queue, agent, IVR choices, …)."""
        ...


class InboundHandler(Protocol):
    """What call control calls for each inbound call to a tenant's number."""

    async def handle(self, session: CallSession) -> None:
        """Run the call until it is bridged and over, or hung up."""
        ...
