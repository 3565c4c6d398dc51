"""A tenant admin never sees another tenant's objects: every resource answers 404 across tenants."""

from __future__ import annotations

import functools
from typing import Any, cast

import pytest

from koe.api.app import create_api
from koe.api.deps import Services
from koe.tenancy.service import RESOURCES
from tests.api.conftest import BASE, World
from tests.api.samples import SAMPLES, make

WALKED = sorted([*RESOURCES, "licenses", "addons"])
# One per tenant, addressed without an id: the token decides whose it is.
SINGLETONS = {"settings"}


@functools.cache
def _paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = create_api(cast(Services, None)).openapi()["paths"]
    return paths


def _resources_under(prefix: str) -> set[str]:
    depth = prefix.count("/")
    return {p.split("/")[depth + 1] for p in _paths() if p.startswith(prefix + "/")}


def _object_routes(resource: str) -> list[tuple[str, str]]:
    """Every (method, path) that addresses one object of ``resource`` by id."""
    prefix = f"{BASE}/{resource}/{{object_id}}"
    return [
        (method, path)
        for path, ops in _paths().items()
        if path == prefix or path.startswith(prefix + "/")
        for method in ops
    ]


def test_walked_resources_are_exactly_the_registered_routes() -> None:
    tenant_routes = _resources_under(BASE) - {"auth", "operator"} - SINGLETONS
    operated_routes = _resources_under(f"{BASE}/operator/tenants/{{tenant_id}}") - SINGLETONS
    assert set(WALKED) == tenant_routes == operated_routes
    assert set(SAMPLES) == set(WALKED)
    assert all(("get", f"{BASE}/{r}/{{object_id}}") in _object_routes(r) for r in WALKED)


@pytest.mark.parametrize("resource", WALKED)
async def test_other_tenants_objects_are_not_found(world: World, resource: str) -> None:
    a = await world.tenant("tenant-a")
    b = await world.tenant("tenant-b")
    made = await make(world, a, resource)
    url = f"{BASE}/{resource}/{made['id']}"
    before = await a.admin.get(url)
    assert before.status_code == 200

    sample = SAMPLES[resource]
    routes = _object_routes(resource)
    for method, path in routes:
        body = sample[1] if sample is not None and method == "patch" else None
        target = path.replace("{object_id}", made["id"])
        response = await b.admin.http.request(
            method.upper(), target, json=body, headers={"Authorization": f"Bearer {b.admin.token}"}
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), target
    if sample is None:  # holdings are read-only to tenants
        assert {m for m, _ in routes} == {"get"}
        assert (await b.admin.patch(url, json={})).status_code == 405
        assert (await b.admin.delete(url)).status_code == 405
    else:
        assert {"get", "patch", "delete"} <= {m for m, _ in routes}

    listed = await b.admin.get(f"{BASE}/{resource}", params={"limit": 500})
    assert listed.status_code == 200
    assert made["id"] not in {item["id"] for item in listed.json()["items"]}
    assert all(item["tenant_id"] == b.id for item in listed.json()["items"])

    after = await a.admin.get(url)
    assert after.json() == before.json()

    # Operator-only routes answer 403 to a tenant admin, even for its own tenant.
    for path in (f"/tenants/{a.id}/{resource}/{made['id']}", f"/tenants/{b.id}/{resource}"):
        refused = await b.admin.get(f"{BASE}/operator{path}")
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")

    # The operator addressing the wrong tenant does not find it either.
    ops = await world.operator()
    wrong = await ops.get(f"{BASE}/operator/tenants/{b.id}/{resource}/{made['id']}")
    assert wrong.status_code == 404
    right = await ops.get(f"{BASE}/operator/tenants/{a.id}/{resource}/{made['id']}")
    assert right.json() == before.json()


async def test_user_sessions_of_another_tenant_cannot_be_revoked(world: World) -> None:
    a = await world.tenant("tenant-a")
    b = await world.tenant("tenant-b")
    response = await b.admin.delete(f"{BASE}/users/{a.admin.user_id}/sessions")
    assert response.status_code == 404
    assert (await a.admin.get(f"{BASE}/auth/me")).status_code == 200


async def test_agent_skills_of_another_tenant_are_refused(world: World) -> None:
    a = await world.tenant("tenant-a")
    b = await world.tenant("tenant-b")
    skill: dict[str, Any] = await make(world, a, "skills")
    body = {
        "login": "x1",
        "password": "password-1",
        "display_name": "X",
        "extension": "301",
        "skills": [{"skill_id": skill["id"], "level": 5}],
    }
    response = await b.admin.post(f"{BASE}/agents", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_reference"
    users = await b.admin.get(f"{BASE}/users")
    assert [u["login"] for u in users.json()["items"]] == ["admin"]


@pytest.mark.parametrize("resource", sorted(SINGLETONS))
async def test_singletons_belong_to_the_callers_tenant(world: World, resource: str) -> None:
    a = await world.tenant("tenant-a")
    b = await world.tenant("tenant-b")
    before = (await a.admin.get(f"{BASE}/{resource}")).json()
    paths = {p for p in _paths() if p.endswith(f"/{resource}")}
    assert paths == {f"{BASE}/{resource}", f"{BASE}/operator/tenants/{{tenant_id}}/{resource}"}
    assert (await b.admin.patch(f"{BASE}/{resource}", json={"language": "en"})).status_code == 200
    assert (await a.admin.get(f"{BASE}/{resource}")).json() == before
    # The operator path with another tenant's id is operator-only.
    other = await b.admin.get(f"{BASE}/operator/tenants/{a.id}/{resource}")
    assert other.status_code == 403
