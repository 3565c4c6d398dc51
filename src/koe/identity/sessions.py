"""Login sessions, throttling and admin-device accounting (filled in by the API work)."""

from __future__ import annotations

from koe.core.clock import Clock
from koe.core.events import EventBus
from koe.core.settings import Settings
from koe.store.db import Database


class AuthService:
    """Authenticates people and manages their sessions."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.settings = settings
