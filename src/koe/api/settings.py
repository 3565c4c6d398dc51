"""Tenant settings: ``/api/v1/settings`` for the tenant, ``/operator/tenants/{id}/settings``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from koe.api.deps import Action, Scope, ScopeDep, Svc, operated_tenant, own_tenant
from koe.api.schemas import Patch
from koe.tenancy.settings import TenantSettings


class SettingsPatch(Patch):
    """Any subset of the tenant settings (validated against ``TenantSettings``)."""

    language: str | None = None
    timezone: str | None = None
    record_calls: bool | None = None
    recording_notice: bool | None = None
    wrap_up_seconds: int | None = None
    ring_timeout_seconds: int | None = None
    international_calls: bool | None = None
    transcription_over_plan: str | None = None


def _routes(router: APIRouter, prefix: str, read: ScopeDep, write: ScopeDep) -> None:
    @router.get(f"{prefix}/settings", response_model=TenantSettings, tags=["settings"])
    async def get_settings(svc: Svc, scope: Scope = Depends(read)) -> TenantSettings:  # noqa: B008
        """The tenant's settings (defaults filled in)."""
        return await svc.tenants.settings(scope.tenant_id)

    @router.patch(f"{prefix}/settings", response_model=TenantSettings, tags=["settings"])
    async def patch_settings(
        body: SettingsPatch,
        svc: Svc,
        scope: Scope = Depends(write),  # noqa: B008
    ) -> TenantSettings:
        """Change some settings; the rest stay as they are."""
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        return await svc.tenants.update_settings(scope.tenant_id, changes)


def add_settings_routes(router: APIRouter) -> None:
    """GET and PATCH of the settings, for the tenant's staff and for the operator."""
    _routes(router, "", own_tenant("settings", Action.READ), own_tenant("settings", Action.WRITE))
    _routes(
        router,
        "/operator/tenants/{tenant_id}",
        operated_tenant("settings", Action.READ),
        operated_tenant("settings", Action.WRITE),
    )
