"""Directory CRUD through the API: duplicates, numbers, paging, filters and literal search."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import BASE, PASSWORD, World
from tests.api.samples import HANGUP_FLOW, HANGUP_IVR

METACHARACTERS = ["'; DROP TABLE users; --", "%", "_", "\\", '" OR "1"="1', "100%_off\\n", "'"]


def _play(prompt: str) -> dict[str, str]:
    return {"type": "play", "prompt": prompt, "next": "e"}


def _bodies(value: str) -> dict[str, dict[str, Any]]:
    """A body per resource with every free-text field set to ``value``."""
    return {
        "users": {"login": value, "name": value, "password": PASSWORD, "role": "supervisor"},
        "agents": {
            "login": f"agent {value}",
            "password": PASSWORD,
            "display_name": value,
            "extension": str(100 + len(value) * 7 % 90) + str(ord(value[0]) % 10),
        },
        "skills": {"name": value, "description": value},
        "queues": {"name": value},
        "numbers": {"number": f"050-0000-{1000 + ord(value[0]) * 3 + len(value)}", "label": value},
        "flows": {
            "name": value,
            "description": value,
            "document": {"start": "p", "nodes": {"p": _play(value), "e": {"type": "hangup"}}},
        },
        "ivrs": {"name": value, "template": "simple_reception", "document": HANGUP_IVR},
        "hours": {"name": value, "special_days": [{"date": "2026-12-31", "note": value}]},
        "contacts": {"kind": "technical", "name": value, "department": value},
    }  # fmt: skip


SEARCHED = {
    "users": "login",
    "agents": "display_name",
    "skills": "name",
    "queues": "name",
    "numbers": None,
    "flows": "name",
    "ivrs": "name",
    "hours": "name",
    "contacts": "name",
}


def _text_fields(body: Any, prefix: str = "") -> dict[str, str]:
    """Every string in ``body`` by its dotted path."""
    if isinstance(body, dict):
        found: dict[str, str] = {}
        for key, value in body.items():
            found |= _text_fields(value, f"{prefix}{key}.")
        return found
    if isinstance(body, list):
        found = {}
        for i, value in enumerate(body):
            found |= _text_fields(value, f"{prefix}{i}.")
        return found
    return {prefix.rstrip("."): body} if isinstance(body, str) else {}


async def test_sql_metacharacters_are_stored_and_searched_literally(world: World) -> None:
    t = await world.tenant("metachars", seats=30)
    made: dict[str, list[dict[str, Any]]] = {name: [] for name in SEARCHED}
    for value in [*METACHARACTERS, "plain"]:
        for resource, body in _bodies(value).items():
            response = await t.admin.post(f"{BASE}/{resource}", json=body)
            assert response.status_code == 201, (resource, value, response.text)
            stored = _text_fields(response.json())
            sent = {k: v for k, v in _text_fields(body).items() if k != "password"}
            if resource == "numbers":
                sent.pop("number")
            if resource == "agents":
                sent.pop("extension")
            mismatched = {k: (v, stored.get(k)) for k, v in sent.items() if stored.get(k) != v}
            assert mismatched == {}, resource
            made[resource].append(response.json())

    for resource, column in SEARCHED.items():
        if column is None:
            continue
        listed = await t.admin.get(f"{BASE}/{resource}", params={"limit": 500})
        values = [item[column] for item in listed.json()["items"]]
        assert {obj["id"] for obj in made[resource]} <= {i["id"] for i in listed.json()["items"]}
        for needle in [*METACHARACTERS, "%%", "_%", "\\%"]:
            found = await t.admin.get(f"{BASE}/{resource}", params={"q": needle, "limit": 500})
            assert found.status_code == 200
            got = sorted(item[column] for item in found.json()["items"])
            assert got == sorted(v for v in values if needle in v), (resource, needle)
    # Nothing was dropped along the way.
    assert (await t.admin.get(f"{BASE}/users")).json()["total"] == 1 + 2 * len(made["users"])


async def test_duplicate_extension_is_refused(world: World) -> None:
    t = await world.tenant("extensions")
    body = {"login": "a1", "password": PASSWORD, "display_name": "A", "extension": "101"}
    first = (await t.admin.post(f"{BASE}/agents", json=body)).json()
    for extension in ("101", "１０１", " 101 "):
        again = await t.admin.post(
            f"{BASE}/agents", json=body | {"login": "a2", "extension": extension}
        )
        assert again.status_code == 409, extension
        assert again.json()["code"] == "duplicate"
        assert again.json()["fields"][0]["field"] == "extension"
    second = (
        await t.admin.post(f"{BASE}/agents", json=body | {"login": "a2", "extension": "102"})
    ).json()
    moved = await t.admin.patch(f"{BASE}/agents/{second['id']}", json={"extension": "101"})
    assert (moved.status_code, moved.json()["code"]) == (409, "duplicate")
    assert (await t.admin.get(f"{BASE}/agents/{second['id']}")).json()["extension"] == "102"
    assert (await t.admin.get(f"{BASE}/agents/{first['id']}")).json()["extension"] == "101"
    assert (await t.admin.get(f"{BASE}/users")).json()["total"] == 3
    bad = await t.admin.post(f"{BASE}/agents", json=body | {"login": "a3", "extension": "1a"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_extension")


async def test_numbers_in_any_form_collide(world: World) -> None:
    t = await world.tenant("numbers")
    first = await t.admin.post(f"{BASE}/numbers", json={"number": "03-1234-5678"})
    assert first.status_code == 201
    assert (first.json()["e164"], first.json()["number"]) == ("+81312345678", "03-1234-5678")
    for written in ("０３－１２３４－５６７８", "+81 3 1234 5678", "(03)1234-5678", "0312345678"):
        again = await t.admin.post(f"{BASE}/numbers", json={"number": written})
        assert (again.status_code, again.json()["code"]) == (409, "duplicate"), written
        assert again.json()["fields"][0]["field"] == "number"
    invalid = await t.admin.post(f"{BASE}/numbers", json={"number": "03-1234"})
    assert (invalid.status_code, invalid.json()["code"]) == (422, "invalid_phone_number")
    assert invalid.json()["fields"][0]["field"] == "number"
    assert (await t.admin.get(f"{BASE}/numbers")).json()["total"] == 1


async def test_a_did_belongs_to_one_tenant_only(world: World) -> None:
    a = await world.tenant("did-owner")
    b = await world.tenant("did-other")
    assert (await a.admin.post(f"{BASE}/numbers", json={"number": "050-1111-2222"})).is_success
    taken = await b.admin.post(
        f"{BASE}/numbers",
        json={"number": "０５０１１１１２２２２"},
        headers={"Accept-Language": "en"},
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "duplicate")
    assert a.id not in taken.text
    assert a.code not in taken.text
    mine = (await b.admin.post(f"{BASE}/numbers", json={"number": "050-1111-3333"})).json()
    moved = await b.admin.patch(f"{BASE}/numbers/{mine['id']}", json={"number": "05011112222"})
    assert (moved.status_code, moved.json()["code"]) == (409, "duplicate")
    assert (await b.admin.get(f"{BASE}/numbers/{mine['id']}")).json()["e164"] == "+815011113333"


async def test_paging_filters_and_search(world: World) -> None:
    t = await world.tenant("paging", seats=10)
    for name in ("e", "d", "c", "b", "a"):
        assert (await t.admin.post(f"{BASE}/skills", json={"name": name})).status_code == 201
    page = (await t.admin.get(f"{BASE}/skills", params={"offset": 1, "limit": 2})).json()
    assert ([s["name"] for s in page["items"]], page["total"]) == (["b", "c"], 5)
    assert (page["offset"], page["limit"]) == (1, 2)
    beyond = (await t.admin.get(f"{BASE}/skills", params={"offset": 10})).json()
    assert (beyond["items"], beyond["total"]) == ([], 5)

    for n, role in enumerate(("agent", "supervisor", "agent")):
        body = {"login": f"u{n}", "name": f"U{n}", "password": PASSWORD, "role": role}
        await t.admin.post(f"{BASE}/users", json=body)
    agents = (await t.admin.get(f"{BASE}/users", params={"role": "agent"})).json()
    assert [u["login"] for u in agents["items"]] == ["u0", "u2"]
    inactive = (await t.admin.get(f"{BASE}/users", params={"active": "false"})).json()
    assert inactive["total"] == 0
    both = (await t.admin.get(f"{BASE}/users", params={"role": "agent", "q": "2"})).json()
    assert [u["login"] for u in both["items"]] == ["u2"]

    await t.admin.post(f"{BASE}/contacts", json={"kind": "billing", "name": "経理"})
    await t.admin.post(f"{BASE}/contacts", json={"kind": "emergency", "name": "夜間"})
    billing = (await t.admin.get(f"{BASE}/contacts", params={"kind": "billing"})).json()
    assert [c["name"] for c in billing["items"]] == ["経理"]
    seats = (await t.admin.get(f"{BASE}/licenses", params={"kind": "seat"})).json()
    assert [(h["kind"], h["quantity"]) for h in seats["items"]] == [("seat", 10)]


async def test_updates(world: World) -> None:
    t = await world.tenant("updates")
    skill = (await t.admin.post(f"{BASE}/skills", json={"name": "s"})).json()
    body = {"login": "a1", "password": PASSWORD, "display_name": "A", "extension": "101"}
    agent = (await t.admin.post(f"{BASE}/agents", json=body)).json()
    changed = await t.admin.patch(
        f"{BASE}/agents/{agent['id']}",
        json={"skills": [{"skill_id": skill["id"], "level": 10}], "display_name": "B"},
    )
    assert changed.json()["skills"] == [{"skill_id": skill["id"], "level": 10}]
    assert changed.json()["display_name"] == "B"

    flow = (await t.admin.post(f"{BASE}/flows", json={"name": "f", "document": HANGUP_FLOW})).json()
    assert flow["version"] == 1
    bumped = await t.admin.patch(f"{BASE}/flows/{flow['id']}", json={"document": HANGUP_FLOW})
    assert bumped.json()["version"] == 2
    broken = await t.admin.patch(
        f"{BASE}/flows/{flow['id']}", json={"document": {"start": "x", "nodes": {}}}
    )
    assert (broken.status_code, broken.json()["code"]) == (422, "invalid_flow")
    assert (await t.admin.get(f"{BASE}/flows/{flow['id']}")).json()["version"] == 2

    number = (await t.admin.post(f"{BASE}/numbers", json={"number": "0312345678"})).json()
    routed = await t.admin.patch(f"{BASE}/numbers/{number['id']}", json={"flow_id": flow["id"]})
    assert routed.json()["flow_id"] == flow["id"]
    assert (await t.admin.delete(f"{BASE}/flows/{flow['id']}")).status_code == 204
    assert (await t.admin.get(f"{BASE}/numbers/{number['id']}")).json()["flow_id"] is None

    assert (await t.admin.delete(f"{BASE}/agents/{agent['id']}")).status_code == 204
    assert (await t.admin.get(f"{BASE}/users/{agent['user_id']}")).status_code == 404


async def test_operator_manages_tenants(world: World) -> None:
    ops = await world.operator()
    body = {
        "code": "new-co",
        "company_name": "株式会社 100%_テスト",
        "representative_name": "代表 太郎",
        "address": "大阪府大阪市北区1-1",
        "phone": "０６－１２３４－５６７８",
        "postal_code": "530-0001",
        "contacts": [{"kind": "contract", "name": "契約 担当", "email": "keiyaku@example.jp"}],
    }
    created = await ops.post(f"{BASE}/operator/tenants", json=body)
    assert created.status_code == 201, created.text
    tenant = created.json()
    assert (tenant["phone"], tenant["status"]) == ("+81612345678", "applied")
    duplicate = await ops.post(f"{BASE}/operator/tenants", json=body)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "duplicate")
    bad_code = await ops.post(f"{BASE}/operator/tenants", json=body | {"code": "Bad Code"})
    assert (bad_code.status_code, bad_code.json()["code"]) == (422, "invalid_tenant_code")
    code_change = await ops.patch(f"{BASE}/operator/tenants/{tenant['id']}", json={"code": "x"})
    assert code_change.json()["fields"][0]["code"] == "unknown_field"

    await world.tenant("other-co")
    found = (await ops.get(f"{BASE}/operator/tenants", params={"q": "%_"})).json()
    assert [t["code"] for t in found["items"]] == ["new-co"]
    assert (await ops.get(f"{BASE}/operator/tenants")).json()["total"] == 2

    contacts = (await ops.get(f"{BASE}/operator/tenants/{tenant['id']}/contacts")).json()
    assert [c["email"] for c in contacts["items"]] == ["keiyaku@example.jp"]
    no_basic = await ops.post(
        f"{BASE}/operator/tenants/{tenant['id']}/addons", json={"addon": "transcription"}
    )
    assert (no_basic.status_code, no_basic.json()["code"]) == (409, "addon_requires_basic")
    dates = {"kind": "line", "quantity": 5, "effective_from": "2026-12-01"}
    bad_period = await ops.post(
        f"{BASE}/operator/tenants/{tenant['id']}/licenses",
        json=dates | {"effective_to": "2026-11-01"},
    )
    assert (bad_period.status_code, bad_period.json()["code"]) == (422, "invalid_period")
    later = await ops.post(f"{BASE}/operator/tenants/{tenant['id']}/licenses", json=dates)
    assert later.json()["effective_from"] == "2026-12-01"
    usage = (await ops.get(f"{BASE}/operator/tenants/{tenant['id']}/licenses/usage")).json()
    assert usage["line"] == 0  # not in force before December
    unknown = await ops.get(f"{BASE}/operator/tenants/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404
