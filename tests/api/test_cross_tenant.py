"""A tenant admin never sees another tenant's objects: every resource answers 404 across tenants
(directory objects, and the account: invoices, notices, payments, balance)."""

from __future__ import annotations

import functools
from typing import Any, cast

import pytest

from koe.api.app import create_api
from koe.api.deps import Services
from koe.core.domain import Role
from koe.tenancy.service import RESOURCES
from tests.api.accounts import ACCOUNT, invoiced, make_account
from tests.api.conftest import BASE, World
from tests.api.samples import SAMPLES, make

WALKED = sorted([*RESOURCES, "licenses", "addons"])
# The tenant's account, read only: walked by test_other_tenants_account_records_are_not_found.
ACCOUNT_WALKED = sorted([*ACCOUNT, "balance"])
# Back-office routes under /operator/tenants/{tenant_id} that tenants have no counterpart of.
OPERATOR_ONLY = {
    "addon-applications",
    "addon-cancellations",
    "allowance",
    "applications",
    "cancellation",
    "changes",
    "interruptions",
    "offsets",
    "one-offs",
    "outages",
    "pauses",
    "quotes",
    "restrictions",
    "surcharges",
    "suspensions",
    "termination",
}
# One per tenant, addressed without an id: the token decides whose it is.
SINGLETONS = {"settings"}
# The ACD (agent self-service, live figures): tenant-only, walked by tests/flows/test_api.py.
ACD = {"agent", "acd"}


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
    tenant_routes = _resources_under(BASE) - {"auth", "operator"} - SINGLETONS - ACD
    operated_routes = _resources_under(f"{BASE}/operator/tenants/{{tenant_id}}") - SINGLETONS
    assert set(WALKED) | set(ACCOUNT_WALKED) == tenant_routes
    assert operated_routes == tenant_routes | OPERATOR_ONLY
    assert set(SAMPLES) == set(WALKED)
    walked = [*WALKED, *ACCOUNT]
    assert all(("get", f"{BASE}/{r}/{{object_id}}") in _object_routes(r) for r in walked)


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


@pytest.mark.parametrize("resource", ACCOUNT)
async def test_other_tenants_account_records_are_not_found(world: World, resource: str) -> None:
    a = await world.tenant("tenant-a")
    b = await world.tenant("tenant-b")
    await world.user(a.id, "sv", Role.SUPERVISOR)
    await world.user(a.id, "ag", Role.AGENT)
    made = await make_account(world, a, resource)
    url = f"{BASE}/{resource}/{made['id']}"
    before = await a.admin.get(url)
    assert before.status_code == 200
    assert before.json()["tenant_id"] == a.id

    routes = _object_routes(resource)
    assert {m for m, _ in routes} == {"get"}  # the account is read only
    for _, path in routes:
        target = path.replace("{object_id}", made["id"])
        assert (await a.admin.get(target)).status_code == 200, target
        response = await b.admin.get(target)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), target

    listed = (await b.admin.get(f"{BASE}/{resource}")).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert made["id"] not in {item["id"] for item in items}
    assert all(item["tenant_id"] == b.id for item in items)
    own = (await a.admin.get(f"{BASE}/{resource}")).json()
    assert made["id"] in {item["id"] for item in (own["items"] if isinstance(own, dict) else own)}
    assert (await a.admin.get(url)).json() == before.json()

    # Only tenant admins read the account; supervisors and agents are refused.
    for login in ("sv", "ag"):
        member = await world.actor(a.code, login)
        refused = await member.get(url)
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")

    # Operator routes: 403 to a tenant admin, even for its own tenant; the operator addressing
    # the wrong tenant does not find the record.
    for tenant_id in (a.id, b.id):
        refused = await b.admin.get(f"{BASE}/operator/tenants/{tenant_id}/{resource}")
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    ops = await world.operator()
    wrong = await ops.get(f"{BASE}/operator/tenants/{b.id}/{resource}/{made['id']}")
    assert (wrong.status_code, wrong.json()["code"]) == (404, "not_found")
    right = await ops.get(f"{BASE}/operator/tenants/{a.id}/{resource}/{made['id']}")
    assert right.json() == before.json()


async def test_other_tenants_balance_is_never_shown(world: World) -> None:
    a = await world.tenant("tenant-a")
    b = await world.tenant("tenant-b")
    invoice = await invoiced(world, a)
    mine = (await a.admin.get(f"{BASE}/balance", params={"as_of": "2026-12-10"})).json()
    assert [i["invoice_id"] for i in mine["invoices"]] == [invoice["id"]]
    assert mine["total_outstanding_yen"] > invoice["total_yen"]  # 10 days of late interest
    theirs = (await b.admin.get(f"{BASE}/balance", params={"as_of": "2026-12-10"})).json()
    assert theirs == {
        "as_of": "2026-12-10",
        "principal_outstanding_yen": 0,
        "interest_outstanding_yen": 0,
        "total_outstanding_yen": 0,
        "invoices": [],
    }
    refused = await b.admin.get(f"{BASE}/operator/tenants/{a.id}/balance")
    assert refused.status_code == 403


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
