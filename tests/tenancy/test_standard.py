"""The standard initial setup (R2.3) creates exactly the package, atomically, and is no limit."""

from __future__ import annotations

from typing import Any

import pytest

from koe.app import Koe
from koe.core.domain import LicenseKind, Role
from koe.core.errors import Conflict, KoeError, LicenseExceeded
from koe.tenancy.standard import (
    DIRECT_FLOW,
    MAIN_FLOW,
    StandardSetup,
    provision_standard,
)
from koe.tenancy.templates import TEMPLATES

APPLICATION: dict[str, Any] = {
    "code": "acme",
    "company_name": "株式会社アクメ",
    "representative_name": "山田 太郎",
    "address": "東京都千代田区丸の内1-1-1",
    "phone": "03-1234-5678",
}


async def _all(koe: Koe, tenant_id: str, resource: str) -> list[dict[str, Any]]:
    views, total = await koe.directory.page(tenant_id, resource, limit=500)
    assert total == len(views)
    return views


async def test_standard_setup_creates_exactly_the_package(koe: Koe) -> None:
    result = await provision_standard(
        koe.tenants,
        APPLICATION,
        setup=StandardSetup(numbers=["050-1111-2222", "０３－１２３４－５６７９"]),
    )
    tid = result.tenant["id"]

    holdings = await koe.tenants.holdings(tid)
    assert (holdings.line, holdings.seat, holdings.admin, holdings.additional_user) == (5, 6, 1, 0)

    users = await _all(koe, tid, "users")
    roles = sorted(u["role"] for u in users)
    assert roles == ["agent"] * 5 + ["supervisor", "tenant_admin"]
    agents = await _all(koe, tid, "agents")
    assert sorted(a["extension"] for a in agents) == ["101", "102", "103", "104", "105", "106"]
    skills = await _all(koe, tid, "skills")
    assert sorted(s["name"] for s in skills) == sorted(["受付", "サポート", "請求"])
    assert all(len(a["skills"]) == 3 for a in agents)
    assert all(1 <= k["level"] <= 10 for a in agents for k in a["skills"])
    queues = await _all(koe, tid, "queues")
    assert len(queues) == 3
    skill_ids = {s["id"] for s in skills}
    assert {q["skills"][0]["skill_id"] for q in queues} == skill_ids

    ivrs = await _all(koe, tid, "ivrs")
    assert [i["template"] for i in ivrs] == ["hours_menu"]
    menu_queues = {c["queue"] for c in ivrs[0]["document"]["choices"].values() if "queue" in c}
    assert menu_queues == {q["id"] for q in queues}
    flows = await _all(koe, tid, "flows")
    assert sorted(f["name"] for f in flows) == sorted([MAIN_FLOW, DIRECT_FLOW])
    by_name = {f["name"]: f for f in flows}
    main_nodes = by_name[MAIN_FLOW]["document"]["nodes"]
    assert main_nodes["open"] == {"type": "ivr_menu", "ivr": ivrs[0]["id"], "next": "voicemail"}
    direct = by_name[DIRECT_FLOW]["document"]["nodes"]["open"]
    assert direct["queue"] == next(q["id"] for q in queues if q["name"] == "サポート")
    hours = await _all(koe, tid, "hours")
    assert main_nodes["hours"]["calendar"] == hours[0]["id"]

    numbers = await _all(koe, tid, "numbers")
    plan = {n["e164"]: n["flow_id"] for n in numbers}
    assert plan == {
        "+815011112222": by_name[MAIN_FLOW]["id"],
        "+81312345679": by_name[DIRECT_FLOW]["id"],
    }

    logins = {c.login: c for c in result.credentials}
    assert set(logins) == {u["login"] for u in users}
    assert logins["admin"].role is Role.TENANT_ADMIN
    assert len({c.password for c in result.credentials}) == len(result.credentials)
    assert all(len(c.password) >= 16 for c in result.credentials)


async def test_the_package_is_no_product_limit(koe: Koe) -> None:
    result = await provision_standard(koe.tenants, APPLICATION)
    tid = result.tenant["id"]
    numbers = await _all(koe, tid, "numbers")
    assert [n["e164"] for n in numbers] == ["+81312345678"]  # the tenant's own phone by default

    skill = await koe.directory.create(tid, "skills", {"name": "英語"})
    await koe.directory.create(tid, "queues", {"name": "英語", "skills": []})
    flows = await _all(koe, tid, "flows")
    await koe.directory.create(
        tid, "flows", {"name": "第3のフロー", "document": flows[0]["document"]}
    )
    seventh = {
        "login": "agent07",
        "display_name": "七人目",
        "extension": "107",
        "password": "correct horse battery",
        "skills": [{"skill_id": skill["id"], "level": 5}],
    }
    with pytest.raises(LicenseExceeded):
        await koe.directory.create(tid, "agents", seventh)
    await koe.tenants.add_license(tid, LicenseKind.ADDITIONAL_USER, 1)
    await koe.directory.create(tid, "agents", seventh)
    assert len(await _all(koe, tid, "skills")) == 4
    assert len(await _all(koe, tid, "flows")) == 3
    assert len(await _all(koe, tid, "agents")) == 7


async def test_every_ivr_template_can_be_chosen(koe: Koe) -> None:
    for i, template in enumerate(sorted(TEMPLATES)):
        application = APPLICATION | {"code": f"tenant{i}", "phone": f"03-1234-000{i}"}
        result = await provision_standard(
            koe.tenants, application, setup=StandardSetup(ivr_template=template, seats=2)
        )
        ivrs = await _all(koe, result.tenant["id"], "ivrs")
        assert [i["template"] for i in ivrs] == [template]
        agents = await _all(koe, result.tenant["id"], "agents")
        assert sorted(a["login"] for a in agents) == ["agent01", "supervisor01"]


async def test_a_failing_setup_leaves_nothing_behind(koe: Koe) -> None:
    await provision_standard(koe.tenants, APPLICATION)
    other = APPLICATION | {"code": "other", "phone": "06-1234-5678"}
    with pytest.raises(Conflict) as err:
        # 03-1234-5678 already belongs to acme: the whole tenant must roll back.
        await provision_standard(
            koe.tenants, other, setup=StandardSetup(numbers=["06-1234-5678", "03-1234-5678"])
        )
    assert err.value.code == "duplicate"
    tenants, total = await koe.tenants.list()
    assert total == 1
    assert [t["code"] for t in tenants] == ["acme"]


@pytest.mark.parametrize(
    ("setup", "field"),
    [
        (StandardSetup(lines=6), "lines"),
        (StandardSetup(seats=7), "seats"),
        (StandardSetup(admins=2), "admins"),
        (StandardSetup(skills=("a", "b", "c", "d")), "skills"),
        (StandardSetup(skills=("a", "a")), "skills"),
        (StandardSetup(ivr_template="nope"), None),
        (StandardSetup(numbers=["03-1111-2222", "0311112222"]), "numbers"),
        (StandardSetup(skills=("受" * 101,)), "name"),
    ],
)
async def test_choices_outside_the_package_are_refused(
    koe: Koe, setup: StandardSetup, field: str | None
) -> None:
    with pytest.raises(KoeError) as err:
        await provision_standard(koe.tenants, APPLICATION, setup=setup)
    if field:
        assert [f.field for f in err.value.fields] == [field]
    assert (await koe.tenants.list())[1] == 0
