"""Tenant settings: defaults, validated changes, roles, and each tenant sees only its own."""

from __future__ import annotations

from koe.core.domain import Role
from tests.api.conftest import BASE, World


async def test_defaults_then_a_change_that_sticks(world: World) -> None:
    t = await world.tenant("settings-a")
    got = await t.admin.get(f"{BASE}/settings")
    assert got.status_code == 200
    assert got.json() == {
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "record_calls": False,
        "recording_notice": True,
        "wrap_up_seconds": 30,
        "ring_timeout_seconds": 20,
        "international_calls": False,
        "transcription_over_plan": "hold",
    }
    changed = await t.admin.patch(
        f"{BASE}/settings", json={"record_calls": True, "wrap_up_seconds": 45}
    )
    assert changed.status_code == 200
    again = (await t.admin.get(f"{BASE}/settings")).json()
    assert (again["record_calls"], again["wrap_up_seconds"], again["language"]) == (True, 45, "ja")


async def test_invalid_values_are_refused_and_nothing_changes(world: World) -> None:
    t = await world.tenant("settings-b")
    for body, field in (
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"wrap_up_seconds": -1}, "wrap_up_seconds"),
        ({"language": "fr"}, "language"),
        ({"transcription_over_plan": "maybe"}, "transcription_over_plan"),
    ):
        bad = await t.admin.patch(f"{BASE}/settings", json=body, headers={"Accept-Language": "en"})
        assert bad.status_code == 422, body
        assert bad.json()["code"] == "invalid_settings"
        assert bad.json()["fields"][0]["field"] == field
    unknown = await t.admin.patch(f"{BASE}/settings", json={"colour": "blue"})
    assert unknown.status_code == 422
    assert (await t.admin.get(f"{BASE}/settings")).json()["timezone"] == "Asia/Tokyo"


async def test_supervisors_read_agents_cannot_and_tenants_are_apart(world: World) -> None:
    a = await world.tenant("settings-c")
    b = await world.tenant("settings-d")
    await a.admin.patch(f"{BASE}/settings", json={"international_calls": True})
    assert (await b.admin.get(f"{BASE}/settings")).json()["international_calls"] is False
    await world.user(a.id, "sup", Role.SUPERVISOR)
    sup = await world.actor(a.code, "sup")
    assert (await sup.get(f"{BASE}/settings")).json()["international_calls"] is True
    assert (await sup.patch(f"{BASE}/settings", json={"record_calls": True})).status_code == 403
    await world.user(a.id, "ag", Role.AGENT)
    agent = await world.actor(a.code, "ag")
    assert (await agent.get(f"{BASE}/settings")).status_code == 403


async def test_operator_edits_a_tenants_settings(world: World) -> None:
    t = await world.tenant("settings-e")
    ops = await world.operator()
    url = f"{BASE}/operator/tenants/{t.id}/settings"
    assert (await ops.patch(url, json={"language": "en"})).json()["language"] == "en"
    assert (await t.admin.get(f"{BASE}/settings")).json()["language"] == "en"
    assert (await t.admin.get(url)).status_code == 403
