"""The operator's staff: operator admins manage it; the last admin always stays."""

from __future__ import annotations

from koe.core.domain import Role
from tests.api.conftest import BASE, PASSWORD, World

STAFF = f"{BASE}/operator/staff"


async def test_admin_adds_changes_and_removes_staff(world: World) -> None:
    boss = await world.operator("boss", Role.OPERATOR_ADMIN)
    made = await boss.post(
        STAFF, json={"login": "clerk", "name": "事務 一郎", "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    clerk_id = made.json()["id"]
    assert made.json()["role"] == "operator_staff"
    assert "password" not in made.text
    clerk = await world.actor(None, "clerk")
    assert {u["login"] for u in (await clerk.get(STAFF)).json()} == {"boss", "clerk"}
    # Staff read, but only admins change the staff.
    assert (
        await clerk.post(STAFF, json={"login": "x", "name": "x", "password": PASSWORD})
    ).status_code == 403
    assert (
        await clerk.patch(f"{STAFF}/{clerk_id}", json={"role": "operator_admin"})
    ).status_code == 403
    # A deactivation ends the clerk's sessions at once.
    off = await boss.patch(f"{STAFF}/{clerk_id}", json={"active": False})
    assert off.json()["active"] is False
    assert (await clerk.get(STAFF)).status_code == 401
    assert (await boss.delete(f"{STAFF}/{clerk_id}")).status_code == 204
    assert (await boss.get(f"{STAFF}/{clerk_id}")).status_code == 404


async def test_the_last_operator_admin_stays(world: World) -> None:
    boss = await world.operator("boss", Role.OPERATOR_ADMIN)
    boss_id = boss.user_id
    for body in ({"role": "operator_staff"}, {"active": False}):
        refused = await boss.patch(
            f"{STAFF}/{boss_id}", json=body, headers={"Accept-Language": "en"}
        )
        assert (refused.status_code, refused.json()["code"]) == (409, "last_operator_admin")
    assert (await boss.delete(f"{STAFF}/{boss_id}")).json()["code"] == "cannot_delete_self"
    second = await boss.post(
        STAFF,
        json={"login": "boss2", "name": "次長", "password": PASSWORD, "role": "operator_admin"},
    )
    assert second.status_code == 201
    demoted = await boss.patch(f"{STAFF}/{boss_id}", json={"role": "operator_staff"})
    assert demoted.json()["role"] == "operator_staff"


async def test_tenant_people_cannot_see_the_staff(world: World) -> None:
    t = await world.tenant("staff-check")
    await world.operator("boss", Role.OPERATOR_ADMIN)
    assert (await t.admin.get(STAFF)).status_code == 403


async def test_bad_staff_input_is_precise(world: World) -> None:
    boss = await world.operator("boss", Role.OPERATOR_ADMIN)
    dup = await boss.post(STAFF, json={"login": "boss", "name": "x", "password": PASSWORD})
    assert (dup.status_code, dup.json()["code"]) == (409, "duplicate")
    bad = await boss.post(
        STAFF, json={"login": "y", "name": "y", "password": PASSWORD, "role": "tenant_admin"}
    )
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "role"
