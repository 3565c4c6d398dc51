"""Bad input gets a precise error, in Japanese or English, and leaves the data as it was."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from koe.app import Koe
from tests.api.conftest import BASE, PASSWORD, Tenant, World

AGENT = {"login": "ag1", "password": PASSWORD, "display_name": "受付", "extension": "101"}
USER = {"login": "u", "name": "n", "password": PASSWORD}


def _skill(**entry: Any) -> dict[str, Any]:
    return {"skills": [{"skill_id": "x", **entry}]}


async def _totals(t: Tenant) -> dict[str, int]:
    return {
        name: (await t.admin.get(f"{BASE}/{name}")).json()["total"]
        for name in ("users", "agents", "skills", "queues", "numbers")
    }


JA = "入力内容に誤りがあります(1件)。"
EN = "The request is invalid (1 problem(s))."
LANGUAGE_CASES = [
    (None, JA),
    ("ja", JA),
    ("en", EN),
    ("en-US,en;q=0.9", EN),
    ("ja,en;q=0.8", JA),
    ("fr-FR,en;q=0.5", EN),
    ("fr, de", JA),
    ("en;q=0.3, ja;q=0.7", JA),
    ("en;q=garbage", JA),
]


async def test_accept_language(world: World) -> None:
    t = await world.tenant("lang")
    seen = []
    for accept, _message in LANGUAGE_CASES:
        headers = {"Accept-Language": accept} if accept else {}
        response = await t.admin.post(f"{BASE}/skills", json={}, headers=headers)
        assert response.status_code == 422
        field = response.json()["fields"][0]
        assert (field["field"], field["code"]) == ("name", "required")
        seen.append((accept, response.json()["message"], field["message"]))
    assert seen == [
        (accept, message, "必須項目です。" if message == JA else "This field is required.")
        for accept, message in LANGUAGE_CASES
    ]


async def test_service_errors_follow_the_language_too(world: World) -> None:
    t = await world.tenant("lang-service")
    missing = f"{BASE}/skills/00000000-0000-0000-0000-000000000000"
    ja = await t.admin.get(missing)
    en = await t.admin.get(missing, headers={"Accept-Language": "en"})
    assert (ja.json()["code"], ja.json()["message"]) == ("not_found", "スキルが見つかりません。")
    assert (en.json()["code"], en.json()["message"]) == ("not_found", "Skill not found.")
    assert en.headers["content-language"] == "en"


async def test_malformed_json_is_400(world: World) -> None:
    t = await world.tenant("malformed")
    for raw in (b"{", b'{"name": "x",}', b"not json", b'{"name": "\xff"}', b"\x00"):
        response = await t.admin.post(
            f"{BASE}/skills", content=raw, headers={"Content-Type": "application/json"}
        )
        assert (response.status_code, response.json()["code"]) == (400, "malformed_json"), raw
    huge = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    too_large = await t.admin.post(
        f"{BASE}/skills", content=huge, headers={"Content-Type": "application/json"}
    )
    assert (too_large.status_code, too_large.json()["code"]) == (413, "request_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b" " * 65536
        yield b"{}"

    streamed = await t.admin.post(
        f"{BASE}/skills", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert (streamed.status_code, streamed.json()["code"]) == (413, "request_too_large")
    empty = await t.admin.post(f"{BASE}/skills", headers={"Content-Type": "application/json"})
    assert [(f["field"], f["code"]) for f in empty.json()["fields"]] == [("body", "required")]
    assert (await _totals(t))["skills"] == 0


FIELD_CASES = [
        ("skills", {"name": 123}, "name", "wrong_type"),
        ("skills", {"name": ["x"]}, "name", "wrong_type"),
        ("queues", {"name": "q", "priority": "high"}, "priority", "wrong_type"),
        ("queues", {"name": "q", "priority": 1.5}, "priority", "wrong_type"),
        ("queues", {"name": "q", "priority": 11}, "priority", "out_of_range"),
        ("queues", {"name": "q", "wrap_up_seconds": -1}, "wrap_up_seconds", "out_of_range"),
        ("queues", {"name": "q", "skills": {"a": 1}}, "skills", "wrong_type"),
        ("agents", AGENT | _skill(level=11), "skills.0.level", "out_of_range"),
        ("agents", AGENT | _skill(level=0), "skills.0.level", "out_of_range"),
        ("agents", AGENT | {"active": "maybe"}, "active", "wrong_type"),
        ("agents", AGENT | {"role": "tenant_admin"}, "role", "invalid_choice"),
        ("users", USER | {"role": "operator_admin"}, "role", "invalid_choice"),
        ("skills", {"name": "x" * 101}, "name", "too_long"),
        ("skills", {"name": "ok", "description": "x" * 501}, "description", "too_long"),
        ("users", USER | {"login": "l" * 101}, "login", "too_long"),
        ("users", USER | {"password": "p" * 257}, "password", "too_long"),
        ("numbers", {"number": "0" * 31}, "number", "too_long"),
        ("agents", AGENT | {"extension": "123456789"}, "extension", "too_long"),
        ("skills", {"name": "ok", "colour": "red"}, "colour", "unknown_field"),
        ("agents", AGENT | _skill(level=1, x=1), "skills.0.x", "unknown_field"),
        ("skills", {"name": "   "}, "name", "too_short"),
        ("skills", {"name": "a\x00b"}, "name", "invalid_characters"),
        ("skills", {"name": "a\nb"}, "name", "invalid_characters"),
        ("skills", {"name": "\ud800"}, "name", "invalid_characters"),
        ("users", USER | {"email": "nope"}, "email", "invalid_email"),
        ("hours", {"name": "h", "timezone": "Mars/Olympus"}, "timezone", "invalid_timezone"),
        ("hours", {"name": "h", "weekly": {"mon": [["9:00", "18:00"]]}}, "weekly.mon.0.0",
         "invalid_format"),
        ("hours", {"name": "h", "weekly": {"someday": []}}, "weekly.someday.[key]",
         "invalid_choice"),
        ("ivrs", {"name": "i", "template": "nope", "document": {}}, "template", "invalid_template"),
]  # fmt: skip


async def test_invalid_fields_are_named_precisely(world: World) -> None:
    t = await world.tenant("fields")
    before = await _totals(t)
    wrong = []
    for resource, body, field, code in FIELD_CASES:
        # json.dumps escapes as \uXXXX, so even an unpaired surrogate can be sent.
        raw = json.dumps(body)
        headers = {"Content-Type": "application/json"}
        response = await t.admin.post(f"{BASE}/{resource}", content=raw, headers=headers)
        problem = response.json()
        named = [(f["field"], f["code"]) for f in problem["fields"]]
        if response.status_code != 422 or (field, code) not in named:
            wrong.append((resource, body, response.status_code, problem))
        assert all(f["message"] for f in problem["fields"])
    assert wrong == []
    assert await _totals(t) == before


async def test_every_problem_is_reported_at_once(world: World) -> None:
    t = await world.tenant("many")
    body = {"name": "x" * 101, "priority": 0, "colour": "red", "max_length": "many"}
    response = await t.admin.post(f"{BASE}/queues", json=body, headers={"Accept-Language": "en"})
    fields = {f["field"]: (f["code"], f["message"]) for f in response.json()["fields"]}
    assert fields == {
        "name": ("too_long", "At most 100 characters."),
        "priority": ("out_of_range", "Must be at least 1."),
        "colour": ("unknown_field", "Unknown field."),
        "max_length": ("wrong_type", "Must be an integer."),
    }


async def test_patch_refuses_null_for_required_columns(world: World) -> None:
    t = await world.tenant("nulls")
    skill = (await t.admin.post(f"{BASE}/skills", json={"name": "s"})).json()
    response = await t.admin.patch(f"{BASE}/skills/{skill['id']}", json={"name": None})
    assert response.json()["fields"][0] == {
        "field": "name",
        "code": "not_nullable",
        "message": "null にはできません。",
    }
    number = (await t.admin.post(f"{BASE}/numbers", json={"number": "0312345678"})).json()
    cleared = await t.admin.patch(f"{BASE}/numbers/{number['id']}", json={"flow_id": None})
    assert cleared.status_code == 200
    assert (await t.admin.get(f"{BASE}/skills/{skill['id']}")).json()["name"] == "s"


QUERY_CASES = [
    ({"limit": 0}, "limit", "out_of_range"),
    ({"limit": 501}, "limit", "out_of_range"),
    ({"offset": -1}, "offset", "out_of_range"),
    ({"limit": "ten"}, "limit", "wrong_type"),
    ({"q": "x" * 101}, "q", "too_long"),
    ({"colour": "red"}, "colour", "unknown_field"),
    ({"role": "boss"}, "role", "invalid_choice"),
]


async def test_bad_query_parameters(world: World) -> None:
    t = await world.tenant("query")
    seen = []
    for params, _field, _code in QUERY_CASES:
        response = await t.admin.get(f"{BASE}/users", params=params)
        assert response.status_code == 422
        seen.append([(f["field"], f["code"]) for f in response.json()["fields"]])
    assert seen == [[(field, code)] for _params, field, code in QUERY_CASES]


async def test_a_failure_halfway_leaves_nothing_behind(world: World) -> None:
    """An agent with an unknown skill: the user row created first is rolled back too."""
    t = await world.tenant("rollback")
    before = await _totals(t)
    body = AGENT | {"skills": [{"skill_id": "00000000-0000-0000-0000-000000000000", "level": 3}]}
    response = await t.admin.post(f"{BASE}/agents", json=body)
    assert (response.status_code, response.json()["code"]) == (422, "unknown_reference")
    assert response.json()["fields"][0]["field"] == "skills"
    assert await _totals(t) == before
    assert (await t.admin.post(f"{BASE}/agents", json=AGENT)).status_code == 201


async def test_unexpected_errors_are_500_without_details(
    world: World, koe: Koe, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await world.tenant("boom")

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret database password in this message")

    monkeypatch.setattr(koe.directory, "page", broken)
    response = await t.admin.get(f"{BASE}/skills", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_error",
        "message": "An internal error occurred. Please try again later.",
        "fields": [],
    }
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_unknown_routes_and_methods(world: World) -> None:
    t = await world.tenant("routes")
    missing = await t.admin.get(f"{BASE}/nothing-here")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = await t.admin.put(f"{BASE}/skills")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    bad_id = await t.admin.get(f"{BASE}/skills/'; DROP TABLE skills; --")
    assert (bad_id.status_code, bad_id.json()["code"]) == (404, "not_found")


async def test_openapi_and_health(api_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://koe.test") as client:
        spec = (await client.get("/openapi.json")).json()
        assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert spec["info"]["title"] == "Koe"
    assert f"{BASE}/auth/login" in spec["paths"]
    assert "ErrorOut" in spec["components"]["schemas"]
    login = spec["paths"][f"{BASE}/auth/login"]["post"]
    assert login["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
