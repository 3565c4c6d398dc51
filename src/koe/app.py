"""Composition root: the one place that builds and wires every service."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import FastAPI

from koe.api.app import create_api
from koe.billing.service import BillingService
from koe.calls.session import InboundHandler
from koe.contracts.mailer import NoticeMailer
from koe.contracts.service import ContractService
from koe.core.clock import Clock, SystemClock
from koe.core.events import EventBus
from koe.core.settings import Settings, load_settings
from koe.flows.acd import AcdService
from koe.flows.engine import FlowEngine
from koe.flows.prompts import Prompts
from koe.flows.repository import StoreDirectory, StorePlans
from koe.flows.service import FlowService
from koe.identity.sessions import AuthService
from koe.media.prompts import PromptLibrary
from koe.store.db import Database
from koe.tenancy.service import DirectoryService, TenantService

log = logging.getLogger(__name__)


@dataclass
class Koe:
    """Every service of one Koe process, built once by ``build``."""

    settings: Settings
    clock: Clock
    db: Database
    bus: EventBus
    tenants: TenantService
    directory: DirectoryService
    auth: AuthService
    billing: BillingService
    contracts: ContractService
    notices: NoticeMailer
    acd: AcdService
    inbound: InboundHandler  # the flow engine, for call control
    flows: FlowService
    extras: dict[str, object] = field(default_factory=dict)

    async def close(self) -> None:
        """Release what ``build`` opened (after the notice e-mails being sent)."""
        await self.acd.stop()
        await self.notices.close()
        await self.db.dispose()


def build(
    settings: Settings, *, clock: Clock | None = None, database_url: str | None = None
) -> Koe:
    """Build and wire the services for ``settings`` (the database must be migrated)."""
    clock = clock or SystemClock()
    db = Database(database_url or settings.resolved_database_url())
    bus = EventBus()
    directory = DirectoryService(db, clock, bus)
    tenants = TenantService(db, clock, bus)
    contracts = ContractService(db, clock, bus, tenants)
    bus.subscribe(contracts.on_event)  # paying lifts an Art. 16-2 suspension
    notices = NoticeMailer(db, clock, settings)
    bus.subscribe(notices.on_event)  # a stored notice is e-mailed at once
    prompts = Prompts(PromptLibrary(settings.data_dir))
    acd = AcdService(clock, bus, StoreDirectory(db, clock), prompts)
    bus.subscribe(acd.on_event)  # queue, agent, license and settings changes
    inbound = FlowEngine(
        StorePlans(db),
        acd,
        prompts,
        clock=clock,
        bus=bus,
        voicemail_dir=settings.data_dir / "voicemail",
    )
    return Koe(
        settings=settings,
        clock=clock,
        db=db,
        bus=bus,
        tenants=tenants,
        directory=directory,
        auth=AuthService(db, clock, bus, settings),
        billing=BillingService(db, clock, bus),
        contracts=contracts,
        notices=notices,
        acd=acd,
        inbound=inbound,
        flows=FlowService(db, directory),
    )


def asgi(settings: Settings | None = None) -> FastAPI:
    """The HTTP API of a fully built Koe, for an ASGI server (``uvicorn --factory``)."""
    koe = build(settings or load_settings())
    return create_api(koe, close_on_shutdown=True)
