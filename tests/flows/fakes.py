"""In-memory call control for flow tests: a scripted caller, agents' phones, a trunk.

``FakeSession`` follows ``koe.calls.session.CallSession`` to the letter: every operation
raises ``CallGone`` once the caller has hung up (or the call was hung up); ``note`` keeps
working for the CDR. Waits that call control would time out (digit timeouts, ring time)
last ``seconds × scale`` of real time, so a 5 s IVR timeout takes 5 ms.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import wave
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from koe.calls.session import (
    BridgeResult,
    CallerIdentity,
    CallGone,
    CallSession,
    RingOutcome,
)
from koe.flows.acd import cancel_and_wait

SCALE = 0.001
_ids = itertools.count(1)


def wav(frames: int = 800) -> bytes:
    """A short mono 16-bit 8 kHz WAV (a tenant's recording)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * frames)
    return out.getvalue()


def _gone() -> CallGone:
    return CallGone("call_gone", "通話は終了しています。", "The call is over.")


class Phones:
    """Agents' phones: how each reacts to ringing, and their conversations.

    Behaviours: ``answer`` (at once), ``ignore`` (rings until cancelled), ``no_answer``
    (call control gives up after ``ring_s``), ``busy``, ``reject``, ``fail``.
    """

    def __init__(self, scale: float = SCALE) -> None:
        self.scale = scale
        self.behaviour: dict[str, str] = {}
        self.rang: list[tuple[str, str]] = []  # (call id, agent id), in order
        self.cancelled: list[tuple[str, str]] = []
        self.talking: dict[str, asyncio.Event] = {}  # agent id -> conversation end

    def set(self, agent_id: str, behaviour: str) -> None:
        self.behaviour[agent_id] = behaviour

    def hang_up(self, agent_id: str) -> None:
        """The agent ends the conversation."""
        self.talking.pop(agent_id).set()

    async def ring(
        self, call_id: str, agent_id: str, ring_s: float, gone: asyncio.Event
    ) -> BridgeResult:
        self.rang.append((call_id, agent_id))
        behaviour = self.behaviour.get(agent_id, "answer")
        try:
            if behaviour == "answer":
                ended = asyncio.Event()
                self.talking[agent_id] = ended
                return BridgeResult(RingOutcome.ANSWERED, ended=ended)
            if behaviour in ("busy", "reject", "fail"):
                outcome = {"busy": RingOutcome.BUSY, "reject": RingOutcome.REJECTED}
                return BridgeResult(outcome.get(behaviour, RingOutcome.FAILED), q850_cause=17)
            limit = None if behaviour == "ignore" else ring_s * self.scale
            waiter = asyncio.create_task(gone.wait())
            try:
                done, _ = await asyncio.wait({waiter}, timeout=limit)
            finally:
                await cancel_and_wait(waiter)
            if done:
                return BridgeResult(RingOutcome.CALLER_GONE)
            return BridgeResult(RingOutcome.NO_ANSWER, q850_cause=19)
        except asyncio.CancelledError:
            self.cancelled.append((call_id, agent_id))
            raise


class Trunk:
    """Outside numbers: ``answer`` (talks until ``end``), ``busy`` or ``no_answer``."""

    def __init__(self) -> None:
        self.behaviour: dict[str, str] = {}
        self.dialled: list[str] = []
        self.talking: dict[str, asyncio.Event] = {}

    def end(self, number: str) -> None:
        self.talking.pop(number).set()

    def dial(self, number: str) -> BridgeResult:
        self.dialled.append(number)
        behaviour = self.behaviour.get(number, "answer")
        if behaviour == "answer":
            ended = asyncio.Event()
            self.talking[number] = ended
            return BridgeResult(RingOutcome.ANSWERED, ended=ended)
        if behaviour == "answer_and_end":
            ended = asyncio.Event()
            ended.set()
            return BridgeResult(RingOutcome.ANSWERED, ended=ended)
        if behaviour == "busy":
            return BridgeResult(RingOutcome.BUSY, q850_cause=17)
        return BridgeResult(RingOutcome.NO_ANSWER, q850_cause=19)


class FakeSession:
    """One inbound call: ``digits`` answers the caller's digit waits in order (None:
    the caller presses nothing); after them, keys come from ``press`` or the wait times out.
    """

    def __init__(
        self,
        tenant_id: str,
        called: str,
        *,
        caller: CallerIdentity | None = None,
        digits: Iterable[str | None] = (),
        phones: Phones | None = None,
        trunk: Trunk | None = None,
        record_seconds: float = 7.5,
        scale: float = SCALE,
        call_id: str | None = None,
    ) -> None:
        self._tenant_id = tenant_id
        self._called = called
        self._caller = caller if caller is not None else CallerIdentity("+819012345678")
        self._call_id = call_id or f"call-{next(_ids)}"
        self.script: deque[str | None] = deque(digits)
        self.keys: asyncio.Queue[str] = asyncio.Queue()
        self.phones = phones if phones is not None else Phones(scale)
        self.trunk = trunk if trunk is not None else Trunk()
        self.record_seconds = record_seconds
        self.scale = scale
        self.gone = asyncio.Event()
        self.log: list[tuple[str, str]] = []
        self.notes: dict[str, str] = {}
        self.answered = False
        self.music = False
        self.cause: int | None = None
        self.bridges: list[asyncio.Event] = []

    # ---- the test's side ----

    def press(self, digit: str) -> None:
        """The caller presses a key now."""
        self.keys.put_nowait(digit)

    def caller_hangs_up(self) -> None:
        """The caller hangs up: waits end, every later operation raises CallGone."""
        self.log.append(("caller_hangup", ""))
        self.gone.set()
        for bridge in self.bridges:
            bridge.set()

    def played(self) -> list[str]:
        """Prompts played, as ``lang/id`` (or ``id`` for music), in order."""
        return [what for op, what in self.log if op == "play"]

    def ops(self) -> list[str]:
        return [op for op, _ in self.log]

    # ---- CallSession ----

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def called(self) -> str:
        return self._called

    @property
    def caller(self) -> CallerIdentity:
        return self._caller

    def _check(self) -> None:
        if self.gone.is_set():
            raise _gone()

    async def answer(self) -> None:
        self._check()
        self.answered = True
        self.log.append(("answer", ""))

    async def play(self, prompt: Path, *, barge_in: bool = True) -> str | None:
        self._check()
        name = prompt.name.split(".")[0]
        folder = prompt.parent.name
        label = name if folder in ("default", "prompts") else f"{folder}/{name}"
        self.log.append(("play", label))
        await asyncio.sleep(0)
        self._check()
        if barge_in and not self.keys.empty():
            return self.keys.get_nowait()
        return None

    async def start_music(self, music: Path) -> None:
        self._check()
        self.music = True
        self.log.append(("music", music.name.split(".")[0]))

    async def stop_media(self) -> None:
        self._check()
        self.music = False
        self.log.append(("stop_media", ""))

    async def collect_digits(
        self,
        *,
        max_digits: int,
        first_digit_s: float,
        terminator: str = "#",
        inter_digit_s: float = 3.0,
    ) -> str:
        self._check()
        if self.script:
            item = self.script.popleft()
            self.log.append(("collect", item if item is not None else "<none>"))
            digits = (item or "").split(terminator, 1)[0] if terminator else item or ""
            return digits[:max_digits]
        key = asyncio.create_task(self.keys.get())
        hangup = asyncio.create_task(self.gone.wait())
        try:
            await asyncio.wait(
                {key, hangup},
                timeout=first_digit_s * self.scale,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for task in (key, hangup):
                await cancel_and_wait(task)
        if key.done() and not key.cancelled():
            self.log.append(("collect", key.result()))
            return key.result()[:max_digits]
        self._check()
        return ""

    async def ring_agent(self, agent_id: str, *, ring_s: float) -> BridgeResult:
        self._check()
        self.log.append(("ring", agent_id))
        result = await self.phones.ring(self.call_id, agent_id, ring_s, self.gone)
        if result.outcome is RingOutcome.ANSWERED:
            assert result.ended is not None
            self.music = False
            self.log.append(("bridged", agent_id))
            self.bridges.append(result.ended)
        return result

    async def transfer_out(self, number: str, *, ring_s: float) -> BridgeResult:
        self._check()
        self.log.append(("transfer", number))
        result = self.trunk.dial(number)
        if result.ended is not None:
            self.bridges.append(result.ended)
        return result

    async def record(self, path: Path, *, max_seconds: float) -> float:
        self._check()
        self.log.append(("record", str(path)))
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x00" * 800)
        return min(self.record_seconds, max_seconds)

    async def hangup(self, q850_cause: int = 16) -> None:
        self._check()
        self.cause = q850_cause
        self.log.append(("hangup", str(q850_cause)))
        self.gone.set()
        for bridge in self.bridges:
            bridge.set()

    def note(self, **attributes: str) -> None:
        for key, value in attributes.items():
            assert isinstance(value, str), (key, value)
        self.notes.update(attributes)


class FakeDialer:
    """Call control's callback side: rings the agent, gives a session on the agent's leg."""

    def __init__(self, phones: Phones, trunk: Trunk) -> None:
        self.phones = phones
        self.trunk = trunk
        self.sessions: list[FakeSession] = []

    async def call_agent(
        self, tenant_id: str, agent_id: str, *, callback_id: str, ring_s: float
    ) -> tuple[RingOutcome, CallSession | None]:
        never = asyncio.Event()
        result = await self.phones.ring(callback_id, agent_id, ring_s, never)
        if result.outcome is not RingOutcome.ANSWERED:
            return result.outcome, None
        session = FakeSession(
            tenant_id,
            "",
            caller=CallerIdentity(None, display_name=agent_id),
            phones=self.phones,
            trunk=self.trunk,
            call_id=f"{callback_id}-agent",
        )
        assert result.ended is not None
        session.bridges.append(result.ended)
        self.sessions.append(session)
        return RingOutcome.ANSWERED, session


def is_session(session: FakeSession) -> CallSession:
    """Type check: the fake is a CallSession."""
    return session
