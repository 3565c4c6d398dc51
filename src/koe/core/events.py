"""Domain events and the in-process bus (NATS or LISTEN/NOTIFY at scale; see the map)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, published after the commit that made it true."""

    type: str
    tenant_id: str | None
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    """Fan events out to subscribers; a failing subscriber never breaks the publisher."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self.published: int = 0

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Add ``handler``; returns a function that removes it."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber in order."""
        self.published += 1
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed type=%s tenant=%s", event.type, event.tenant_id)
