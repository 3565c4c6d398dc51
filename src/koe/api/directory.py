"""CRUD routes for every directory resource, for a tenant's own staff and for the operator.

The same handlers serve ``/api/v1/{resource}`` (the caller's tenant, by role) and
``/api/v1/operator/tenants/{tenant_id}/{resource}`` (operator staff, any tenant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel

from koe.api import schemas as s
from koe.api.deps import Action, ObjectId, Scope, ScopeDep, Svc
from koe.core.errors import Conflict


@dataclass(frozen=True, slots=True)
class ApiResource:
    """How one resource looks on the wire; read-only when it has no create model."""

    name: str
    title: str
    out: type[BaseModel]
    query: type[s.ListQuery]
    create: type[s.Input] | None = None
    update: type[s.Patch] | None = None


API_RESOURCES: dict[str, ApiResource] = {
    r.name: r
    for r in (
        ApiResource("users", "User", s.UserOut, s.UserQuery, s.UserCreate, s.UserUpdate),
        ApiResource("agents", "Agent", s.AgentOut, s.AgentQuery, s.AgentCreate, s.AgentUpdate),
        ApiResource("skills", "Skill", s.SkillOut, s.ListQuery, s.SkillCreate, s.SkillUpdate),
        ApiResource("queues", "Queue", s.QueueOut, s.ListQuery, s.QueueCreate, s.QueueUpdate),
        ApiResource(
            "numbers", "Phone number", s.NumberOut, s.NumberQuery, s.NumberCreate, s.NumberUpdate
        ),
        ApiResource("flows", "Call flow", s.FlowOut, s.ListQuery, s.FlowCreate, s.FlowUpdate),
        ApiResource("ivrs", "IVR menu", s.IvrOut, s.IvrQuery, s.IvrCreate, s.IvrUpdate),
        ApiResource(
            "hours", "Business hours", s.HoursOut, s.ListQuery, s.HoursCreate, s.HoursUpdate
        ),
        ApiResource(
            "contacts", "Contact", s.ContactOut, s.ContactQuery, s.ContactCreate, s.ContactUpdate
        ),
        ApiResource("licenses", "License holding", s.LicenseOut, s.LicenseQuery),
        ApiResource("addons", "Add-on subscription", s.AddOnOut, s.AddOnQuery),
    )
}

ScopeFor = Callable[[str, Action], ScopeDep]


def _annotate(fn: Callable[..., Any], **types: Any) -> None:
    # Each resource's handlers share one body of code; their request models differ, so the
    # annotations FastAPI reads are filled in per resource.
    fn.__annotations__.update(types)


def add_resource_routes(router: APIRouter, res: ApiResource, scope_for: ScopeFor) -> None:
    """Register list/get (and create/update/delete when writable) for ``res``."""
    name = res.name
    read = Annotated[Scope, Depends(scope_for(name, Action.READ))]
    write = Annotated[Scope, Depends(scope_for(name, Action.WRITE))]
    tags: list[str | Enum] = [name]

    async def list_objects(scope: Any, query: Any, svc: Svc) -> dict[str, Any]:
        filters = query.model_dump(exclude={"offset", "limit", "q"}, exclude_none=True)
        items, total = await svc.directory.page(
            scope.tenant_id,
            name,
            filters=filters,
            q=query.q,
            offset=query.offset,
            limit=query.limit,
        )
        return {"items": items, "total": total, "offset": query.offset, "limit": query.limit}

    _annotate(list_objects, scope=read, query=Annotated[res.query, Query()])
    router.add_api_route(
        f"/{name}",
        list_objects,
        methods=["GET"],
        response_model=s.PageOut[res.out],  # type: ignore[name-defined]
        summary=f"List {res.title.lower()}s",
        tags=tags,
    )

    async def get_object(scope: Any, object_id: ObjectId, svc: Svc) -> dict[str, Any]:
        return await svc.directory.get(scope.tenant_id, name, object_id)

    _annotate(get_object, scope=read)
    router.add_api_route(
        f"/{name}/{{object_id}}",
        get_object,
        methods=["GET"],
        response_model=res.out,
        summary=f"Get a {res.title.lower()}",
        tags=tags,
    )
    if res.create is None or res.update is None:
        return

    async def create_object(scope: Any, body: Any, svc: Svc) -> dict[str, Any]:
        return await svc.directory.create(scope.tenant_id, name, body.model_dump(mode="json"))

    _annotate(create_object, scope=write, body=res.create)
    router.add_api_route(
        f"/{name}",
        create_object,
        methods=["POST"],
        response_model=res.out,
        status_code=status.HTTP_201_CREATED,
        summary=f"Create a {res.title.lower()}",
        tags=tags,
    )

    async def update_object(scope: Any, object_id: ObjectId, body: Any, svc: Svc) -> dict[str, Any]:
        data = body.model_dump(mode="json", exclude_unset=True)
        return await svc.directory.update(scope.tenant_id, name, object_id, data)

    _annotate(update_object, scope=write, body=res.update)
    router.add_api_route(
        f"/{name}/{{object_id}}",
        update_object,
        methods=["PATCH"],
        response_model=res.out,
        summary=f"Change a {res.title.lower()}",
        tags=tags,
    )

    async def delete_object(scope: Any, object_id: ObjectId, svc: Svc) -> Response:
        if name == "users" and object_id == scope.caller.user_id:
            raise Conflict(
                "cannot_delete_self",
                "自分自身のユーザーは削除できません。",
                "You cannot delete your own user.",
            )
        await svc.directory.delete(scope.tenant_id, name, object_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    _annotate(delete_object, scope=write)
    router.add_api_route(
        f"/{name}/{{object_id}}",
        delete_object,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary=f"Delete a {res.title.lower()}",
        tags=tags,
    )


def add_directory_routes(router: APIRouter, scope_for: ScopeFor) -> None:
    """Every resource's routes, the license summary and the per-user session revocation."""
    write_users = Annotated[Scope, Depends(scope_for("users", Action.WRITE))]
    read_licenses = Annotated[Scope, Depends(scope_for("licenses", Action.READ))]

    async def license_usage(scope: Any, svc: Svc) -> dict[str, Any]:
        return await svc.tenants.license_usage(scope.tenant_id)

    _annotate(license_usage, scope=read_licenses)
    # Before /licenses/{object_id}, which would otherwise take "usage" for an id.
    router.add_api_route(
        "/licenses/usage",
        license_usage,
        methods=["GET"],
        response_model=s.LicenseUsageOut,
        summary="Licenses in force today and named users in use",
        tags=["licenses"],
    )

    async def revoke_user_sessions(scope: Any, object_id: ObjectId, svc: Svc) -> dict[str, int]:
        count = await svc.auth.revoke_user_sessions(scope.tenant_id, object_id)
        return {"revoked_sessions": count}

    _annotate(revoke_user_sessions, scope=write_users)
    router.add_api_route(
        "/users/{object_id}/sessions",
        revoke_user_sessions,
        methods=["DELETE"],
        response_model=s.RevokedOut,
        summary="End every session of a user",
        tags=["users"],
    )
    for res in API_RESOURCES.values():
        add_resource_routes(router, res, scope_for)
