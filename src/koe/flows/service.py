"""Flow versions and queue routing options: the flows package's changes to the store.

Saving a flow's document (``DirectoryService``) makes a new version and keeps it in
``call_flow_versions``; a rollback saves an old version's document as the newest version,
so the history stays linear and calls in progress finish on the version they started with
(the engine reads the document once per call). Changes go through the directory service,
which validates, commits and publishes ``flows.updated`` / ``queues.updated``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from koe.core.errors import not_found
from koe.flows.errors import rollback_to_current, version_not_found
from koe.flows.queues import queue_config
from koe.store.db import Database
from koe.store.models import CallFlow, CallFlowVersion
from koe.tenancy.service import DirectoryService, View, row_view


class FlowService:
    """A tenant's flow versions (list, read, roll back) and queue routing options."""

    def __init__(self, db: Database, directory: DirectoryService) -> None:
        self.db = db
        self.directory = directory

    async def _flow(self, tenant_id: str, flow_id: str) -> CallFlow:
        async with self.db.transaction() as s:
            flow = (
                await s.execute(
                    select(CallFlow).where(CallFlow.tenant_id == tenant_id, CallFlow.id == flow_id)
                )
            ).scalar_one_or_none()
            if flow is None:
                raise not_found("着信フロー", "Call flow")
            return flow

    async def versions(self, tenant_id: str, flow_id: str) -> list[View]:
        """Every saved version of the flow, newest first (without the documents)."""
        await self._flow(tenant_id, flow_id)
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(CallFlowVersion)
                    .where(
                        CallFlowVersion.tenant_id == tenant_id,
                        CallFlowVersion.flow_id == flow_id,
                    )
                    .order_by(CallFlowVersion.version.desc())
                )
            ).scalars()
            return [row_view(r, exclude=("document",)) for r in rows]

    async def version(self, tenant_id: str, flow_id: str, version: int) -> View:
        """One saved version with its document."""
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(CallFlowVersion).where(
                        CallFlowVersion.tenant_id == tenant_id,
                        CallFlowVersion.flow_id == flow_id,
                        CallFlowVersion.version == version,
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise version_not_found(flow_id, version)
            return row_view(row)

    async def rollback(self, tenant_id: str, flow_id: str, version: int | None = None) -> View:
        """Make ``version``'s document (default: the previous version's) current again, as a
        new version; the flow's view."""
        flow = await self._flow(tenant_id, flow_id)
        if version is None:
            version = flow.version - 1
        old = await self.version(tenant_id, flow_id, version)
        if version == flow.version:
            raise rollback_to_current(version)
        return await self.directory.update(
            tenant_id,
            "flows",
            flow_id,
            {"document": old["document"], "version_note": f"rollback to version {version}"},
        )

    async def set_queue_routing(
        self, tenant_id: str, queue_id: str, routing: dict[str, Any]
    ) -> View:
        """Validate and store a queue's routing options (escalation, overflow, announcements)."""
        queue = await self.directory.get(tenant_id, "queues", queue_id)
        queue_config({**queue, "routing": routing})  # raises a precise error
        return await self.directory.update(tenant_id, "queues", queue_id, {"routing": routing})
