"""A small harness around the ACD engine: a frozen clock, a tenant, helpers to move time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from koe.core.clock import FrozenClock
from koe.core.events import Event
from koe.routing.actions import Action, Offer
from koe.routing.engine import RoutingEngine
from koe.routing.model import Need, QueueConfig

T = "tenant-1"
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class Acd:
    """One tenant's ACD with a clock the test moves; keeps every action and event."""

    def __init__(self, **engine_options: Any) -> None:
        self.clock = FrozenClock(START)
        engine_options.setdefault("presence_timeout", None)
        self.engine = RoutingEngine(self.clock, **engine_options)
        self.engine.set_seat_limit(T, 100)
        self.actions: list[Action] = []
        self.events: list[Event] = []

    def _keep(self, actions: list[Action]) -> list[Action]:
        self.actions.extend(actions)
        self.events.extend(self.engine.take_events())
        return actions

    def queue(self, queue_id: str, need: Mapping[str, int] | Need | None = None, **kw: Any) -> None:
        """Configure a queue; ``need`` is a skills mapping (all required) or a Need."""
        if need is None:
            kw["need"] = Need.any_agent()
        else:
            kw["need"] = need if isinstance(need, Need) else Need.all_of(need)
        self._keep(self.engine.configure_queue(T, QueueConfig(queue_id, **kw)))

    def login(
        self, agent_id: str, skills: Mapping[str, int] | None = None, **kw: Any
    ) -> list[Action]:
        return self._keep(self.engine.login(T, agent_id, skills or {}, **kw))

    def call(self, call_id: str, queue_id: str, **kw: Any) -> list[Action]:
        return self._keep(self.engine.enqueue(T, call_id, queue_id, **kw))

    def do(self, method: str, *args: Any, **kw: Any) -> list[Action]:
        """Call ``engine.method(T, *args)`` and keep what it returns."""
        return self._keep(getattr(self.engine, method)(T, *args, **kw))

    def wait(self, seconds: float) -> list[Action]:
        """Move the clock on and run the due timers."""
        self.clock.advance(timedelta(seconds=seconds))
        return self._keep(self.engine.tick())

    def state(self, agent_id: str) -> str:
        return self.engine.agent(T, agent_id).state

    def offers(self, actions: list[Action] | None = None) -> list[tuple[str, str]]:
        """(call, agent) of every offer in ``actions`` (default: all so far)."""
        return [
            (a.call_id, a.agent_id)
            for a in (self.actions if actions is None else actions)
            if isinstance(a, Offer)
        ]

    def connect(self, call_id: str) -> None:
        """The offered agent answers."""
        self.do("answered", call_id)

    def talking(self, agent_id: str, call_id: str, queue_id: str = "q") -> None:
        """Log ``agent_id`` in and put them on ``call_id`` (which must reach them)."""
        self.login(agent_id)
        assert self.offers(self.call(call_id, queue_id)) == [(call_id, agent_id)]
        self.connect(call_id)

    def types(self) -> list[str]:
        return [e.type for e in self.events]


@pytest.fixture
def acd() -> Acd:
    """An ACD with presence tracking off (tests of presence turn it on)."""
    return Acd()
