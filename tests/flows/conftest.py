"""A flow engine and ACD over in-memory sources, a frozen clock and fake call control."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from koe.core.clock import FrozenClock
from koe.core.events import Event, EventBus
from koe.flows.acd import AcdService
from koe.flows.engine import FlowEngine
from koe.flows.hours import Calendar
from koe.flows.plan import CallPlan
from koe.flows.prompts import Prompts
from koe.media.prompts import PromptLibrary
from koe.routing.model import Need, QueueConfig
from koe.tenancy.settings import TenantSettings
from tests.api.conftest import api_app, cheap_argon2, http, world  # noqa: F401  (API tests)
from tests.flows.fakes import FakeDialer, FakeSession, Phones, Trunk

T = "tenant-a"
NUMBER = "+81312345678"
# Tuesday 2026-11-24, 10:00 in Tokyo.
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
WEEKDAYS_9_18 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


class MemoryDirectory:
    """The ACD's view of tenants, kept in dicts."""

    def __init__(self) -> None:
        self.queue_configs: dict[str, dict[str, QueueConfig]] = {}
        self.seats: dict[str, int] = {}
        self.skills: dict[str, dict[str, dict[str, int]]] = {}

    async def queues(self, tenant_id: str) -> list[QueueConfig]:
        return list(self.queue_configs.get(tenant_id, {}).values())

    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None:
        return self.queue_configs.get(tenant_id, {}).get(queue_id)

    async def seat_limit(self, tenant_id: str) -> int:
        return self.seats.get(tenant_id, 0)

    async def agent_skills(self, tenant_id: str, agent_id: str) -> dict[str, int] | None:
        return self.skills.get(tenant_id, {}).get(agent_id)

    async def agent_of_user(self, tenant_id: str, user_id: str) -> str | None:
        return user_id if user_id in self.skills.get(tenant_id, {}) else None


class MemoryPlans:
    """Numbers → plans, kept in a dict (a plan is copied as the call starts, like the store)."""

    def __init__(self) -> None:
        self.plans: dict[tuple[str, str], CallPlan] = {}

    async def plan(self, tenant_id: str, number: str) -> CallPlan | None:
        return self.plans.get((tenant_id, number))


class Harness:
    """Everything a flow test needs; the test moves the clock with ``advance``."""

    def __init__(self, tmp: Path, **acd_options: Any) -> None:
        self.clock = FrozenClock(START)
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self._keep)
        self.directory = MemoryDirectory()
        self.plans = MemoryPlans()
        self.data = tmp
        self.prompts = Prompts(PromptLibrary(tmp))
        self.phones = Phones()
        self.trunk = Trunk()
        self.dialer = FakeDialer(self.phones, self.trunk)
        acd_options.setdefault("dialer", self.dialer)
        acd_options.setdefault("max_sleep", 0.01)
        acd_options.setdefault("presence_timeout", None)  # presence tests turn it on
        self.acd = AcdService(self.clock, self.bus, self.directory, self.prompts, **acd_options)
        self.engine = FlowEngine(
            self.plans,
            self.acd,
            self.prompts,
            clock=self.clock,
            bus=self.bus,
            voicemail_dir=tmp / "voicemail",
        )
        self.tasks: list[asyncio.Task[None]] = []

    async def _keep(self, event: Event) -> None:
        self.events.append(event)

    # ---- setup ----

    def queue(self, queue_id: str, need: Mapping[str, int] | None = None, **kw: Any) -> None:
        kw.setdefault("need", Need.all_of(need) if need else Need.any_agent())
        kw.setdefault("announce_first_seconds", None)
        kw.setdefault("announce_position", False)
        kw.setdefault("announce_ewt", False)
        self.directory.queue_configs.setdefault(T, {})[queue_id] = QueueConfig(queue_id, **kw)

    def agent(self, agent_id: str, skills: Mapping[str, int] | None = None) -> None:
        self.directory.skills.setdefault(T, {})[agent_id] = dict(skills or {})
        self.directory.seats[T] = self.directory.seats.get(T, 0) + 1

    def flow(
        self,
        nodes: dict[str, Any],
        start: str,
        *,
        number: str = NUMBER,
        ivrs: Mapping[str, Any] | None = None,
        calendars: Mapping[str, Any] | None = None,
        settings: TenantSettings | None = None,
        version: int = 1,
    ) -> CallPlan:
        plan = CallPlan(
            tenant_id=T,
            number=number,
            flow_id="flow-1",
            flow_name="main",
            version=version,
            document={"start": start, "nodes": nodes},
            ivrs=dict(ivrs or {}),
            calendars={k: Calendar.from_row(v) for k, v in (calendars or {}).items()},
            settings=settings or TenantSettings(),
        )
        self.plans.plans[(T, number)] = plan
        return plan

    def reflow(self, plan: CallPlan, **changes: Any) -> None:
        self.plans.plans[(plan.tenant_id, plan.number)] = replace(plan, **changes)

    # ---- running ----

    def session(self, **kw: Any) -> FakeSession:
        kw.setdefault("phones", self.phones)
        kw.setdefault("trunk", self.trunk)
        return FakeSession(T, kw.pop("called", NUMBER), **kw)

    def call(self, session: FakeSession) -> asyncio.Task[None]:
        task = asyncio.create_task(self.engine.handle(session))
        self.tasks.append(task)
        return task

    async def run(self, session: FakeSession, timeout: float = 5.0) -> FakeSession:
        """Run a call to its end."""
        await asyncio.wait_for(self.engine.handle(session), timeout)
        return session

    async def login(self, agent_id: str, **kw: Any) -> None:
        await self.acd.login(T, agent_id, **kw)
        await self.settle()

    async def advance(self, seconds: float) -> None:
        """Move the clock on and let the ACD's timers and the calls react."""
        self.clock.advance(timedelta(seconds=seconds))
        self.acd.poke()
        await self.settle()

    async def settle(self, rounds: int = 3) -> None:
        for _ in range(rounds):
            await asyncio.sleep(0.002)

    async def until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        """Poll ``predicate`` (bounded): fail with a clear message if it never holds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.002)

    def state(self, agent_id: str) -> str:
        return self.acd.engine.agent(T, agent_id).state

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        _, pending = await asyncio.wait(self.tasks, timeout=2) if self.tasks else (set(), set())
        for task in pending:
            task.print_stack()
        assert not pending, "call tasks did not end when cancelled"
        await asyncio.wait_for(self.acd.stop(), 2)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    try:
        yield harness
    finally:
        await harness.close()
