"""Authentication routes: login, logout, who am I, password, admin PCs (R2.2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from koe.api import schemas as s
from koe.api.deps import Caller, Svc, tenant_admin
from koe.core.errors import not_found
from koe.identity.sessions import DEVICE_ID, Principal

router = APIRouter(prefix="/auth", tags=["auth"])

Admin = Annotated[Principal, Depends(tenant_admin)]


@router.post("/login", response_model=s.LoginOut)
async def login(body: s.LoginIn, request: Request, svc: Svc) -> dict[str, Any]:
    """Open a session. Tenant admins send the browser's ``device_id`` (admin PCs are counted);
    when every admin license is in use, ``takeover`` releases the oldest PC."""
    result = await svc.auth.login(
        tenant_code=body.tenant,
        login=body.login,
        password=body.password,
        source=request.client.host if request.client else "unknown",
        device_id=body.device_id,
        device_label=body.device_label,
        takeover=body.takeover,
    )
    p = result.principal
    return {
        "token": result.token,
        "expires_at": p.expires_at,
        "role": p.role.value,
        "tenant_id": p.tenant_id,
        "user_id": p.user_id,
        "device_id": p.device_id,
        "released_devices": list(result.released_devices),
    }


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(caller: Caller, svc: Svc) -> Response:
    """End this session."""
    await svc.auth.logout(caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=s.MeOut)
async def me(caller: Caller, svc: Svc) -> dict[str, Any]:
    """The caller: every role may read itself."""
    return await svc.auth.me(caller)


@router.post("/password", response_model=s.RevokedOut)
async def change_password(body: s.PasswordChange, caller: Caller, svc: Svc) -> dict[str, int]:
    """Change the caller's password; their other sessions end."""
    count = await svc.auth.change_password(caller, body.current_password, body.new_password)
    return {"revoked_sessions": count}


@router.get("/devices", response_model=s.DevicesOut)
async def devices(caller: Admin, svc: Svc) -> dict[str, Any]:
    """The tenant's admin licenses and the admin PCs holding them."""
    assert caller.tenant_id is not None
    found = await svc.auth.devices(caller.tenant_id)
    return {
        "licenses": found.licenses,
        "in_use": [
            {
                "device_id": d.device_id,
                "label": d.label,
                "since": d.since,
                "last_seen": d.last_seen,
                "current": d.device_id == caller.device_id,
            }
            for d in found.devices
        ],
    }


@router.delete(
    "/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def release_device(device_id: str, caller: Admin, svc: Svc) -> Response:
    """End the admin sessions of one PC, freeing its admin license."""
    assert caller.tenant_id is not None
    if not DEVICE_ID.match(device_id):
        raise not_found("端末", "Device")
    await svc.auth.revoke_device(caller.tenant_id, device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
