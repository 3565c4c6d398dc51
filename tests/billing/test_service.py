"""The monthly run, corrections, credits, payments and exports against a real store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from koe.app import Koe
from koe.billing.credits import Cause
from koe.billing.service import StatementRow
from koe.billing.tariff import Item
from koe.core.clock import FrozenClock
from koe.core.domain import AddOn, LicenseKind
from koe.core.errors import Conflict, NotFound
from koe.core.money import Money
from tests.billing.helpers import REGISTRATION, active_tenant, issuer, pdf_fonts, pdf_text

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


async def number(koe: Koe, tenant_id: str, e164: str) -> None:
    await koe.directory.create(tenant_id, "numbers", {"number": e164, "label": "代表"})


def by_item(invoice: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in invoice["lines"]:
        out[line["item"]] = out.get(line["item"], 0) + line["amount_yen"]
    return out


async def test_november_invoice_carries_november_fees_october_calls_and_setup(koe: Koe) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    await koe.tenants.subscribe_addon(t, AddOn.RECORDING_DELIVERY, starts_on=NOV)
    await koe.tenants.subscribe_addon(t, AddOn.TRANSCRIPTION, units=2, starts_on=NOV)
    await koe.billing.add_one_off(t, Item.STANDARD_SETUP, Money(300_000), NOV)
    await number(koe, t, "+81312345678")
    await number(koe, t, "+81312345679")
    await number(koe, t, "+815012344567")
    report = await koe.billing.import_carrier_statement(
        "NTT",
        [
            StatementRow("03-1234-5678", date(2026, 10, 1), Money(335), calls=10),
            StatementRow("03-1234-5679", date(2026, 10, 1), Money(335), calls=11),
            StatementRow("050-1234-5567", date(2026, 10, 1), Money(335), calls=12),
            StatementRow("050-1234-4567", date(2026, 10, 1), Money(335), calls=12),
            StatementRow("03-1234-5678", date(2026, 11, 1), Money(999), calls=3),
        ],
        cdr_counts={"+81312345678|2026-10": 10, "+81312345679|2026-10": 9},
    )
    assert len(report["imported"]) == 3 + 1
    assert [u["number"] for u in report["unknown_numbers"]] == ["+815012345567"]
    # Koe counted 9 calls where the carrier bills 11; none for the others
    assert [(m["number"], m["month"]) for m in report["mismatches"]] == [
        ("+81312345679", "2026-10"),
        ("+815012344567", "2026-10"),
        ("+81312345678", "2026-11"),
    ]

    run = await koe.billing.run_month(NOV)
    assert (run.invoices, run.skipped) == (1, 0)
    (inv,) = await koe.billing.invoices(t, NOV)
    got = by_item(inv)
    # 4 × 5,000 each for lines, seats, admins; recording 10,000 + 4 seats × 2,000;
    # transcription 2 × 1,500; setup 300,000; October calls 3 × 335 = 1,005 (November's wait)
    assert got == {
        "line": 20_000,
        "seat": 20_000,
        "admin": 20_000,
        "recording_base": 10_000,
        "recording_seat": 8_000,
        "transcription_unit": 3_000,
        "standard_setup": 300_000,
        "call_charges": 1_005,
    }
    # 382,005 × 10 % = 38,200.5 → 38,200, once for the whole invoice
    assert (inv["subtotal_yen"], inv["tax_yen"], inv["total_yen"]) == (382_005, 38_200, 420_205)
    assert inv["due_on"] == "2026-11-30"
    assert inv["issuer"]["registration_number"] == REGISTRATION
    assert inv["tax_breakdown"] == [
        {
            "rate": "0.10",
            "taxable_yen": 382_005,
            "returns_yen": 0,
            "net_yen": 382_005,
            "tax_yen": 38_200,
        }
    ]
    assert all(line["tax_rate"] == "0.10" for line in inv["lines"])


async def test_three_call_lines_of_335_carry_100_yen_tax(koe: Koe) -> None:
    # an ended tenant's last invoice holds only its calls: 1,005 × 10 % = 100.5 → 100
    await issuer(koe)
    t = await active_tenant(koe, "calls", end=date(2026, 10, 31))
    for n in ("+81312345678", "+81312345679", "+81312345670"):
        await number(koe, t, n)
    await koe.billing.import_carrier_statement(
        "KDDI",
        [
            StatementRow(n, date(2026, 10, 1), Money(335), calls=1)
            for n in ("0312345678", "0312345679", "0312345670")
        ],
    )
    await koe.billing.run_month(NOV)
    (inv,) = await koe.billing.invoices(t, NOV)
    assert [line["amount_yen"] for line in inv["lines"]] == [335, 335, 335]
    assert (inv["subtotal_yen"], inv["tax_yen"], inv["total_yen"]) == (1_005, 100, 1_105)


async def test_rerun_changes_nothing_and_a_late_addition_goes_on_the_next_invoice(
    koe: Koe, clock: FrozenClock
) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    first = await koe.billing.run_month(NOV)
    again = await koe.billing.run_month(NOV)
    assert (first.invoices, again.invoices, again.skipped) == (1, 0, 1)
    assert len(await koe.billing.invoices(t)) == 1
    # 2 seats added from 25 Nov after November's invoice went out: whole November, on December's
    clock.advance(timedelta(days=1))
    await koe.tenants.add_license(t, LicenseKind.SEAT, 2, date(2026, 11, 25))
    assert (await koe.billing.run_month(NOV)).invoices == 0
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    await koe.billing.run_month(DEC)
    (dec,) = await koe.billing.invoices(t, DEC)
    lines = {(x["item"], x["service_month"]): x["amount_yen"] for x in dec["lines"]}
    # December: 4 lines + 6 seats + 4 admins = 70,000; November addition 2 × 5,000 = 10,000
    assert lines[("seat", "2026-11-01")] == 10_000
    assert lines[("seat", "2026-12-01")] == 30_000
    assert dec["subtotal_yen"] == 80_000 and dec["tax_yen"] == 8_000
    assert (await koe.billing.run_month(DEC)).invoices == 0


async def test_a_tenant_entered_after_its_first_months_run_is_billed_for_it_next(
    koe: Koe, clock: FrozenClock
) -> None:
    await issuer(koe)
    await active_tenant(koe, "early")
    await koe.billing.run_month(NOV)
    late = await active_tenant(koe, "late", start=NOV)  # accepted after November's run
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    await koe.billing.run_month(DEC)
    (dec,) = await koe.billing.invoices(late, DEC)
    months = sorted({x["service_month"] for x in dec["lines"]})
    assert months == ["2026-11-01", "2026-12-01"]
    assert dec["subtotal_yen"] == 120_000  # November and December, 60,000 each


async def test_correction_is_a_credit_note_and_a_new_invoice_never_an_edit(koe: Koe) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    await koe.billing.run_month(NOV)
    (original,) = await koe.billing.invoices(t, NOV)
    await koe.billing.add_quote(t, Item.SEAT, Money(4_000), date(2026, 11, 1), reference="Q-1")
    await koe.billing.record_payment(t, Money(66_000), date(2026, 11, 28))
    result = await koe.billing.correct_invoice(t, original["id"], "個別見積の反映漏れ")
    docs = {d["id"]: d for d in await koe.billing.invoices(t, NOV)}
    old, note, new = (
        docs[original["id"]],
        docs[result["credit_note_id"]],
        docs[result["invoice_id"]],
    )
    assert old["status"] == "credited" and old["total_yen"] == 66_000
    assert [x["amount_yen"] for x in old["lines"]] == [x["amount_yen"] for x in original["lines"]]
    assert (note["kind"], note["total_yen"], note["tax_yen"]) == ("credit_note", -66_000, -6_000)
    # seats at the quoted 4,000: 20,000 + 16,000 + 20,000 = 56,000 + 5,600 tax
    assert (new["subtotal_yen"], new["total_yen"]) == (56_000, 61_600)
    assert new["number"].endswith("-2") and note["number"].startswith("CN-")
    # the 66,000 paid covers the new 61,600; 4,400 stays as a credit balance
    assert await koe.billing.balance(t, date(2026, 12, 31)) == []
    with pytest.raises(Conflict):
        await koe.billing.correct_invoice(t, original["id"], "again")


async def test_outage_waiver_is_returned_on_the_next_invoice(koe: Koe, clock: FrozenClock) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    await koe.billing.run_month(NOV)
    start = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    outage = await koe.billing.record_outage(
        t,
        services=["basic"],
        cause=Cause.OPERATOR_FAULT,
        started_at=start,
        learned_at=start,
        ended_at=start + timedelta(hours=31),
    )
    # 31 h: 1 whole day; 60,000 × 1 / 30 (November) = 2,000; damages capped at 0 paid before
    assert (outage["waiver_yen"], outage["damages_yen"], outage["rule"]) == (2_000, 0, "22-6-1")
    pause = await koe.billing.record_outage(
        t,
        services=["basic"],
        cause=Cause.PLANNED_PAUSE,
        started_at=start,
        learned_at=start,
        ended_at=start + timedelta(hours=48),
    )
    assert pause["waiver_yen"] == 0
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    await koe.billing.run_month(DEC)
    (dec,) = await koe.billing.invoices(t, DEC)
    assert by_item(dec)["outage_waiver"] == -2_000
    # (60,000 − 2,000) × 10 % = 5,800
    assert (dec["subtotal_yen"], dec["tax_yen"], dec["total_yen"]) == (58_000, 5_800, 63_800)
    assert dec["tax_breakdown"][0]["returns_yen"] == -2_000


async def test_waiver_of_an_ended_contract_is_refunded_by_credit_note(
    koe: Koe, clock: FrozenClock
) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "gone", end=date(2026, 11, 30))
    await koe.billing.run_month(NOV)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    await koe.billing.record_outage(
        t,
        services=["basic"],
        cause=Cause.OPERATOR_GROSS,
        started_at=start,
        learned_at=start,
        ended_at=start + timedelta(hours=5, minutes=30),
    )
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    run = await koe.billing.run_month(DEC)
    assert (run.invoices, run.credit_notes) == (0, 1)
    (note,) = await koe.billing.invoices(t, DEC)
    # 60,000 / 720 × 3 = 250 returned; tax −25
    assert (note["kind"], note["subtotal_yen"], note["tax_yen"]) == ("credit_note", -250, -25)
    assert (await koe.billing.run_month(DEC)).credit_notes == 0


async def test_late_payment_pays_interest_first_and_bank_csv_matches_kana(koe: Koe) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    other = await active_tenant(koe, "other", kana="ヤマダショウテン", name="山田商店")
    await koe.billing.run_month(NOV)
    csv_text = (
        "取引日,入金額,振込依頼人名,摘要\n"
        '2026/12/10,"66,000",ｶ)ｺｴｼﾖｳｼﾞ,\n'
        "2026/11/30,65560,ﾔﾏﾀﾞｼﾖｳﾃﾝ,\n"
        "2026/11/30,1000,ﾀﾅｶ ｲﾁﾛｳ,\n"
    )
    report = await koe.billing.import_transfers(csv_text.encode("cp932"))
    assert [m["tenant_id"] for m in report.matched] == [t, other]
    assert report.unmatched == [{"line": 4, "payer": "ﾀﾅｶ ｲﾁﾛｳ", "reason": "no_match"}]
    late, short = report.matched
    # due 30 Nov, paid 10 Dec: 66,000 × 14.5 % × 10 / 365 = 262.19 → 262 to interest first
    assert late["allocations"][0]["to_interest_yen"] == 262
    assert late["allocations"][0]["to_principal_yen"] == 65_738
    assert short["flags"] == ["short_by_bank_fee"]  # 66,000 − 65,560 = 440
    balance = await koe.billing.balance(t, date(2026, 12, 10))
    assert balance[0]["principal_outstanding_yen"] == 262
    again = await koe.billing.import_transfers(csv_text.encode("cp932"))
    assert again.duplicates == 2
    aging = {row["code"]: row for row in await koe.billing.aging(date(2027, 1, 15))}
    assert aging["acme"]["31_60_yen"] == 262
    assert aging["other"]["31_60_yen"] == 440


async def test_offset_with_statement_art27(koe: Koe) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    await koe.billing.run_month(NOV)
    view = await koe.billing.record_offset(
        t, Money(6_000), date(2026, 11, 20), operator_debt="機器買取代金 6,000円"
    )
    assert view["method"] == "offset"
    assert view["statement"]["title_ja"] == "相殺明細書"
    assert (await koe.billing.balance(t))[0]["principal_outstanding_yen"] == 60_000


async def test_another_tenants_invoice_is_not_found(koe: Koe) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    u = await active_tenant(koe, "beta")
    await koe.billing.run_month(NOV)
    (inv,) = await koe.billing.invoices(t, NOV)
    with pytest.raises(NotFound):
        await koe.billing.invoice(u, inv["id"])


async def test_pdf_in_japanese_and_english_and_csv(koe: Koe) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    await koe.billing.run_month(NOV)
    (inv,) = await koe.billing.invoices(t, NOV)
    pdf = await koe.billing.invoice_pdf(t, inv["id"])
    text = pdf_text(pdf, "-layout")
    for expected in (
        "請求書(適格請求書)",
        "株式会社コエ商事 御中",
        "株式会社コエ運営",
        f"登録番号: {REGISTRATION}",
        "2026年11月分",
        "お支払期限: 2026年11月30日",
        "外線ライセンス (2026年11月分)",
        "10%対象 60,000円",
        "消費税 6,000円",
        "66,000円",
    ):
        assert expected in text, expected
    fonts = pdf_fonts(pdf).splitlines()[2:]
    assert fonts and all(" yes " in f for f in fonts)  # every font embedded
    english = pdf_text(await koe.billing.invoice_pdf(t, inv["id"], "en"))
    assert "Total due (incl. tax)" in english and "JPY 66,000" in english
    invoices_csv = (await koe.billing.export_invoices_csv(NOV)).decode("utf-8-sig")
    assert invoices_csv.splitlines()[1].startswith(f"{inv['number']},invoice,issued,acme,")
    assert invoices_csv.splitlines()[1].endswith("60000,6000,66000,")
    lines_csv = (await koe.billing.export_lines_csv(NOV)).decode("utf-8-sig")
    assert len(lines_csv.splitlines()) == 1 + 3


async def test_issuer_is_required_and_registration_number_checked(koe: Koe) -> None:
    await active_tenant(koe, "acme")
    with pytest.raises(Conflict, match="issuer"):
        await koe.billing.run_month(NOV)
    with pytest.raises(Exception, match="registration"):
        await koe.billing.set_issuer("x", "T4010001234568", effective_from=NOV)


async def test_tax_rate_change_applies_by_service_month(koe: Koe, clock: FrozenClock) -> None:
    await issuer(koe)
    t = await active_tenant(koe, "acme")
    await koe.billing.set_tax_rate(date(2026, 12, 1), Decimal("0.12"))
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    await koe.billing.run_month(DEC)
    (dec,) = await koe.billing.invoices(t, DEC)
    assert dec["tax_yen"] == 7_200  # 60,000 × 12 %
