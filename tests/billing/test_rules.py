"""Rating rules (R4.1, R4.3, Art. 21, 24, 25; Tariff 1, 2, 4) with hand-computed examples."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from koe.billing.rules import (
    OverPlan,
    call_charges_due_on,
    invoice_due_on,
    monthly_due_on,
    monthly_fees_by_group,
    monthly_lines,
    monthly_use,
    setup_due_on,
    standard_setup_applies,
    surcharge,
    transcription_quota,
)
from koe.billing.tariff import (
    TARIFF_V3_1,
    Item,
    PriceBook,
    Tariff,
    TaxRate,
    price_book,
    tariff_on,
    tax_rate_on,
)
from koe.billing.tax import totals
from koe.core.domain import AddOn, LicenseKind
from koe.core.money import Money
from koe.core.months import add_months, months_before, parse_month

TEN = Decimal("0.10")
NOV = date(2026, 11, 1)


@dataclass
class H:
    kind: LicenseKind
    quantity: int
    effective_from: date
    effective_to: date | None = None


@dataclass
class S:
    addon: AddOn
    starts_on: date
    ends_on: date | None = None
    units: int = 1


@dataclass
class Q:
    item: str
    unit_price_yen: int
    effective_from: date
    effective_to: date | None = None


BASIC = [
    H(LicenseKind.LINE, 4, date(2026, 4, 1)),
    H(LicenseKind.SEAT, 4, date(2026, 4, 1)),
    H(LicenseKind.ADMIN, 4, date(2026, 4, 1)),
]


def lines_for(holdings: list[H], subs: list[S], start: date = date(2026, 4, 1)) -> dict[Item, int]:
    use = monthly_use(NOV, holdings, subs, start, None)
    assert use is not None
    lines = monthly_lines(use, PriceBook(TARIFF_V3_1), TEN, monthly_due_on(NOV))
    return {line.item: line.amount.yen for line in lines}


def test_60000_a_month_is_4_lines_4_seats_4_admins() -> None:
    # 12 licenses × 5,000 = 60,000
    assert sum(lines_for(BASIC, []).values()) == 60_000


def test_mid_month_start_is_charged_in_full() -> None:
    # go-live 20 Nov, service start 1 Nov: whole November (Art. 21-4)
    late = [H(k.kind, k.quantity, date(2026, 11, 20)) for k in BASIC]
    assert sum(lines_for(late, [], start=date(2026, 11, 1)).values()) == 60_000


def test_mid_month_addition_charged_for_the_whole_month_and_removal_after_month_end() -> None:
    # 2 more seats from 15 Nov → 6 seats all November: 30,000; a seat row ending 10 Nov still counts
    holdings = [*BASIC, H(LicenseKind.SEAT, 2, date(2026, 11, 15))]
    assert lines_for(holdings, [])[Item.SEAT] == 30_000
    holdings = [
        H(LicenseKind.SEAT, 4, date(2026, 4, 1), date(2026, 11, 10)),
        H(LicenseKind.SEAT, 2, date(2026, 11, 11)),
    ]
    assert lines_for(holdings, [])[Item.SEAT] == 20_000  # peak 4 seats


def test_recording_seat_fee_per_seat_license_and_transcription_units() -> None:
    # recording: 10,000 base + 4 seats × 2,000 = 18,000; transcription 3 units × 1,500 = 4,500
    subs = [S(AddOn.RECORDING_DELIVERY, date(2026, 11, 1)), S(AddOn.TRANSCRIPTION, NOV, units=3)]
    got = lines_for(BASIC, subs)
    assert got[Item.RECORDING_BASE] == 10_000
    assert got[Item.RECORDING_SEAT] == 8_000
    assert got[Item.TRANSCRIPTION_UNIT] == 4_500


def test_contract_not_running_in_the_month_has_no_use() -> None:
    assert monthly_use(NOV, BASIC, [], date(2026, 12, 1), None) is None
    assert monthly_use(NOV, BASIC, [], date(2026, 4, 1), date(2026, 10, 31)) is None
    # ends on 3 Nov (Art. 20 termination): November in full (Art. 24)
    use = monthly_use(NOV, BASIC, [], date(2026, 4, 1), date(2026, 11, 3))
    assert use is not None and use.holdings.seat == 4


def test_already_billed_quantity_is_not_billed_again_only_the_addition() -> None:
    holdings = [*BASIC, H(LicenseKind.SEAT, 2, date(2026, 11, 15))]
    use = monthly_use(NOV, holdings, [], date(2026, 4, 1), None)
    assert use is not None
    lines = monthly_lines(
        use,
        PriceBook(TARIFF_V3_1),
        TEN,
        date(2026, 12, 31),
        {Item.SEAT: 4, Item.LINE: 4, Item.ADMIN: 4},
    )
    assert [(x.item, x.quantity, x.amount.yen) for x in lines] == [(Item.SEAT, 2, 10_000)]
    assert "追加分" in lines[0].description_ja


def test_individual_quote_overrides_the_tariff() -> None:
    # seats quoted at 4,000 from 1 Oct: 4 × 4,000 = 16,000; lines at list 20,000
    book = price_book([], [Q("seat", 4_000, date(2026, 10, 1))], NOV, date(2026, 11, 30))
    use = monthly_use(NOV, BASIC, [], date(2026, 4, 1), None)
    assert use is not None
    got = {x.item: x.amount.yen for x in monthly_lines(use, book, TEN, NOV)}
    assert got[Item.SEAT] == 16_000 and got[Item.LINE] == 20_000
    assert monthly_fees_by_group(use, book)["basic"] == Money(56_000)
    # a quote that ended before the month does not apply
    expired = price_book(
        [], [Q("seat", 4_000, date(2026, 1, 1), date(2026, 10, 31))], NOV, date(2026, 11, 30)
    )
    assert expired.price(Item.SEAT) == Money(5_000)


def test_tariff_version_applies_from_its_first_month() -> None:
    raised = Tariff(date(2027, 4, 1), {**TARIFF_V3_1.prices, Item.SEAT: Money(5_500)})
    assert tariff_on([raised], date(2027, 3, 31)).price(Item.SEAT) == Money(5_000)
    assert tariff_on([raised], date(2027, 4, 1)).price(Item.SEAT) == Money(5_500)


def test_tax_rate_by_effective_date() -> None:
    assert tax_rate_on([], date(2026, 11, 1)) == Decimal("0.10")
    rates = [TaxRate(date(2028, 4, 1), Decimal("0.12"))]
    assert tax_rate_on(rates, date(2028, 3, 31)) == Decimal("0.10")
    assert tax_rate_on(rates, date(2028, 4, 1)) == Decimal("0.12")
    with pytest.raises(ValueError, match="no consumption tax"):
        tax_rate_on([], date(2019, 1, 1))


def test_due_dates_fee_rule_4() -> None:
    # November licenses by 30 Nov; October calls by 30 Nov; a setup starting in Nov by 30 Nov
    assert monthly_due_on(NOV) == date(2026, 11, 30)
    assert call_charges_due_on(date(2026, 10, 1)) == date(2026, 11, 30)
    assert call_charges_due_on(date(2027, 1, 1)) == date(2027, 2, 28)
    assert setup_due_on(NOV) == date(2026, 11, 30)
    # an invoice issued after its month is due at the end of the month of issue
    assert invoice_due_on(NOV, date(2026, 11, 2)) == date(2026, 11, 30)
    assert invoice_due_on(NOV, date(2026, 12, 3)) == date(2026, 12, 31)


def test_standard_setup_covers_5_lines_6_seats_1_admin() -> None:
    assert standard_setup_applies(5, 6, 1)
    assert not standard_setup_applies(6, 6, 1)
    assert not standard_setup_applies(5, 6, 2)


def test_surcharge_art25_evaded_plus_twice_plus_tax() -> None:
    # evaded 10,000: lines 10,000 and 20,000, both at 10 % → 30,000 + 3,000 tax = 33,000
    evaded, extra = surcharge(Money(10_000))

    @dataclass
    class L:
        amount: Money
        tax_rate: Decimal | None

    result = totals([L(evaded, TEN), L(extra, TEN)])
    assert (evaded, extra, result.total) == (Money(10_000), Money(20_000), Money(33_000))
    with pytest.raises(ValueError, match="positive"):
        surcharge(Money(0))


def test_transcription_quota_alerts_and_over_plan_choice() -> None:
    # 2 units = 2,000 min; 1,600 used = 80 % → first alert
    assert transcription_quota(2, 1_600, OverPlan.HOLD).alerts == (80,)
    held = transcription_quota(2, 2_000, OverPlan.HOLD)
    assert held.alerts == (80, 100) and held.hold_jobs and held.buy_units == 0
    # 2,350 used with buy: 350 over → 1 more unit
    bought = transcription_quota(2, 2_350, OverPlan.BUY_UNIT)
    assert bought.buy_units == 1 and not bought.hold_jobs


def test_month_arithmetic_art19_examples() -> None:
    # to leave on 30 Nov file by 30 Oct; to leave on 31 Mar file by the end of February
    assert months_before(date(2026, 11, 30), 1) == date(2026, 10, 30)
    assert months_before(date(2027, 3, 31), 1) == date(2027, 2, 28)
    assert months_before(date(2028, 3, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 31), 2) == date(2027, 2, 28)
    assert parse_month("2026-11") == parse_month("202611") == NOV
    assert parse_month("２０２６-１１") == NOV  # full-width digits from Japanese keyboards
    for bad in ("2026-13", "0000-01", "2026-00", "26-11"):
        with pytest.raises(ValueError, match="not a month"):
            parse_month(bad)


def test_a_tariff_change_lists_only_what_changes() -> None:
    # Art. 21-3: the 2027-04 change raises seats only; the 2028-04 change lowers lines only.
    seats = Tariff(date(2027, 4, 1), {Item.SEAT: Money(5_500)})
    lines = Tariff(date(2028, 4, 1), {Item.LINE: Money(4_800)})
    in_2028 = tariff_on([lines, seats], date(2028, 5, 1))
    assert in_2028.price(Item.SEAT) == Money(5_500)
    assert in_2028.price(Item.LINE) == Money(4_800)
    assert in_2028.price(Item.ADMIN) == Money(5_000)  # unchanged since v3.1
    assert in_2028.effective_from == date(2028, 4, 1)
    assert tariff_on([lines, seats], date(2027, 12, 1)).price(Item.LINE) == Money(5_000)
