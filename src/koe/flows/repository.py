"""Reads from the store for the flow engine and the ACD (tenant-scoped, read-only).

``StorePlans`` builds a call's plan in one transaction; ``StoreDirectory`` gives the ACD a
tenant's queues, seat licenses and agents' skills. Every query filters by ``tenant_id``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from koe.core.clock import Clock, jst_today
from koe.core.errors import ValidationFailed
from koe.flows.hours import Calendar
from koe.flows.plan import CallPlan
from koe.flows.queues import queue_config
from koe.licensing.rules import holdings_on
from koe.routing.model import QueueConfig
from koe.store.db import Database
from koe.store.models import (
    Agent,
    AgentSkill,
    BusinessHours,
    CallFlow,
    IvrMenu,
    LicenseHolding,
    PhoneNumber,
    Queue,
    Tenant,
)
from koe.tenancy.settings import TenantSettings
from koe.tenancy.settings import resolve as resolve_settings

log = logging.getLogger(__name__)


async def _settings(s: AsyncSession, tenant_id: str) -> TenantSettings:
    tenant = await s.get(Tenant, tenant_id)
    return resolve_settings(tenant.settings or {}) if tenant is not None else TenantSettings()


def _refs(document: dict[str, Any], node_type: str, field: str) -> set[str]:
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(nodes, dict):
        return set()
    return {
        str(n[field])
        for n in nodes.values()
        if isinstance(n, dict) and n.get("type") == node_type and isinstance(n.get(field), str)
    }


class StorePlans:
    """Call plans from the store: number → flow (current version) → IVRs and calendars."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def plan(self, tenant_id: str, number: str) -> CallPlan | None:
        """The plan of ``number`` (E.164) in ``tenant_id``; None if the tenant lacks it."""
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(PhoneNumber).where(
                        PhoneNumber.tenant_id == tenant_id, PhoneNumber.e164 == number
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            settings = await _settings(s, tenant_id)
            flow = None
            if row.flow_id is not None:
                flow = (
                    await s.execute(
                        select(CallFlow).where(
                            CallFlow.tenant_id == tenant_id, CallFlow.id == row.flow_id
                        )
                    )
                ).scalar_one_or_none()
            if flow is None:
                return CallPlan(tenant_id, number, None, settings=settings)
            document = dict(flow.document or {})
            ivr_ids = _refs(document, "ivr_menu", "ivr")
            hours_ids = _refs(document, "business_hours", "calendar")
            ivrs: dict[str, Any] = {}
            if ivr_ids:
                for ivr in (
                    await s.execute(
                        select(IvrMenu).where(
                            IvrMenu.tenant_id == tenant_id, IvrMenu.id.in_(ivr_ids)
                        )
                    )
                ).scalars():
                    ivrs[ivr.id] = dict(ivr.document or {})
            calendars: dict[str, Calendar] = {}
            if hours_ids:
                for hours in (
                    await s.execute(
                        select(BusinessHours).where(
                            BusinessHours.tenant_id == tenant_id,
                            BusinessHours.id.in_(hours_ids),
                        )
                    )
                ).scalars():
                    calendars[hours.id] = Calendar.from_row(
                        {
                            "weekly": hours.weekly,
                            "special_days": hours.special_days,
                            "closed_on_public_holidays": hours.closed_on_public_holidays,
                            "timezone": hours.timezone,
                        }
                    )
            return CallPlan(
                tenant_id=tenant_id,
                number=number,
                flow_id=flow.id,
                flow_name=flow.name,
                version=flow.version,
                document=document,
                ivrs=ivrs,
                calendars=calendars,
                settings=settings,
            )


def _queue_row(row: Queue) -> dict[str, Any]:
    return {
        "id": row.id,
        "skills": row.skills,
        "priority": row.priority,
        "wrap_up_seconds": row.wrap_up_seconds,
        "max_wait_seconds": row.max_wait_seconds,
        "max_length": row.max_length,
        "service_level_seconds": row.service_level_seconds,
        "routing": row.routing,
    }


def _config(row: Queue, settings: TenantSettings) -> QueueConfig:
    values = _queue_row(row)
    try:
        return queue_config(values, ring_timeout_seconds=settings.ring_timeout_seconds)
    except ValidationFailed as err:
        # Saved before the options were checked (or by hand): the columns still work.
        log.error(
            "queue routing options ignored tenant=%s queue=%s: %s",
            row.tenant_id,
            row.id,
            err.message_en,
        )
        values["routing"] = {}
        return queue_config(values, ring_timeout_seconds=settings.ring_timeout_seconds)


class StoreDirectory:
    """A tenant's queues, seat licenses and agents' skills, for the ACD."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def queues(self, tenant_id: str) -> list[QueueConfig]:
        """Every queue of the tenant as routing settings."""
        async with self.db.transaction() as s:
            settings = await _settings(s, tenant_id)
            rows = (
                await s.execute(
                    select(Queue).where(Queue.tenant_id == tenant_id).order_by(Queue.name)
                )
            ).scalars()
            return [_config(row, settings) for row in rows]

    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None:
        """One queue's routing settings; None if the tenant has no such queue."""
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(Queue).where(Queue.tenant_id == tenant_id, Queue.id == queue_id)
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return _config(row, await _settings(s, tenant_id))

    async def seat_limit(self, tenant_id: str) -> int:
        """Seat licenses in force today, JST (R2.2)."""
        async with self.db.transaction() as s:
            rows = (
                await s.execute(select(LicenseHolding).where(LicenseHolding.tenant_id == tenant_id))
            ).scalars()
            return holdings_on(list(rows), jst_today(self.clock)).seat

    async def agent_skills(self, tenant_id: str, agent_id: str) -> dict[str, int] | None:
        """The agent's skills; None if the tenant has no such agent."""
        async with self.db.transaction() as s:
            agent = (
                await s.execute(
                    select(Agent.id).where(Agent.tenant_id == tenant_id, Agent.id == agent_id)
                )
            ).scalar_one_or_none()
            if agent is None:
                return None
            rows = await s.execute(
                select(AgentSkill.skill_id, AgentSkill.level).where(
                    AgentSkill.tenant_id == tenant_id, AgentSkill.agent_id == agent_id
                )
            )
            return {skill: level for skill, level in rows}

    async def agent_of_user(self, tenant_id: str, user_id: str) -> str | None:
        """The agent profile of a user (agents act on themselves); None if they have none."""
        async with self.db.transaction() as s:
            return (
                await s.execute(
                    select(Agent.id).where(Agent.tenant_id == tenant_id, Agent.user_id == user_id)
                )
            ).scalar_one_or_none()
