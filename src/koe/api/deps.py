"""Request context: the services, the caller (authentication) and the tenant (RBAC)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Protocol

from fastapi import Depends, Path, Request

from koe.billing.service import BillingService
from koe.contracts.mailer import NoticeMailer
from koe.contracts.service import ContractService
from koe.core.clock import Clock
from koe.core.domain import Role
from koe.core.errors import AuthenticationFailed, PermissionDenied, not_found
from koe.core.settings import Settings
from koe.identity.sessions import AuthService, Principal
from koe.tenancy.service import DirectoryService, TenantService


class Services(Protocol):
    """What the API needs from the composition root (``koe.app.Koe`` fits)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def tenants(self) -> TenantService: ...
    @property
    def directory(self) -> DirectoryService: ...
    @property
    def auth(self) -> AuthService: ...
    @property
    def billing(self) -> BillingService: ...
    @property
    def contracts(self) -> ContractService: ...
    @property
    def notices(self) -> NoticeMailer: ...
    async def close(self) -> None:
        """Release what the services hold."""


def services(request: Request) -> Services:
    """The services the app was created with."""
    svc: Services = request.app.state.koe
    return svc


Svc = Annotated[Services, Depends(services)]


class Action(StrEnum):
    """What a request does to a resource."""

    READ = "read"
    WRITE = "write"


# Supervisors read what they supervise; agents read only themselves (/auth/me).
SUPERVISOR_READS = frozenset({"agents", "queues", "skills", "settings"})


def may(role: Role, resource: str, action: Action) -> bool:
    """Whether a tenant ``role`` may do ``action`` on ``resource`` of its own tenant."""
    if role is Role.TENANT_ADMIN:
        return True
    if role is Role.SUPERVISOR:
        return action is Action.READ and resource in SUPERVISOR_READS
    return False


def _forbidden() -> PermissionDenied:
    return PermissionDenied(
        "permission_denied",
        "この操作を行う権限がありません。",
        "You are not allowed to do this.",
    )


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "not_authenticated",
            "ログインが必要です(Authorization: Bearer <token>)。",
            "Authentication required (Authorization: Bearer <token>).",
        )
    return token.strip()


async def authenticated(request: Request, svc: Svc) -> Principal:
    """The caller, from a live session token."""
    return await svc.auth.authenticate(bearer_token(request))


Caller = Annotated[Principal, Depends(authenticated)]


async def tenant_admin(caller: Caller) -> Principal:
    """The caller, who must be a tenant admin."""
    if caller.role is not Role.TENANT_ADMIN or caller.tenant_id is None:
        raise _forbidden()
    return caller


async def operator(caller: Caller) -> Principal:
    """The caller, who must be operator staff."""
    if not caller.is_operator:
        raise _forbidden()
    return caller


async def operator_admin(caller: Caller) -> Principal:
    """The caller, who must be an operator admin."""
    if caller.role is not Role.OPERATOR_ADMIN:
        raise _forbidden()
    return caller


_OBJECT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def object_id(object_id: Annotated[str, Path(max_length=200)]) -> str:
    """A path object id; one that cannot exist is simply not found."""
    if not _OBJECT_ID.match(object_id):
        raise not_found("対象", "Object")
    return object_id


ObjectId = Annotated[str, Depends(object_id)]


@dataclass(frozen=True, slots=True)
class Scope:
    """The caller and the tenant a request acts on."""

    caller: Principal
    tenant_id: str


ScopeDep = Callable[..., Awaitable[Scope]]


def own_tenant(resource: str, action: Action) -> ScopeDep:
    """Dependency: the caller's own tenant, if their role may ``action`` ``resource``."""

    async def scope(caller: Caller) -> Scope:
        if caller.tenant_id is None or not may(caller.role, resource, action):
            raise _forbidden()
        return Scope(caller, caller.tenant_id)

    return scope


def operated_tenant(resource: str, action: Action) -> ScopeDep:
    """Dependency: the tenant named in the path, for operator staff."""

    async def scope(
        tenant_id: Annotated[str, Path(max_length=200)],
        caller: Annotated[Principal, Depends(operator)],
        svc: Svc,
    ) -> Scope:
        if not _OBJECT_ID.match(tenant_id):
            raise not_found("テナント", "Tenant")
        await svc.tenants.get(tenant_id)  # an unknown tenant is not found
        return Scope(caller, tenant_id)

    return scope
