"""A tenant's year: application, changes, an add-on, an outage, a late payment, a cancellation.

Every invoice is checked against amounts worked out by hand from the terms:
licenses 4 lines + 4 seats + 1 admin = 45,000; +2 seats from Feb = 55,000; recording delivery
from Mar = 10,000 + 6 seats × 2,000 = 22,000; −2 seats after June; calls each month
3 × 335 = 1,005 (previous month's); tax once per invoice at 10 %, cut.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from koe.app import Koe
from koe.billing.credits import Cause
from koe.billing.service import StatementRow
from koe.contracts.rules import DocumentIn, DocumentKind
from koe.core.clock import FrozenClock
from koe.core.domain import AddOn
from koe.core.money import Money
from koe.core.months import add_months
from tests.billing.helpers import issuer

NUMBERS = ("+81312340001", "+81312340002", "+81312340003")

# month → (subtotal, tax, total) worked by hand
EXPECTED = {
    date(2026, 12, 1): (345_000, 34_500, 379_500),  # 45,000 + standard setup 300,000
    date(2027, 1, 1): (46_005, 4_600, 50_605),  # 45,000 + Dec calls 1,005; 4,600.5 → 4,600
    date(2027, 2, 1): (56_005, 5_600, 61_605),  # 6 seats: 55,000 + 1,005
    date(2027, 3, 1): (78_005, 7_800, 85_805),  # + recording 22,000
    date(2027, 4, 1): (78_005, 7_800, 85_805),
    # April outage, 31 h, basic down: 55,000 × 1 day / 30 days = 1,833.3 → 1,833 returned
    # 78,005 − 1,833 = 76,172; × 10 % = 7,617.2 → 7,617
    date(2027, 5, 1): (76_172, 7_617, 83_789),
    date(2027, 6, 1): (78_005, 7_800, 85_805),
    # 2 seats removed after 30 June: 45,000 + 10,000 + 4 × 2,000 + 1,005 = 64,005
    date(2027, 7, 1): (64_005, 6_400, 70_405),
    date(2027, 8, 1): (64_005, 6_400, 70_405),
    date(2027, 9, 1): (64_005, 6_400, 70_405),
    date(2027, 10, 1): (64_005, 6_400, 70_405),  # last month, charged in full
    date(2027, 11, 1): (1_005, 100, 1_105),  # October's calls only: 100.5 → 100
}


def at(day: date, hour: int = 1) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


async def test_a_year_from_application_to_cancellation(koe: Koe, clock: FrozenClock) -> None:
    await issuer(koe)
    app = await koe.contracts.submit_application(
        {
            "code": "year",
            "company_name": "株式会社イヤー",
            "company_name_kana": "カブシキガイシャイヤー",
            "representative_name": "年 太郎",
            "address": "大阪府大阪市1-1",
            "phone": "06-1234-5678",
        },
        [
            {"kind": "contract", "name": "契約", "email": "c@year.example"},
            {"kind": "technical", "name": "技術", "email": "t@year.example"},
            {"kind": "emergency", "name": "緊急", "phone": "090-1111-2222"},
        ],
        {"lines": 4, "seats": 4, "admins": 1},
        submitted_by="staff:sato",
        go_live_date=date(2026, 12, 15),
        uses_operator_numbers=True,
        anti_social_attested=True,
        documents=[
            DocumentIn(DocumentKind.CORPORATE_REGISTRY, date(2026, 11, 1), "r.pdf", b"r"),
            DocumentIn(DocumentKind.SEAL_CERTIFICATE, date(2026, 11, 1), "s.pdf", b"s"),
        ],
    )
    t = app["tenant_id"]
    await koe.contracts.accept(t, app["id"], reviewed_by="ops")
    for n in NUMBERS:
        await koe.directory.create(t, "numbers", {"number": n})

    month = date(2026, 12, 1)
    while month <= date(2027, 12, 1):
        clock.set(at(month))
        previous = add_months(month, -1)
        if date(2026, 12, 1) <= previous <= date(2027, 10, 1):
            await koe.billing.import_carrier_statement(
                "NTT", [StatementRow(n, previous, Money(335), calls=5) for n in NUMBERS]
            )
        report = await koe.billing.run_month(month)
        invoices = await koe.billing.invoices(t, month)
        if month not in EXPECTED:
            assert report.invoices == 0 and invoices == []
            break
        (inv,) = invoices
        assert (inv["subtotal_yen"], inv["tax_yen"], inv["total_yen"]) == EXPECTED[month], month
        assert inv["total_yen"] == inv["subtotal_yen"] + inv["tax_yen"]
        assert inv["subtotal_yen"] == sum(x["amount_yen"] for x in inv["lines"])
        assert inv["due_on"] == (add_months(month, 1) - timedelta(days=1)).isoformat()
        assert (await koe.billing.run_month(month)).invoices == 0  # idempotent

        # events of the month
        if month == date(2026, 12, 1):
            clock.set(at(date(2026, 12, 20)))
            change = await koe.contracts.request_change(
                t, "add_licenses", date(2027, 2, 1), {"kind": "seat", "quantity": 2}
            )
            await koe.contracts.accept_change(t, change["id"])
        if month == date(2027, 1, 1):
            clock.set(at(date(2027, 1, 15)))
            await koe.contracts.subscribe_addon(t, AddOn.RECORDING_DELIVERY, date(2027, 3, 1))
        if month == date(2027, 4, 1):
            start = at(date(2027, 4, 10))
            clock.set(at(date(2027, 4, 12)))
            outage = await koe.billing.record_outage(
                t,
                services=["basic"],
                cause=Cause.OPERATOR_FAULT,
                started_at=start,
                learned_at=start,
                ended_at=start + timedelta(hours=31),
            )
            assert (outage["monthly_fee_yen"], outage["waiver_yen"]) == (55_000, 1_833)
        if month == date(2027, 5, 1):
            clock.set(at(date(2027, 5, 20)))
            change = await koe.contracts.request_change(
                t, "remove_licenses", date(2027, 6, 30), {"kind": "seat", "quantity": 2}
            )
            await koe.contracts.accept_change(t, change["id"])
        if month == date(2027, 9, 1):
            clock.set(at(date(2027, 9, 15)))
            await koe.contracts.cancel(t, date(2027, 10, 31))

        # payment: on the 20th, except March's, paid on 10 April with its interest
        if month == date(2027, 3, 1):
            clock.set(at(date(2027, 4, 10)))
            # 85,805 × 14.5 % × 10 days (1–10 Apr) / 365 = 340.87 → 340
            paid = await koe.billing.record_payment(t, Money(85_805 + 340), date(2027, 4, 10))
            assert paid["allocations"][0]["to_interest_yen"] == 340
            assert paid["allocations"][0]["to_principal_yen"] == 85_805
        else:
            day = date(month.year, month.month, 20)
            clock.set(at(day))
            await koe.billing.record_payment(t, Money(inv["total_yen"]), day)
        month = add_months(month, 1)

    assert month == date(2027, 12, 1)
    assert await koe.billing.balance(t, date(2027, 12, 31)) == []
    assert await koe.billing.aging(date(2027, 12, 31)) == []
    may = (await koe.billing.invoices(t, date(2027, 5, 1)))[0]
    assert [x["amount_yen"] for x in may["lines"] if x["item"] == "outage_waiver"] == [-1_833]
    kinds = sorted({n["kind"] for n in await koe.contracts.notices(t)})
    assert kinds == ["application_accepted", "cancellation_accepted"]
    await koe.contracts.apply_due_changes()
    assert (await koe.tenants.get(t))["status"] == "ended"
