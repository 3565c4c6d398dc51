"""Who may do what: tenant admins manage, supervisors read what they supervise, agents only
themselves, operators use the operator routes."""

from __future__ import annotations

from koe.api.directory import API_RESOURCES
from koe.core.domain import Role
from tests.api.conftest import BASE, Actor, Tenant, World

WRITABLE = [name for name, r in API_RESOURCES.items() if r.create is not None]
SUPERVISOR_READS = {"agents", "queues", "skills", "settings"}


async def _as(world: World, t: Tenant, role: Role) -> Actor:
    if role is Role.TENANT_ADMIN:
        return t.admin
    if role.is_operator:
        return await world.operator(role.value, role)
    await world.user(t.id, role.value, role)
    return await world.actor(t.code, role.value)


def _expected_read(role: Role, resource: str) -> int:
    if role is Role.TENANT_ADMIN or (role is Role.SUPERVISOR and resource in SUPERVISOR_READS):
        return 200
    return 403


async def test_role_matrix(world: World) -> None:
    t = await world.tenant("rbac", admins=2)
    for role in Role:
        await _check_role(world, t, role)


async def _check_role(world: World, t: Tenant, role: Role) -> None:
    caller = await _as(world, t, role)
    seen: dict[str, tuple[int, int | None]] = {}
    for name in API_RESOURCES:
        listed = await caller.get(f"{BASE}/{name}")
        created = await caller.post(f"{BASE}/{name}", json={}) if name in WRITABLE else None
        seen[name] = (listed.status_code, created.status_code if created else None)
    expected = {
        name: (
            _expected_read(role, name),
            (422 if role is Role.TENANT_ADMIN else 403) if name in WRITABLE else None,
        )
        for name in API_RESOURCES
    }
    assert seen == expected

    me = await caller.get(f"{BASE}/auth/me")
    assert (me.status_code, me.json()["role"]) == (200, role.value)
    devices = await caller.get(f"{BASE}/auth/devices")
    assert devices.status_code == (200 if role is Role.TENANT_ADMIN else 403)
    tenants = await caller.get(f"{BASE}/operator/tenants")
    assert tenants.status_code == (200 if role.is_operator else 403)
    operated = await caller.get(f"{BASE}/operator/tenants/{t.id}/agents")
    assert operated.status_code == (200 if role.is_operator else 403)
    buy = await caller.post(
        f"{BASE}/operator/tenants/{t.id}/licenses", json={"kind": "seat", "quantity": 1}
    )
    assert buy.status_code == (201 if role.is_operator else 403)


async def test_supervisor_reads_but_does_not_change_agents(world: World) -> None:
    t = await world.tenant("supervised")
    body = {"login": "ag", "password": "password-1", "display_name": "受付", "extension": "101"}
    agent = (await t.admin.post(f"{BASE}/agents", json=body)).json()
    sv = await _as(world, t, Role.SUPERVISOR)
    assert (await sv.get(f"{BASE}/agents/{agent['id']}")).json()["extension"] == "101"
    assert (
        await sv.patch(f"{BASE}/agents/{agent['id']}", json={"extension": "102"})
    ).status_code == 403
    assert (await sv.delete(f"{BASE}/agents/{agent['id']}")).status_code == 403
    assert (await sv.get(f"{BASE}/users/{agent['user_id']}")).status_code == 403
    assert (await t.admin.get(f"{BASE}/agents/{agent['id']}")).json()["extension"] == "101"


async def test_agent_reads_only_itself(world: World) -> None:
    t = await world.tenant("agent-self")
    ag = await _as(world, t, Role.AGENT)
    assert (await ag.get(f"{BASE}/users/{ag.user_id}")).status_code == 403
    assert (await ag.get(f"{BASE}/auth/me")).json()["id"] == ag.user_id


async def test_only_operator_admins_delete_tenants(world: World) -> None:
    t = await world.tenant("to-delete")
    staff = await world.operator("staff", Role.OPERATOR_STAFF)
    admin = await world.operator("boss", Role.OPERATOR_ADMIN)
    refused = await staff.delete(f"{BASE}/operator/tenants/{t.id}")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    active = await admin.patch(f"{BASE}/operator/tenants/{t.id}", json={"status": "active"})
    assert active.json()["status"] == "active"
    in_service = await admin.delete(f"{BASE}/operator/tenants/{t.id}")
    assert (in_service.status_code, in_service.json()["code"]) == (409, "tenant_active")
    await admin.patch(f"{BASE}/operator/tenants/{t.id}", json={"status": "ended"})
    assert (await admin.delete(f"{BASE}/operator/tenants/{t.id}")).status_code == 204
    assert (await admin.get(f"{BASE}/operator/tenants/{t.id}")).status_code == 404
    # Its admin's session went with it.
    assert (await t.admin.get(f"{BASE}/auth/me")).status_code == 401


async def test_tenant_admin_cannot_delete_itself(world: World) -> None:
    t = await world.tenant("self-delete")
    response = await t.admin.delete(f"{BASE}/users/{t.admin.user_id}")
    assert (response.status_code, response.json()["code"]) == (409, "cannot_delete_self")
