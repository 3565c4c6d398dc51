"""A pool of rtpengines: one is chosen per call, health-checked by ping, calls stay put."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from koe.core.errors import KoeError
from koe.media.ng import MediaUnavailable, NgClient

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One engine of the pool and what the pool knows of it."""

    client: NgClient
    up: bool = True
    failures: int = 0
    calls: int = 0


class EnginePool:
    """Picks the least-loaded healthy engine for a new call; a call keeps its engine."""

    def __init__(
        self, clients: list[NgClient], *, interval: float = 5.0, down_after: int = 2
    ) -> None:
        if not clients:
            raise ValueError("an engine pool needs at least one engine")
        self.members = [Member(c) for c in clients]
        self.interval = interval
        self.down_after = down_after
        self._by_call: dict[str, Member] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the clients and start health checks."""
        for member in self.members:
            await member.client.start()
        await self.check_all()
        self._task = asyncio.create_task(self._health_loop(), name="media-pool-health")

    async def stop(self) -> None:
        """Stop health checks and close the clients."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for member in self.members:
            await member.client.stop()

    async def check_all(self) -> None:
        """Ping every engine once and update its state."""
        for member in self.members:
            try:
                ok = await member.client.ping()
            except MediaUnavailable:
                ok = False
            if ok:
                if not member.up:
                    log.info("media engine %s is up again", member.client)
                member.up, member.failures = True, 0
            else:
                member.failures += 1
                if member.up and member.failures >= self.down_after:
                    log.warning("media engine %s is down", member.client)
                    member.up = False

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check_all()

    def engine_for(self, call_id: str) -> NgClient:
        """The engine of ``call_id``, choosing one for a new call."""
        member = self._by_call.get(call_id)
        if member is not None:
            return member.client
        healthy = [m for m in self.members if m.up]
        if not healthy:
            raise KoeError(
                "media_none_available",
                "利用できるメディアサーバーがありません。",
                "No media server is available.",
            )
        member = min(healthy, key=lambda m: m.calls)
        member.calls += 1
        self._by_call[call_id] = member
        return member.client

    def release(self, call_id: str) -> None:
        """Forget ``call_id`` (after its delete)."""
        member = self._by_call.pop(call_id, None)
        if member is not None:
            member.calls -= 1
