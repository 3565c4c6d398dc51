"""The operator's back office over HTTP: applications to payments, and who may use it."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date
from typing import Any

from koe.core.domain import ContractStatus, Role
from tests.api.accounts import invoiced
from tests.api.conftest import BASE, World
from tests.api.test_cross_tenant import _paths
from tests.billing.helpers import REGISTRATION, pdf_text

OPS = f"{BASE}/operator"
ADMIN_ONLY = {
    ("post", f"{OPS}/billing/issuers"),
    ("post", f"{OPS}/billing/tax-rates"),
    ("post", f"{OPS}/tariff-versions"),
    ("post", f"{OPS}/addon-abolitions"),
    ("post", f"{OPS}/service-abolition"),
}
REGISTRY = b"%PDF-1.4 registry certificate"
SEAL = b"%PDF-1.4 seal certificate"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def application(code: str, **extra: Any) -> dict[str, Any]:
    """An application body with every R3.1 field."""
    body: dict[str, Any] = {
        "company": {
            "code": code,
            "company_name": "株式会社アクメ",
            "company_name_kana": "カブシキガイシャアクメ",
            "representative_name": "山田 太郎",
            "postal_code": "150-0001",
            "address": "東京都渋谷区1-1",
            "phone": "03-1111-2222",
            "billing_address": "東京都渋谷区1-1 経理部",
        },
        "contacts": [
            {"kind": "contract", "name": "契約 一郎", "email": "contract@acme.example"},
            {"kind": "technical", "name": "技術 二郎", "email": "tech@acme.example"},
            {"kind": "emergency", "name": "緊急 三郎", "phone": "090-0000-0000"},
        ],
        "requested": {"lines": 4, "seats": 4, "admins": 1, "recording_delivery": True},
        "go_live_date": "2026-12-15",
        "usage_breakdown": "受付 4席",
        "sales_agent": "東京販売",
        "uses_operator_numbers": True,
        "anti_social_attested": True,
        "documents": [
            {
                "kind": "corporate_registry",
                "issued_on": "2026-10-01",
                "filename": "touki.pdf",
                "content_base64": _b64(REGISTRY),
            },
            {
                "kind": "seal_certificate",
                "issued_on": "2026-05-24",  # the oldest accepted on 24 Nov (Art. 9-2)
                "filename": "inkan.pdf",
                "content_base64": _b64(SEAL),
            },
        ],
    }
    body.update(extra)
    return body


def _fill(path: str, tenant_id: str) -> str:
    return path.replace("{tenant_id}", tenant_id).replace("{object_id}", "x1")


async def test_every_operator_route_refuses_tenant_people_and_admin_routes_refuse_staff(
    world: World,
) -> None:
    t = await world.tenant("acme")
    await world.user(t.id, "ag", Role.AGENT)
    agent = await world.actor(t.code, "ag")
    staff = await world.operator("staff", Role.OPERATOR_STAFF)
    routes = [
        (method, path)
        for path, ops in _paths().items()
        if path.startswith(f"{OPS}/")
        for method in ops
    ]
    assert len(routes) > 60
    for method, path in routes:
        for caller in (t.admin, agent):
            response = await caller.http.request(
                method.upper(),
                _fill(path, t.id),
                json={},
                headers={"Authorization": f"Bearer {caller.token}"},
            )
            assert (response.status_code, response.json()["code"]) == (
                403,
                "permission_denied",
            ), (method, path)
    for method, path in ADMIN_ONLY:
        response = await staff.http.request(
            method.upper(), path, json={}, headers={"Authorization": f"Bearer {staff.token}"}
        )
        assert response.status_code == 403, path


async def test_application_with_documents_is_reviewed_and_notified(world: World) -> None:
    ops = await world.operator()
    filed = await ops.post(f"{OPS}/applications", json=application("acme"))
    assert filed.status_code == 201, filed.text
    app = filed.json()
    assert (app["status"], app["submitted_by"], app["sales_agent"]) == (
        "submitted",
        "operator:ops",
        "東京販売",
    )
    waiting = (await ops.get(f"{OPS}/applications", params={"status": "submitted"})).json()
    assert [a["id"] for a in waiting] == [app["id"]]
    docs = {d["filename"]: d for d in waiting[0]["documents"]}
    assert docs["touki.pdf"]["sha256"] == hashlib.sha256(REGISTRY).hexdigest()
    assert docs["inkan.pdf"]["issued_on"] == "2026-05-24"
    assert "content_base64" not in docs["inkan.pdf"] and "content" not in docs["inkan.pdf"]

    tenant = app["tenant_id"]
    accepted = await ops.post(f"{OPS}/tenants/{tenant}/applications/{app['id']}/accept", json={})
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["service_start_date"]) == (
        "accepted",
        "2026-12-01",  # go-live 15 Dec → the 1st of December (Art. 11-2)
    )
    assert (await ops.get(f"{OPS}/tenants/{tenant}")).json()["status"] == "active"
    again = await ops.post(f"{OPS}/tenants/{tenant}/applications/{app['id']}/reject", json={})
    assert again.status_code == 422  # no reason
    again = await ops.post(
        f"{OPS}/tenants/{tenant}/applications/{app['id']}/reject", json={"reason": "other"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "application_decided")
    (notice,) = (await ops.get(f"{OPS}/tenants/{tenant}/notices")).json()
    assert (notice["kind"], notice["article"]) == ("application_accepted", "11")
    assert notice["delivery"]["email"] == "queued"
    deliveries = (await ops.get(f"{OPS}/tenants/{tenant}/notices/{notice['id']}/deliveries")).json()
    assert [(d["contact_kind"], d["address"], d["status"]) for d in deliveries] == [
        ("contract", "contract@acme.example", "queued")
    ]  # the emergency contact has no address; technical contacts get no notices

    rejected = (await ops.post(f"{OPS}/applications", json=application("beta"))).json()
    refused = await ops.post(
        f"{OPS}/tenants/{rejected['tenant_id']}/applications/{rejected['id']}/reject",
        json={"reason": "payment_risk", "note": "与信不可"},
    )
    assert (refused.json()["status"], refused.json()["reject_reason"]) == (
        "rejected",
        "payment_risk",
    )
    (notice,) = (await ops.get(f"{OPS}/tenants/{rejected['tenant_id']}/notices")).json()
    assert notice["kind"] == "application_rejected" and "第2号" in notice["body_ja"]


async def test_application_is_validated_field_by_field(world: World) -> None:
    ops = await world.operator()
    too_old = application("acme")
    too_old["documents"][1]["issued_on"] = "2026-05-23"
    response = await ops.post(
        f"{OPS}/applications", json=too_old, headers={"Accept-Language": "en"}
    )
    assert (response.status_code, response.json()["code"]) == (422, "document_too_old")
    assert "on or after 2026-05-24 (Art. 9-2)" in response.json()["message"]

    unattested = application("acme")
    del unattested["anti_social_attested"]
    unattested["documents"][0]["content_base64"] = "not base64!"
    unattested["company"]["status"] = "active"
    response = await ops.post(f"{OPS}/applications", json=unattested)
    assert response.status_code == 422
    fields = {f["field"]: f["code"] for f in response.json()["fields"]}
    assert fields == {
        "anti_social_attested": "required",
        "documents.0.content_base64": "invalid_base64",
        "company.status": "unknown_field",
    }
    no_documents = application("acme", documents=[])
    response = await ops.post(f"{OPS}/applications", json=no_documents)
    assert (response.status_code, response.json()["code"]) == (422, "identity_documents_required")
    assert (await ops.get(f"{OPS}/applications")).json() == []


async def test_monthly_run_invoices_pdf_csv_correction_and_payment(world: World) -> None:
    t = await world.tenant("acme")  # 5 lines + 6 seats + 1 admin = 60,000 yen a month
    admin = await world.operator()
    issuer = {
        "name": "株式会社コエ運営",
        "registration_number": REGISTRATION,
        "effective_from": "2021-01-01",
    }
    made = await admin.post(f"{OPS}/billing/issuers", json=issuer)
    assert made.status_code == 201, made.text
    bad = await admin.post(f"{OPS}/billing/issuers", json={**issuer, "registration_number": "T1"})
    assert bad.json()["fields"][0]["field"] == "registration_number"
    await admin.patch(
        f"{OPS}/tenants/{t.id}", json={"status": "active", "service_start_date": "2026-11-01"}
    )

    wrong = await admin.post(f"{OPS}/billing/runs", json={"month": "2026-13"})
    assert (wrong.status_code, wrong.json()["fields"][0]["code"]) == (422, "invalid_format")
    run = (await admin.post(f"{OPS}/billing/runs", json={"month": "2026-11"})).json()
    assert (run["month"], run["invoices"], run["billed_yen"]) == ("2026-11", 1, 66_000)
    rerun = (await admin.post(f"{OPS}/billing/runs", json={"month": "2026-11"})).json()
    assert (rerun["invoices"], rerun["skipped"]) == (0, 1)

    listed = (await admin.get(f"{OPS}/invoices", params={"month": "2026-11"})).json()
    assert listed["total"] == 1
    (invoice,) = listed["items"]
    assert (invoice["tenant_id"], invoice["total_yen"], invoice["tax_yen"]) == (t.id, 66_000, 6_000)
    mine = (await t.admin.get(f"{BASE}/invoices")).json()
    assert [i["number"] for i in mine["items"]] == [invoice["number"]]
    assert (await t.admin.get(f"{BASE}/invoices", params={"month": "2026-10"})).json()["total"] == 0

    pdf = await t.admin.get(f"{BASE}/invoices/{invoice['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{invoice["number"]}.pdf"' in pdf.headers["content-disposition"]
    text = pdf_text(pdf.content)
    assert invoice["number"] in text and "請求書" in text and REGISTRATION in text
    english = await t.admin.get(f"{BASE}/invoices/{invoice['id']}/pdf", params={"lang": "en"})
    assert "Invoice" in pdf_text(english.content)

    exported = await admin.get(f"{OPS}/billing/exports/invoices", params={"month": "2026-11"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = exported.content.decode("utf-8-sig").splitlines()
    assert rows[1].startswith(f"{invoice['number']},invoice,issued,acme,")
    lines = await admin.get(f"{OPS}/billing/exports/lines", params={"month": "2026-11"})
    assert len(lines.content.decode("utf-8-sig").splitlines()) == 1 + 3

    corrected = await admin.post(
        f"{OPS}/tenants/{t.id}/invoices/{invoice['id']}/correction", json={"reason": "宛名訂正"}
    )
    assert corrected.status_code == 201, corrected.text
    kinds_items = (await t.admin.get(f"{BASE}/invoices")).json()["items"]
    kinds = {i["id"]: (i["kind"], i["status"]) for i in kinds_items}
    assert kinds == {
        invoice["id"]: ("invoice", "credited"),
        corrected.json()["credit_note_id"]: ("credit_note", "issued"),
        corrected.json()["invoice_id"]: ("invoice", "issued"),
    }
    second = (await admin.get(f"{OPS}/invoices", params={"offset": 1, "limit": 1})).json()
    assert (second["total"], len(second["items"])) == (3, 1)
    assert second["items"][0]["number"] == sorted(i["number"] for i in kinds_items)[1]

    paid = await admin.post(
        f"{OPS}/tenants/{t.id}/payments",
        json={"amount_yen": 66_000, "received_on": "2026-11-24", "payer_name": "ｱｸﾒ"},
    )
    assert paid.status_code == 201, paid.text
    assert (paid.json()["settled"], paid.json()["method"]) == (True, "api")
    assert paid.json()["allocations"][0]["invoice_id"] == corrected.json()["invoice_id"]
    (payment,) = (await t.admin.get(f"{BASE}/payments")).json()
    assert (payment["id"], payment["unapplied_yen"]) == (paid.json()["id"], 0)
    balance = (await t.admin.get(f"{BASE}/balance")).json()
    assert (balance["as_of"], balance["total_outstanding_yen"]) == ("2026-11-24", 0)


async def test_transfers_offsets_outages_charges_and_aging(world: World) -> None:
    t = await world.tenant("acme")
    await world.koe.tenants.update(t.id, {"company_name_kana": "カブシキガイシャ アクメ"})
    other = await world.tenant("beta")
    invoice = await invoiced(world, t)
    await invoiced(world, other, with_issuer=False)
    ops = await world.operator("staff", Role.OPERATOR_STAFF)

    bank_csv = "取引日,入金額,振込依頼人名,摘要\n2026/12/10,65560,ｶ)ｱｸﾒ,\n2026/12/10,1000,ﾀﾅｶ,\n"
    files = {"file": ("furikomi.csv", bank_csv.encode("cp932"), "text/csv")}
    report = (await ops.post(f"{OPS}/transfers", files=files)).json()
    assert report["rows"] == 2 and report["duplicates"] == 0
    (matched,) = report["matched"]
    assert (matched["tenant_id"], matched["line"]) == (t.id, 2)
    assert matched["allocations"][0]["to_interest_yen"] == 262  # 66,000 × 14.5 % × 10 / 365
    assert report["unmatched"] == [{"line": 3, "payer": "ﾀﾅｶ", "reason": "no_match"}]
    again = (await ops.post(f"{OPS}/transfers", files=files)).json()
    assert (again["duplicates"], again["matched"]) == (1, [])
    unmatched = (await ops.get(f"{OPS}/transfers/unmatched")).json()
    assert [u["payer_name"] for u in unmatched] == ["ﾀﾅｶ", "ﾀﾅｶ"]
    unreadable = {"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}
    response = await ops.post(f"{OPS}/transfers", files=unreadable)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_transfer_file")

    offset = await ops.post(
        f"{OPS}/tenants/{t.id}/offsets",
        json={"amount_yen": 702, "on": "2026-12-11", "operator_debt": "返金 REF-1"},
    )
    assert offset.status_code == 201, offset.text
    assert (offset.json()["method"], offset.json()["statement"]["title_ja"]) == (
        "offset",
        "相殺明細書",
    )
    aging = (await ops.get(f"{OPS}/billing/aging", params={"as_of": "2027-01-15"})).json()
    rows = {row["code"]: row for row in aging["tenants"]}
    assert rows["beta"]["overdue_31_60_yen"] == 66_000 and rows["beta"]["interest_yen"] > 0
    assert "acme" not in rows  # 65,560 + 702 paid the invoice and its interest

    down = {
        "services": ["basic"],
        "cause": "force_majeure",
        "started_at": "2026-11-10T00:00:00+09:00",
        "learned_at": "2026-11-10T00:00:00+09:00",
        "ended_at": "2026-11-11T07:00:00+09:00",
    }
    outage = await ops.post(f"{OPS}/tenants/{t.id}/outages", json=down)
    assert outage.status_code == 201, outage.text
    assert outage.json()["waiver_yen"] == 2_000  # 60,000 × 1 whole day / 30 days (31 h)
    naive = await ops.post(
        f"{OPS}/tenants/{t.id}/outages", json={**down, "started_at": "2026-11-10T00:00:00"}
    )
    assert naive.json()["fields"][0]["field"] == "started_at"
    assert [o["id"] for o in (await ops.get(f"{OPS}/tenants/{t.id}/outages")).json()] == [
        outage.json()["id"]
    ]

    quote = await ops.post(
        f"{OPS}/tenants/{t.id}/quotes",
        json={"item": "seat", "unit_price_yen": 4_000, "effective_from": "2027-01-01"},
    )
    assert quote.status_code == 201, quote.text
    assert len((await ops.get(f"{OPS}/tenants/{t.id}/quotes")).json()) == 1
    one_off = await ops.post(
        f"{OPS}/tenants/{t.id}/one-offs",
        json={"item": "setup_at_cost", "amount_yen": 50_000, "month": "2026-12"},
    )
    assert one_off.json()["service_month"] == "2026-12-01"
    surcharge = await ops.post(
        f"{OPS}/tenants/{t.id}/surcharges", json={"evaded_yen": 10_000, "month": "2026-12"}
    )
    assert [c["amount_yen"] for c in surcharge.json()] == [10_000, 20_000]

    number = await ops.post(f"{OPS}/tenants/{t.id}/numbers", json={"number": "03-5555-0001"})
    assert number.status_code == 201, number.text
    statement = await ops.post(
        f"{OPS}/carrier-statements",
        json={
            "carrier": "NTT",
            "rows": [
                {"number": "03-5555-0001", "usage_month": "2026-11", "amount_yen": 335, "calls": 3},
                {"number": "03-9999-0000", "usage_month": "2026-11", "amount_yen": 100},
            ],
            "cdr_counts": {"+81355550001|2026-11": 2},
        },
    )
    body = statement.json()
    assert [c["amount_yen"] for c in body["imported"]] == [335]
    assert body["unknown_numbers"] == [{"number": "+81399990000", "amount_yen": 100}]
    assert body["mismatches"][0]["koe_calls"] == 2

    sent = await ops.post(f"{OPS}/notices/send")
    assert (sent.status_code, sent.json()["code"]) == (409, "smtp_not_configured")
    assert invoice["total_yen"] == 66_000


async def test_contract_lifecycle_changes_addons_cancellation(world: World) -> None:
    t = await world.tenant("acme")
    await world.koe.tenants.update(
        t.id, {"status": ContractStatus.ACTIVE, "service_start_date": date(2026, 11, 1)}
    )
    ops = await world.operator()
    base = f"{OPS}/tenants/{t.id}"

    late = await ops.post(
        f"{base}/changes",
        json={"kind": "add_licenses", "effective_on": "2026-12-01", "payload": {"kind": "seat"}},
    )
    assert (late.status_code, late.json()["code"]) == (409, "lead_time_not_met")
    change = await ops.post(
        f"{base}/changes",
        json={
            "kind": "add_licenses",
            "effective_on": "2027-01-10",
            "payload": {"kind": "seat", "quantity": 2},
        },
    )
    assert change.status_code == 201, change.text
    accepted = await ops.post(f"{base}/changes/{change.json()['id']}/accept")
    assert accepted.json()["status"] == "accepted"
    other = (
        await ops.post(
            f"{base}/changes",
            json={"kind": "content", "effective_on": "2027-01-10", "payload": {"note": "x"}},
        )
    ).json()
    refused = await ops.post(
        f"{base}/changes/{other['id']}/refuse", json={"reason": "technically_infeasible"}
    )
    assert refused.json()["refuse_reason"] == "technically_infeasible"
    changes = (await ops.get(f"{base}/changes")).json()
    assert sorted(c["status"] for c in changes) == ["accepted", "refused"]

    addon = await ops.post(
        f"{base}/addon-applications", json={"addon": "transcription", "starts_on": "2027-01-01"}
    )
    assert addon.status_code == 201, addon.text
    assert (addon.json()["addon"], addon.json()["starts_on"]) == ("transcription", "2027-01-01")
    gone = await ops.post(
        f"{base}/addon-cancellations", json={"addon": "transcription", "leave_on": "2027-01-31"}
    )
    assert (gone.status_code, gone.json()["kind"]) == (201, "addon_cancellation")
    never = await ops.post(
        f"{base}/addon-applications", json={"addon": "transcription", "starts_on": "2027-03-01"}
    )
    assert (never.status_code, never.json()["code"]) == (409, "addon_resubscribe_forbidden")

    not_end = await ops.post(f"{base}/cancellation", json={"leave_on": "2027-03-30"})
    assert (not_end.status_code, not_end.json()["code"]) == (422, "not_month_end")
    cancelled = await ops.post(f"{base}/cancellation", json={"leave_on": "2027-03-31"})
    assert cancelled.json() == {"tenant_id": t.id, "service_end_date": "2027-03-31"}
    notices = (await t.admin.get(f"{BASE}/notices")).json()
    assert sorted(n["kind"] for n in notices) == [
        "addon_cancellation_accepted",
        "cancellation_accepted",
        "change_refused",
    ]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", n["id"]) for n in notices)

    tariff = await ops.post(
        f"{OPS}/tariff-versions",
        json={"effective_from": "2027-01-01", "prices": {"seat": 5_500}},
    )
    assert (tariff.status_code, tariff.json()["code"]) == (409, "lead_time_not_met")
    tariff = await ops.post(
        f"{OPS}/tariff-versions",
        json={"effective_from": "2027-03-01", "prices": {"seat": 5_500}, "note": "改定"},
    )
    assert (tariff.status_code, tariff.json()["prices"]) == (201, {"seat": 5_500})
    kinds = [n["kind"] for n in (await t.admin.get(f"{BASE}/notices")).json()]
    assert kinds.count("tariff_change") == 1 and len(kinds) == 4


async def test_found_by_schemathesis_year_zero_and_a_second_tariff_on_one_day(
    world: World,
) -> None:
    ops = await world.operator()
    for method, url, body in (
        ("get", f"{OPS}/invoices?month=0000-01", None),
        ("get", f"{OPS}/billing/exports/lines?month=0000-01", None),
        ("post", f"{OPS}/billing/runs", {"month": "0000-01"}),
    ):
        response = await getattr(ops, method)(url, **({"json": body} if body else {}))
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), url
    body = {"effective_from": "2027-03-01", "prices": {"seat": 5_500}}
    assert (await ops.post(f"{OPS}/tariff-versions", json=body)).status_code == 201
    again = await ops.post(f"{OPS}/tariff-versions", json=body, headers={"Accept-Language": "en"})
    assert (again.status_code, again.json()["code"]) == (409, "integrity_conflict")
    listed = await ops.get(f"{OPS}/invoices")
    assert listed.status_code == 200
