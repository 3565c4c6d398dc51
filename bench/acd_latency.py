"""ACD latency benchmark: a caller entering a queue → the chosen agent's phone being rung.

The flows side of issue 5's end-to-end figure, in one process, in real time: callers arrive
at 50 calls/s (Poisson) into ``AcdService.queue_call`` on minimal in-memory sessions; 100
agents answer at once and talk 0.5–1.5 s. Latency is the wall time from ``queue_call``
being called to ``ring_agent`` being called on the session, for callers an agent was free
for. Call control adds the INVITE to the agent's phone on top (measured with ``koe.calls``).

Usage: ``bench/acd_latency [seconds]`` (default 20). Last lines: ``acd_ring_p99: N ms`` and
``acd_calls: N``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from koe.calls.session import BridgeResult, CallerIdentity, RingOutcome
from koe.core.clock import SystemClock
from koe.core.events import EventBus
from koe.flows.acd import AcdService
from koe.flows.prompts import Prompts
from koe.media.prompts import PromptLibrary
from koe.routing.model import QueueConfig

TENANT = "bench"
AGENTS = 100
RATE = 50.0


class Directory:
    """One tenant, one queue, every agent eligible."""

    async def queues(self, tenant_id: str) -> list[QueueConfig]:
        return [QueueConfig("q", wrap_up_seconds=0, announce_first_seconds=None)]

    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None:
        return (await self.queues(tenant_id))[0]

    async def seat_limit(self, tenant_id: str) -> int:
        return AGENTS

    async def agent_skills(self, tenant_id: str, agent_id: str) -> dict[str, int] | None:
        return {}

    async def agent_of_user(self, tenant_id: str, user_id: str) -> str | None:
        return None


class Session:
    """A caller: records when an agent is rung; the agent answers and talks a while."""

    def __init__(self, call_id: str, rang: dict[str, float]) -> None:
        self.call_id = call_id
        self.tenant_id = TENANT
        self.called = "+81312345678"
        self.caller = CallerIdentity("+819012345678")
        self._rang = rang

    async def answer(self) -> None: ...
    async def play(self, prompt: Path, *, barge_in: bool = True) -> str | None:
        return None

    async def start_music(self, music: Path) -> None: ...
    async def stop_media(self) -> None: ...
    async def collect_digits(
        self,
        *,
        max_digits: int,
        first_digit_s: float,
        terminator: str = "#",
        inter_digit_s: float = 3.0,
    ) -> str:
        await asyncio.sleep(first_digit_s)
        return ""

    async def ring_agent(self, agent_id: str, *, ring_s: float) -> BridgeResult:
        self._rang[self.call_id] = time.perf_counter()
        ended = asyncio.Event()
        asyncio.get_running_loop().call_later(random.uniform(0.5, 1.5), ended.set)
        return BridgeResult(RingOutcome.ANSWERED, ended=ended)

    async def transfer_out(self, number: str, *, ring_s: float) -> BridgeResult:
        return BridgeResult(RingOutcome.FAILED)

    async def record(self, path: Path, *, max_seconds: float) -> float:
        return 0.0

    async def hangup(self, q850_cause: int = 16) -> None: ...
    def note(self, **attributes: str) -> None: ...


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        acd = AcdService(
            SystemClock(),
            EventBus(),
            Directory(),
            Prompts(PromptLibrary(Path(tmp))),
            presence_timeout=None,
        )
        await acd.start()
        for i in range(AGENTS):
            await acd.login(TENANT, f"agent-{i}")
        entered: dict[str, float] = {}
        rang: dict[str, float] = {}
        calls: list[asyncio.Task[object]] = []

        async def caller(call_id: str) -> object:
            entered[call_id] = time.perf_counter()
            return await acd.queue_call(Session(call_id, rang), "q")

        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            n += 1
            calls.append(asyncio.create_task(caller(f"c{n}")))
            await asyncio.sleep(random.expovariate(RATE))
        await asyncio.gather(*calls)
        await acd.stop()
    latencies = sorted((rang[c] - entered[c]) * 1000 for c in rang if rang[c] - entered[c] < 0.5)
    waited = len(rang) - len(latencies)
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"calls: {n} in {seconds:.0f} s ({n / seconds:.1f}/s), rang: {len(rang)}")
    print(f"callers who waited for an agent: {waited}")
    print(f"queue entry -> ring_agent: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    print(f"acd_ring_p99: {p99:.3f} ms")
    print(f"acd_calls: {n}")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0))
