"""Late interest (Art. 26, R4.4): 14.5 %/365 days, from the day after the due date, cut."""

from __future__ import annotations

from datetime import date

from koe.billing.interest import Settlement, interest_for, settle
from koe.core.money import Money

DUE = date(2026, 11, 30)


def test_ten_days_late_on_66000_is_262() -> None:
    # 1–10 Dec = 10 days; 66,000 × 0.145 × 10 / 365 = 262.19 → 262
    assert interest_for(Money(66_000), 10) == Money(262)


def test_leap_year_still_divides_by_365() -> None:
    # 29 Feb 2028 counted: 1 Feb–1 Mar 2028 = 30 days; 365,000 × 0.145 × 30 / 365 = 4,350 exactly
    state = settle(
        Money(365_000),
        date(2028, 1, 31),
        [Settlement(date(2028, 3, 1), Money(369_350))],
        date(2028, 3, 1),
    )
    assert state.interest_accrued == Money(4_350)
    assert state.outstanding == Money(0)


def test_paid_on_the_due_date_no_interest() -> None:
    state = settle(Money(66_000), DUE, [Settlement(DUE, Money(66_000))], date(2027, 1, 31))
    assert state.interest_accrued == Money(0)
    assert state.outstanding == Money(0)


def test_payment_the_day_after_counts_one_day() -> None:
    # 1 Dec only: 1,000,000 × 0.145 / 365 = 397.26 → 397
    state = settle(
        Money(1_000_000), DUE, [Settlement(date(2026, 12, 1), Money(1_000_397))], date(2026, 12, 1)
    )
    assert state.periods[0].days == 1
    assert state.interest_accrued == Money(397)
    assert state.outstanding == Money(0)


def test_late_full_principal_payment_goes_to_interest_first() -> None:
    # 66,000 paid on 10 Dec: 262 interest first, 65,738 principal → 262 principal left
    state = settle(
        Money(66_000), DUE, [Settlement(date(2026, 12, 10), Money(66_000))], date(2026, 12, 10)
    )
    (applied,) = state.applied
    assert (applied.to_interest, applied.to_principal) == (Money(262), Money(65_738))
    assert state.principal_outstanding == Money(262)
    assert state.interest_outstanding == Money(0)


def test_part_payments_interest_first_then_principal_periods_cut_each() -> None:
    # 110,000 due 31 Jan 2027.
    # 10 Feb: 10 days × 110,000 → 110,000 × .145 × 10/365 = 436.98 → 436; pays 50,000:
    #   436 interest, 49,564 principal → 60,436 left.
    # 2 Mar: 11 Feb–2 Mar = 20 days × 60,436 → 480.2 → 480; pays 60,916 → 480 + 60,436: settled.
    state = settle(
        Money(110_000),
        date(2027, 1, 31),
        [Settlement(date(2027, 2, 10), Money(50_000)), Settlement(date(2027, 3, 2), Money(60_916))],
        date(2027, 3, 31),
    )
    assert [p.interest for p in state.periods] == [Money(436), Money(480)]
    assert [p.days for p in state.periods] == [10, 20]
    assert state.interest_accrued == Money(916)
    assert state.outstanding == Money(0)


def test_not_compounded_interest_bears_no_interest() -> None:
    # 100,000 unpaid for 365 days: exactly 14,500, not more (no interest on interest)
    state = settle(Money(100_000), date(2026, 12, 31), [], date(2027, 12, 31))
    assert state.interest_accrued == Money(14_500)
    assert state.outstanding == Money(114_500)
    assert state.days_overdue == 365


def test_overpayment_is_left_over() -> None:
    state = settle(Money(1_000), DUE, [Settlement(DUE, Money(1_500))], DUE)
    assert state.applied[0].left_over == Money(500)
