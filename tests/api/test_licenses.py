"""License rules through the API: named users (R2.1) and admin PCs with takeover (R2.2)."""

from __future__ import annotations

import asyncio
from typing import Any

from koe.core.domain import Role
from tests.api.conftest import BASE, PASSWORD, World


def _agent(n: int) -> dict[str, Any]:
    return {
        "login": f"agent{n}",
        "password": PASSWORD,
        "display_name": f"エージェント{n}",
        "extension": f"{200 + n}",
    }


async def test_seventh_agent_needs_an_additional_user_license(world: World) -> None:
    """A tenant with 6 seats cannot create a 7th agent; after buying one additional user it can."""
    t = await world.tenant("six-seats", seats=6)
    for n in range(1, 7):
        created = await t.admin.post(f"{BASE}/agents", json=_agent(n))
        assert created.status_code == 201, created.text

    refused = await t.admin.post(f"{BASE}/agents", json=_agent(7))
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "license_users_exceeded"
    assert "6名" in body["message"]
    assert body["details"] == {"allowed": 6, "in_use": 6}
    agents = await t.admin.get(f"{BASE}/agents")
    assert agents.json()["total"] == 6
    users = await t.admin.get(f"{BASE}/users", params={"q": "agent7"})
    assert users.json()["total"] == 0  # the refused agent left no user behind

    ops = await world.operator()
    bought = await ops.post(
        f"{BASE}/operator/tenants/{t.id}/licenses", json={"kind": "additional_user", "quantity": 1}
    )
    assert bought.status_code == 201, bought.text
    usage = await t.admin.get(f"{BASE}/licenses/usage")
    assert usage.json()["named_users_allowed"] == 7
    assert usage.json()["named_users_in_use"] == 6

    created = await t.admin.post(f"{BASE}/agents", json=_agent(7))
    assert created.status_code == 201, created.text
    eighth = await t.admin.post(f"{BASE}/agents", json=_agent(8))
    assert eighth.json()["code"] == "license_users_exceeded"


async def test_admin_accounts_do_not_use_user_licenses(world: World) -> None:
    t = await world.tenant("admins-free", seats=1)
    for n in range(3):
        body = {"login": f"adm{n}", "name": "管理", "password": PASSWORD, "role": "tenant_admin"}
        assert (await t.admin.post(f"{BASE}/users", json=body)).status_code == 201
    assert (await t.admin.post(f"{BASE}/agents", json=_agent(1))).status_code == 201
    second = await t.admin.post(f"{BASE}/agents", json=_agent(2))
    assert second.json()["code"] == "license_users_exceeded"
    # Turning an admin into a supervisor needs a user license too.
    admins = await t.admin.get(f"{BASE}/users", params={"role": "tenant_admin", "q": "adm0"})
    adm0 = admins.json()["items"][0]["id"]
    promoted = await t.admin.patch(f"{BASE}/users/{adm0}", json={"role": "supervisor"})
    assert promoted.json()["code"] == "license_users_exceeded"
    assert (await t.admin.get(f"{BASE}/users/{adm0}")).json()["role"] == "tenant_admin"


async def test_admin_whose_browser_died_logs_in_from_another_pc_at_once(world: World) -> None:
    """1 admin license: the second PC is refused with the first listed; takeover succeeds."""
    t = await world.tenant("one-admin", admins=1)
    first_device = (await t.admin.get(f"{BASE}/auth/me")).json()["device_id"]

    refused = await world.login(t.code, "admin", device_id="second-pc-0001", device_label="受付PC")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "license_admin_devices_in_use"
    assert first_device in body["message"]
    assert [d["device_id"] for d in body["details"]["devices"]] == [first_device]
    assert body["details"]["takeover"] is True
    assert (await t.admin.get(f"{BASE}/auth/me")).status_code == 200  # nothing was released

    taken = await world.login(t.code, "admin", device_id="second-pc-0001", takeover=True)
    assert taken.status_code == 200, taken.text
    assert taken.json()["released_devices"] == [first_device]

    stale = await t.admin.get(f"{BASE}/auth/me")
    assert stale.status_code == 401
    assert stale.json()["code"] == "session_revoked"
    token = taken.json()["token"]
    devices = await world.http.get(
        f"{BASE}/auth/devices", headers={"Authorization": f"Bearer {token}"}
    )
    assert devices.json()["licenses"] == 1
    assert [(d["device_id"], d["current"]) for d in devices.json()["in_use"]] == [
        ("second-pc-0001", True)
    ]


async def test_same_pc_logs_in_again_and_two_licenses_allow_two_pcs(world: World) -> None:
    t = await world.tenant("two-admins", admins=2)
    me = (await t.admin.get(f"{BASE}/auth/me")).json()
    again = await world.login(t.code, "admin", device_id=me["device_id"])
    assert again.status_code == 200
    second = await world.login(t.code, "admin", device_id="second-pc-0002")
    assert second.status_code == 200
    third = await world.login(t.code, "admin", device_id="third-pc-00003")
    assert third.json()["code"] == "license_admin_devices_in_use"
    assert len(third.json()["details"]["devices"]) == 2
    # Agents and supervisors never hold admin licenses.
    await world.user(t.id, "sv", Role.SUPERVISOR)
    assert (await world.login(t.code, "sv", device_id="third-pc-00003")).status_code == 200


async def test_admin_login_needs_a_device_id_and_an_admin_license(world: World) -> None:
    t = await world.tenant("device-needed", admins=1)
    missing = await world.login(t.code, "admin")
    assert missing.status_code == 422
    assert missing.json()["code"] == "device_id_required"
    assert missing.json()["fields"][0]["field"] == "device_id"

    other = await world.tenant("no-admin-license", admins=1)
    holding = (await other.admin.get(f"{BASE}/licenses", params={"kind": "admin"})).json()
    assert holding["total"] == 1
    await world.user(other.id, "admin2", Role.TENANT_ADMIN)
    # The one license is held by the first admin's PC; a second admin on another PC waits.
    refused = await world.login(other.code, "admin2", device_id="admin2-pc-001")
    assert refused.json()["code"] == "license_admin_devices_in_use"


async def test_releasing_a_device_frees_its_license(world: World) -> None:
    t = await world.tenant("release", admins=1)
    me = (await t.admin.get(f"{BASE}/auth/me")).json()
    released = await t.admin.delete(f"{BASE}/auth/devices/{me['device_id']}")
    assert released.status_code == 204
    assert (await t.admin.get(f"{BASE}/auth/me")).status_code == 401
    assert (await world.login(t.code, "admin", device_id="another-pc-01")).status_code == 200
    unknown = await world.actor(t.code, "admin", device_id="another-pc-01")
    gone = await unknown.delete(f"{BASE}/auth/devices/never-seen-pc")
    assert gone.status_code == 404


async def test_concurrent_creates_cannot_exceed_the_user_limit(world: World) -> None:
    t = await world.tenant("racing-agents", seats=2)
    responses = await asyncio.gather(
        *(t.admin.post(f"{BASE}/agents", json=_agent(n)) for n in range(1, 7))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 201, 409, 409, 409, 409]
    assert (await t.admin.get(f"{BASE}/licenses/usage")).json()["named_users_in_use"] == 2
