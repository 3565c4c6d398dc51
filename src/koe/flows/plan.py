"""What a call runs on: the number's flow at the version current when the call started.

A ``CallPlan`` is read once, when the call arrives, with everything the flow refers to (IVR
menus, business-hours calendars) and the tenant's settings; later edits do not change a
call in progress. ``PlanSource`` is where plans come from (the store: ``repository``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from koe.flows.hours import Calendar
from koe.tenancy.settings import TenantSettings


@dataclass(frozen=True, slots=True)
class CallPlan:
    """A dialled number of a tenant and the flow it runs (``flow_id`` None: none assigned)."""

    tenant_id: str
    number: str
    flow_id: str | None
    flow_name: str = ""
    version: int = 0
    document: Mapping[str, Any] = field(default_factory=dict)
    ivrs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    settings: TenantSettings = field(default_factory=TenantSettings)


class PlanSource(Protocol):
    """Finds the plan of a dialled number."""

    async def plan(self, tenant_id: str, number: str) -> CallPlan | None:
        """The number's plan in ``tenant_id``; None if the tenant has no such number."""
        ...
