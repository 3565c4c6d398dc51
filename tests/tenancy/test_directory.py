"""Directory and tenant services against SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from koe.app import Koe
from koe.core.domain import AddOn, ContractStatus, LicenseKind, RestrictionKind
from koe.core.errors import Conflict, LicenseExceeded, NotFound, ValidationFailed

TENANT: dict[str, Any] = {
    "company_name": "株式会社テスト",
    "representative_name": "山田 太郎",
    "address": "東京都千代田区丸の内1-1-1",
    "phone": "０３－１２３４－５６７８",
}


async def _tenant(koe: Koe, code: str, seats: int = 6) -> str:
    view = await koe.tenants.create({"code": code, **TENANT, "status": ContractStatus.ACTIVE})
    if seats:
        await koe.tenants.add_license(view["id"], LicenseKind.SEAT, seats)
    await koe.tenants.add_license(view["id"], LicenseKind.LINE, 5)
    await koe.tenants.add_license(view["id"], LicenseKind.ADMIN, 1)
    return str(view["id"])


def _agent(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "login": f"agent{n}",
        "display_name": f"エージェント{n}",
        "password": "s3cret-pass",
        "extension": f"{1000 + n}",
    } | extra


async def test_tenant_phone_is_stored_in_e164(koe: Koe) -> None:
    view = await koe.tenants.create({"code": "acme", **TENANT})
    assert view["phone"] == "+81312345678"
    with pytest.raises(Conflict):
        await koe.tenants.create({"code": "acme", **TENANT})


async def test_seventh_agent_refused_until_an_additional_user_is_bought(koe: Koe) -> None:
    tid = await _tenant(koe, "acme", seats=6)
    for n in range(6):
        await koe.directory.create(tid, "agents", _agent(n))
    with pytest.raises(LicenseExceeded) as info:
        await koe.directory.create(tid, "agents", _agent(6))
    assert info.value.code == "license_users_exceeded"
    _, total = await koe.directory.page(tid, "users")
    assert total == 6  # nothing half-created
    await koe.tenants.add_license(tid, LicenseKind.ADDITIONAL_USER, 1)
    view = await koe.directory.create(tid, "agents", _agent(6))
    assert view["extension"] == "1006"


async def test_admin_users_need_no_user_license(koe: Koe) -> None:
    tid = await _tenant(koe, "acme", seats=0)
    view = await koe.directory.create(
        tid,
        "users",
        {"login": "admin", "name": "管理者", "password": "s3cret-pass", "role": "tenant_admin"},
    )
    assert view["role"] == "tenant_admin"
    assert "password_hash" not in view


async def test_agent_with_skills_and_duplicate_extension(koe: Koe) -> None:
    tid = await _tenant(koe, "acme")
    skill = await koe.directory.create(tid, "skills", {"name": "請求"})
    agent = await koe.directory.create(
        tid, "agents", _agent(1, skills=[{"skill_id": skill["id"], "level": 7}])
    )
    assert agent["skills"] == [{"skill_id": skill["id"], "level": 7}]
    with pytest.raises(Conflict) as info:
        await koe.directory.create(tid, "agents", _agent(2, extension="1001"))
    assert info.value.fields[0].field == "extension"


async def test_objects_of_another_tenant_are_not_found(koe: Koe) -> None:
    a = await _tenant(koe, "tenant-a")
    b = await _tenant(koe, "tenant-b")
    skill = await koe.directory.create(a, "skills", {"name": "sales"})
    with pytest.raises(NotFound):
        await koe.directory.get(b, "skills", skill["id"])
    with pytest.raises(NotFound):
        await koe.directory.delete(b, "skills", skill["id"])
    assert (await koe.directory.page(b, "skills"))[1] == 0
    # A tenant cannot reference another tenant's skill either.
    with pytest.raises(ValidationFailed) as info:
        await koe.directory.create(
            b, "agents", _agent(1, skills=[{"skill_id": skill["id"], "level": 3}])
        )
    assert info.value.code == "unknown_reference"


async def test_numbers_are_unique_across_the_installation(koe: Koe) -> None:
    a = await _tenant(koe, "tenant-a")
    b = await _tenant(koe, "tenant-b")
    await koe.directory.create(a, "numbers", {"number": "050-1234-5678"})
    with pytest.raises(Conflict):
        await koe.directory.create(b, "numbers", {"number": "０５０１２３４５６７８"})


async def test_search_treats_sql_metacharacters_literally(koe: Koe) -> None:
    tid = await _tenant(koe, "acme")
    for name in ["100%", "a_b", "'; DROP TABLE skills; --", "plain"]:
        await koe.directory.create(tid, "skills", {"name": name})
    names = lambda views: sorted(v["name"] for v in views)  # noqa: E731
    assert names((await koe.directory.page(tid, "skills", q="%"))[0]) == ["100%"]
    assert names((await koe.directory.page(tid, "skills", q="_"))[0]) == ["a_b"]
    assert names((await koe.directory.page(tid, "skills", q="DROP"))[0]) == [
        "'; DROP TABLE skills; --"
    ]
    assert (await koe.directory.page(tid, "skills"))[1] == 4


async def test_flow_referencing_unknown_node_is_refused_naming_the_node(koe: Koe) -> None:
    tid = await _tenant(koe, "acme")
    doc = {"start": "a", "nodes": {"a": {"type": "play", "prompt": "hi", "next": "zz"}}}
    with pytest.raises(ValidationFailed) as info:
        await koe.directory.create(tid, "flows", {"name": "main", "document": doc})
    assert info.value.fields[0].field == "nodes.a"
    assert "zz" in info.value.fields[0].message_en


async def test_addon_needs_basic_service_and_cannot_return_after_cancellation(koe: Koe) -> None:
    bare = await koe.tenants.create({"code": "bare", **TENANT})
    with pytest.raises(Conflict) as info:
        await koe.tenants.subscribe_addon(bare["id"], AddOn.TRANSCRIPTION)
    assert info.value.code == "addon_requires_basic"
    tid = await _tenant(koe, "acme")
    sub = await koe.tenants.subscribe_addon(tid, AddOn.RECORDING_DELIVERY)
    assert sub["addon"] == "recording_delivery"


async def test_restrictions_change_what_is_allowed(koe: Koe) -> None:
    tid = await _tenant(koe, "acme")
    now = koe.clock.now()
    assert (await koe.tenants.allowance(tid)).inbound_calls
    pause = await koe.tenants.add_restriction(
        tid, RestrictionKind.PAUSE, now, now + timedelta(hours=2), reason="maintenance"
    )
    allowed = await koe.tenants.allowance(tid)
    assert not allowed.inbound_calls
    assert allowed.active[0].reason == "maintenance"
    await koe.tenants.lift_restriction(tid, pause["id"])
    assert (await koe.tenants.allowance(tid)).inbound_calls
