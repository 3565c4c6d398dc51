"""Contract lifecycle against a real store: application to cancellation (R3.*)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from koe.app import Koe
from koe.contracts.rules import (
    DocumentIn,
    DocumentKind,
    PauseReason,
    RejectReason,
    SuspensionReason,
    TerminationGround,
)
from koe.core.clock import FrozenClock
from koe.core.domain import AddOn, ContractStatus, LicenseKind
from koe.core.errors import Conflict, ValidationFailed
from koe.core.money import Money
from tests.billing.helpers import active_tenant, issuer

COMPANY = {
    "code": "acme",
    "company_name": "株式会社アクメ",
    "company_name_kana": "カブシキガイシャアクメ",
    "representative_name": "山田 太郎",
    "address": "東京都渋谷区1-1",
    "phone": "03-1111-2222",
    "fax": "03-1111-2223",
    "billing_address": "東京都渋谷区1-1 経理部",
}
CONTACTS = [
    {"kind": "contract", "name": "契約 一郎", "email": "contract@acme.example"},
    {"kind": "technical", "name": "技術 二郎", "email": "tech@acme.example"},
    {"kind": "emergency", "name": "緊急 三郎", "phone": "090-0000-0000"},
]
DOCS = [
    DocumentIn(DocumentKind.CORPORATE_REGISTRY, date(2026, 10, 1), "touki.pdf", b"%PDF registry"),
    DocumentIn(DocumentKind.SEAL_CERTIFICATE, date(2026, 10, 2), "inkan.pdf", b"%PDF seal"),
]


async def apply(koe: Koe, **extra: object) -> dict:
    args: dict = {
        "submitted_by": "sales-agent:tokyo",
        "go_live_date": date(2026, 12, 15),
        "usage_breakdown": "受付 4席",
        "sales_agent": "東京販売",
        "uses_operator_numbers": True,
        "anti_social_attested": True,
        "documents": DOCS,
    }
    args.update(extra)
    return await koe.contracts.submit_application(
        COMPANY, CONTACTS, {"lines": 4, "seats": 4, "admins": 1, "recording_delivery": True}, **args
    )


async def test_application_accepted_starts_on_the_first_and_bills_setup(koe: Koe) -> None:
    app = await apply(koe)
    t = app["tenant_id"]
    assert app["status"] == "submitted" and app["requested"]["seats"] == 4
    accepted = await koe.contracts.accept(t, app["id"], reviewed_by="ops")
    # go-live 15 Dec → service start 1 Dec (Art. 11-2)
    assert accepted["service_start_date"] == "2026-12-01"
    tenant = await koe.tenants.get(t)
    assert tenant["status"] == "active"
    holdings = await koe.tenants.holdings(t, date(2026, 12, 1))
    assert (holdings.line, holdings.seat, holdings.admin) == (4, 4, 1)
    notices = await koe.contracts.notices(t)
    assert [n["kind"] for n in notices] == ["application_accepted"]
    assert {r["email"] for r in notices[0]["recipients"]} >= {"contract@acme.example"}
    assert notices[0]["channels"] == ["email", "suite"]
    # the December invoice: 9 licenses × 5,000 + recording 10,000 + 4 × 2,000 + setup 300,000
    await issuer(koe)
    await koe.billing.run_month(date(2026, 12, 1))
    (inv,) = await koe.billing.invoices(t)
    assert inv["subtotal_yen"] == 45_000 + 18_000 + 300_000


async def test_application_refusals(koe: Koe) -> None:
    with pytest.raises(ValidationFailed) as err:
        await apply(koe, anti_social_attested=False)
    assert err.value.code == "attestation_required"
    with pytest.raises(ValidationFailed) as err:
        await apply(koe, documents=DOCS[:1])
    assert err.value.code == "identity_documents_required"
    old = [DOCS[0], DocumentIn(DocumentKind.SEAL_CERTIFICATE, date(2026, 4, 1), "old.pdf", b"x")]
    with pytest.raises(ValidationFailed) as err:
        await apply(koe, documents=old)
    assert err.value.code == "document_too_old"
    app = await apply(koe)
    rejected = await koe.contracts.reject(
        app["tenant_id"], app["id"], RejectReason.PAYMENT_RISK, reviewed_by="ops"
    )
    assert rejected["reject_reason"] == "payment_risk"
    (notice,) = await koe.contracts.notices(app["tenant_id"])
    assert notice["kind"] == "application_rejected" and "第10条第1項第1号" not in notice["body_ja"]
    assert "同第2号" in notice["body_ja"]
    with pytest.raises(Conflict):
        await koe.contracts.accept(app["tenant_id"], app["id"], reviewed_by="ops")


async def test_changes_respect_art12_lead_times(koe: Koe, clock: FrozenClock) -> None:
    t = await active_tenant(koe, "acme")  # today 24 Nov 2026
    with pytest.raises(Conflict) as err:
        await koe.contracts.request_change(
            t, "add_licenses", date(2026, 12, 15), {"kind": "seat", "quantity": 2}
        )
    assert err.value.code == "lead_time_not_met"  # needed filing by 15 Nov
    add = await koe.contracts.request_change(
        t, "add_licenses", date(2027, 1, 20), {"kind": "seat", "quantity": 2}
    )
    await koe.contracts.accept_change(t, add["id"])
    # added from 1 Jan (the month the date falls in)
    assert (await koe.tenants.holdings(t, date(2027, 1, 1))).seat == 6
    with pytest.raises(ValidationFailed):
        await koe.contracts.request_change(
            t, "remove_licenses", date(2027, 1, 30), {"kind": "seat", "quantity": 1}
        )
    with pytest.raises(Conflict):  # 31 Dec needs filing by 30 Nov; 1 Dec is too late
        await koe.contracts.request_change(
            t,
            "remove_licenses",
            date(2026, 12, 31),
            {"kind": "seat", "quantity": 1},
            filed_on=date(2026, 12, 1),
        )
    remove = await koe.contracts.request_change(
        t, "remove_licenses", date(2026, 12, 31), {"kind": "seat", "quantity": 1}
    )
    await koe.contracts.accept_change(t, remove["id"])
    assert (await koe.tenants.holdings(t, date(2026, 12, 31))).seat == 4
    assert (await koe.tenants.holdings(t, date(2027, 1, 1))).seat == 5


async def test_single_item_tenant_must_cancel_instead(koe: Koe) -> None:
    t = await active_tenant(koe, "solo", lines=0, seats=3, admins=0)
    with pytest.raises(Conflict) as err:
        await koe.contracts.request_change(
            t, "remove_licenses", date(2026, 12, 31), {"kind": "seat", "quantity": 3}
        )
    assert err.value.code == "single_item_must_cancel"


async def test_address_and_name_changes_apply_on_their_date(koe: Koe, clock: FrozenClock) -> None:
    t = await active_tenant(koe, "acme")
    change = await koe.contracts.request_change(
        t, "name", date(2026, 12, 1), {"company_name": "株式会社コエ新商事", "proof": "touki.pdf"}
    )
    await koe.contracts.accept_change(t, change["id"])
    assert (await koe.tenants.get(t))["company_name"] == "株式会社コエ商事"
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    assert await koe.contracts.apply_due_changes() == 1
    assert (await koe.tenants.get(t))["company_name"] == "株式会社コエ新商事"
    with pytest.raises(Conflict):
        await koe.contracts.request_change(t, "address", date(2026, 11, 30), {"address": "x"})


async def test_suspension_pause_interruption_are_dated_records_that_stop_calls(
    koe: Koe, clock: FrozenClock
) -> None:
    t = await active_tenant(koe, "acme")
    now = clock.now()
    await koe.contracts.pause(
        t, PauseReason.MAINTENANCE, now + timedelta(days=1), now + timedelta(days=1, hours=2)
    )
    await koe.contracts.suspend(t, SuspensionReason.UNPAID, now, until_paid=True)
    with pytest.raises(ValidationFailed):
        await koe.contracts.suspend(t, SuspensionReason.BREACH, now, now + timedelta(days=200))
    await koe.contracts.interrupt(t, now + timedelta(days=10), now + timedelta(days=11))
    allowed = await koe.tenants.allowance(t, now + timedelta(days=1, hours=1))
    assert not allowed.inbound_calls and not allowed.agent_login and allowed.admin_login
    assert {r.kind.value for r in allowed.active} == {"suspension", "pause"}
    kinds = [n["kind"] for n in await koe.contracts.notices(t)]
    assert sorted(kinds) == ["interruption", "pause", "suspension"]
    # paying everything lifts the "until paid" suspension (Art. 16-2)
    await issuer(koe)
    await koe.billing.run_month(date(2026, 11, 1))
    await koe.billing.record_payment(t, Money(66_000), date(2026, 11, 25))
    assert (await koe.tenants.allowance(t, now + timedelta(days=2))).inbound_calls


async def test_cancellation_art19_and_addons_end_with_it(koe: Koe) -> None:
    t = await active_tenant(koe, "acme")
    await koe.contracts.subscribe_addon(t, AddOn.RECORDING_DELIVERY, date(2026, 12, 24))
    with pytest.raises(Conflict):  # to leave 30 Nov, file by 30 Oct
        await koe.contracts.cancel(t, date(2026, 11, 30))
    with pytest.raises(ValidationFailed):
        await koe.contracts.cancel(t, date(2026, 12, 30))
    await koe.contracts.cancel(t, date(2026, 12, 31))
    tenant = await koe.tenants.get(t)
    assert tenant["service_end_date"] == "2026-12-31"
    assert not (
        await koe.tenants.allowance(t, datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    ).inbound_calls
    assert (await koe.tenants.allowance(t, datetime(2026, 12, 31, 14, 0, tzinfo=UTC))).inbound_calls
    assert (await koe.tenants.holdings(t, date(2027, 1, 1))).seat == 0


async def test_addon_rules_art33_to_38(koe: Koe) -> None:
    t = await active_tenant(koe, "acme")
    with pytest.raises(Conflict) as err:  # 1 Dec needs filing by 1 Nov
        await koe.contracts.subscribe_addon(t, AddOn.TRANSCRIPTION, date(2026, 12, 1))
    assert err.value.code == "lead_time_not_met"
    sub = await koe.contracts.subscribe_addon(t, AddOn.TRANSCRIPTION, date(2027, 1, 10), units=2)
    assert sub["starts_on"] == "2027-01-01"
    await koe.contracts.cancel_addon(t, AddOn.TRANSCRIPTION, date(2027, 1, 31))
    with pytest.raises(Conflict) as err:
        await koe.contracts.subscribe_addon(t, AddOn.TRANSCRIPTION, date(2027, 6, 1))
    assert err.value.code == "addon_resubscribe_forbidden"
    bare = await active_tenant(koe, "bare", lines=0, seats=0, admins=0)
    with pytest.raises(Conflict) as err:
        await koe.contracts.subscribe_addon(bare, AddOn.RECORDING_DELIVERY, date(2027, 1, 1))
    assert err.value.code == "addon_requires_basic"
    await koe.contracts.subscribe_addon(t, AddOn.RECORDING_DELIVERY, date(2027, 1, 1))
    with pytest.raises(Conflict):  # 3 months' written notice: 31 Jan needs notice by 31 Oct
        await koe.contracts.abolish_addon(AddOn.RECORDING_DELIVERY, date(2027, 1, 31))
    result = await koe.contracts.abolish_addon(AddOn.RECORDING_DELIVERY, date(2027, 2, 28))
    assert result["tenants"] == [t]
    (notice,) = [n for n in await koe.contracts.notices(t) if n["kind"] == "addon_abolition"]
    assert notice["written"] and "written" in notice["channels"]


async def test_termination_service_abolition_and_tariff_notice(koe: Koe) -> None:
    t = await active_tenant(koe, "acme")
    u = await active_tenant(koe, "beta")
    with pytest.raises(Conflict):
        await koe.contracts.terminate(t, TerminationGround.INSOLVENCY, date(2026, 11, 24))
    await koe.contracts.terminate(
        t, TerminationGround.INSOLVENCY, date(2026, 12, 10), setup_cost_yen=120_000
    )
    assert (await koe.tenants.get(t))["service_end_date"] == "2026-12-10"
    with pytest.raises(Conflict):
        await koe.contracts.announce_tariff(date(2027, 2, 1), {"seat": 5_500})
    await koe.contracts.announce_tariff(date(2027, 3, 1), {"seat": 5_500, "line": 5_000})
    with pytest.raises(Conflict):
        await koe.contracts.abolish_service(date(2027, 5, 23))
    result = await koe.contracts.abolish_service(date(2027, 5, 24))
    assert result["tenants"] == [u]
    kinds = [n["kind"] for n in await koe.contracts.notices(u)]
    assert sorted(kinds) == ["service_abolition", "tariff_change"]
    # terminated on 10 Dec: December charged in full (Art. 24) plus the setup cost
    await issuer(koe)
    await koe.billing.run_month(date(2026, 12, 1))
    (inv,) = [i for i in await koe.billing.invoices(t) if i["month"] == "2026-12-01"]
    assert inv["subtotal_yen"] == 60_000 + 120_000
    await koe.contracts.apply_due_changes()
    assert (await koe.tenants.get(t))["status"] == ContractStatus.ACTIVE.value
    assert (await koe.tenants.holdings(t, date(2026, 12, 11))).of(LicenseKind.SEAT) == 0
