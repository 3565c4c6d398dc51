"""A record of every tenant-visible billing resource (invoice, notice, payment) for API tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from koe.core.clock import JST
from koe.core.domain import ContractStatus
from koe.core.money import Money
from tests.api.conftest import Tenant, World
from tests.billing.helpers import issuer

ACCOUNT = ("invoices", "notices", "payments")
NOVEMBER = date(2026, 11, 1)


async def invoiced(world: World, tenant: Tenant, *, with_issuer: bool = True) -> dict[str, Any]:
    """Make ``tenant`` active from 1 Nov 2026 and issue its November invoice."""
    koe = world.koe
    await koe.tenants.update(
        tenant.id, {"status": ContractStatus.ACTIVE, "service_start_date": NOVEMBER}
    )
    if with_issuer:
        await issuer(koe)
    report = await koe.billing.run_month(NOVEMBER, tenant_ids=[tenant.id])
    return await koe.billing.invoice(tenant.id, report.invoice_ids[0])


async def noticed(world: World, tenant: Tenant) -> dict[str, Any]:
    """A notice given to ``tenant`` (an interruption it asked for, next year)."""
    await world.koe.contracts.interrupt(tenant.id, datetime(2027, 1, 4, 9, 0, tzinfo=JST))
    notices: list[dict[str, Any]] = await world.koe.contracts.notices(tenant.id)
    return notices[-1]


async def paid(world: World, tenant: Tenant) -> dict[str, Any]:
    """A payment received from ``tenant``."""
    return await world.koe.billing.record_payment(tenant.id, Money(5_000), date(2026, 11, 20))


async def make_account(world: World, tenant: Tenant, resource: str) -> dict[str, Any]:
    """A record of ``resource`` belonging to ``tenant``."""
    makers: dict[str, Callable[[World, Tenant], Awaitable[dict[str, Any]]]] = {
        "invoices": invoiced,
        "notices": noticed,
        "payments": paid,
    }
    return await makers[resource](world, tenant)
