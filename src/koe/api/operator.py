"""Operator routes: tenants, their licenses and add-ons, and any tenant's directory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from koe.api import schemas as s
from koe.api.deps import (
    Action,
    ObjectId,
    Scope,
    Svc,
    operated_tenant,
    operator,
    operator_admin,
)
from koe.api.directory import add_directory_routes
from koe.core.domain import AddOn, LicenseKind, Role
from koe.identity.sessions import Principal

router = APIRouter(prefix="/operator", tags=["operator"], dependencies=[Depends(operator)])

Operator = Annotated[Principal, Depends(operator)]
OperatorAdmin = Annotated[Principal, Depends(operator_admin)]
Tenant = Annotated[Scope, Depends(operated_tenant("tenants", Action.READ))]


@router.get("/tenants", response_model=s.PageOut[s.TenantOut])
async def list_tenants(
    query: Annotated[s.ListQuery, Query()], caller: Operator, svc: Svc
) -> dict[str, Any]:
    """Tenants, searched by code or company name."""
    items, total = await svc.tenants.list(q=query.q, offset=query.offset, limit=query.limit)
    return {"items": items, "total": total, "offset": query.offset, "limit": query.limit}


@router.post("/tenants", response_model=s.TenantOut, status_code=status.HTTP_201_CREATED)
async def create_tenant(body: s.TenantCreate, caller: Operator, svc: Svc) -> dict[str, Any]:
    """Register a tenant (R3.1) with its contacts."""
    data = body.model_dump(exclude={"contacts"})
    return await svc.tenants.create(data, [c.model_dump() for c in body.contacts])


@router.get("/tenants/{tenant_id}", response_model=s.TenantOut)
async def get_tenant(scope: Tenant, svc: Svc) -> dict[str, Any]:
    """One tenant."""
    return await svc.tenants.get(scope.tenant_id)


@router.patch("/tenants/{tenant_id}", response_model=s.TenantOut)
async def update_tenant(scope: Tenant, body: s.TenantUpdate, svc: Svc) -> dict[str, Any]:
    """Change a tenant's details or contract status."""
    return await svc.tenants.update(scope.tenant_id, body.model_dump(exclude_unset=True))


@router.delete(
    "/tenants/{tenant_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_tenant(scope: Tenant, caller: OperatorAdmin, svc: Svc) -> Response:
    """Remove a tenant that is not in service (operator admins only)."""
    await svc.tenants.delete(scope.tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/tenants/{tenant_id}/licenses",
    response_model=s.LicenseOut,
    status_code=status.HTTP_201_CREATED,
    tags=["licenses"],
)
async def buy_licenses(scope: Tenant, body: s.LicenseBuy, svc: Svc) -> dict[str, Any]:
    """Record licenses bought by the tenant (R2.1)."""
    return await svc.tenants.add_license(
        scope.tenant_id,
        LicenseKind(body.kind),
        body.quantity,
        body.effective_from,
        body.effective_to,
    )


@router.post(
    "/tenants/{tenant_id}/addons",
    response_model=s.AddOnOut,
    status_code=status.HTTP_201_CREATED,
    tags=["addons"],
)
async def subscribe_addon(scope: Tenant, body: s.AddOnSubscribe, svc: Svc) -> dict[str, Any]:
    """Subscribe the tenant to an add-on (needs the basic service; never after cancelling)."""
    return await svc.tenants.subscribe_addon(
        scope.tenant_id, AddOn(body.addon), body.units, body.starts_on
    )


tenant_router = APIRouter(prefix="/tenants/{tenant_id}")
add_directory_routes(tenant_router, operated_tenant)
router.include_router(tenant_router)


@router.get("/staff", response_model=list[s.StaffOut], tags=["operator staff"])
async def list_staff(caller: Operator, svc: Svc) -> list[dict[str, Any]]:
    """The operator's staff."""
    return await svc.auth.operator_users()


@router.post(
    "/staff",
    response_model=s.StaffOut,
    status_code=status.HTTP_201_CREATED,
    tags=["operator staff"],
)
async def add_staff(body: s.StaffCreate, caller: OperatorAdmin, svc: Svc) -> dict[str, Any]:
    """Add a staff member (operator admins only)."""
    return await svc.auth.add_operator_user(
        body.login, body.name, body.password, Role(body.role), body.email
    )


@router.get("/staff/{object_id}", response_model=s.StaffOut, tags=["operator staff"])
async def get_staff(object_id: ObjectId, caller: Operator, svc: Svc) -> dict[str, Any]:
    """One staff member."""
    return await svc.auth.operator_user(object_id)


@router.patch("/staff/{object_id}", response_model=s.StaffOut, tags=["operator staff"])
async def update_staff(
    object_id: ObjectId, body: s.StaffUpdate, caller: OperatorAdmin, svc: Svc
) -> dict[str, Any]:
    """Change a staff member (operator admins only; the last admin always stays)."""
    return await svc.auth.update_operator_user(
        caller, object_id, body.model_dump(exclude_unset=True)
    )


@router.delete(
    "/staff/{object_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["operator staff"],
)
async def delete_staff(object_id: ObjectId, caller: OperatorAdmin, svc: Svc) -> Response:
    """Remove a staff member (not oneself, not the last operator admin)."""
    await svc.auth.delete_operator_user(caller, object_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
