"""Outage credits (R4.7, Art. 22-6, 47): worked examples for a tenant paying 60,000 yen a month.

60,000 = 4 lines + 4 seats + 4 admin licenses × 5,000 yen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from koe.billing.credits import Cause, Divisor, outage_credit, personal_data_damages_cap
from koe.core.money import Money

FEE = Money(60_000)
PAID = Money(660_000)
START = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)


def credit(cause: Cause, hours: float, days_in_month: int = 30, paid: Money = PAID) -> Money:
    end = START + timedelta(hours=hours)
    return outage_credit(cause, START, end, FEE, days_in_month, paid).credit


def test_23_hour_outage_waives_nothing_no_whole_24h_period() -> None:
    # 23 h ≥ 8 h, but 23 // 24 = 0 whole days → 60,000 × 0 / 30 = 0
    assert credit(Cause.OPERATOR_FAULT, 23) == Money(0)


def test_31_hours_in_november_waives_2000_one_whole_day_of_30() -> None:
    # 31 // 24 = 1 day → 60,000 × 1 / 30 = 2,000
    assert credit(Cause.OPERATOR_FAULT, 31) == Money(2_000)
    assert credit(Cause.FORCE_MAJEURE, 31) == Money(2_000)


def test_gross_negligence_5h30_waives_250_three_whole_hours_beyond_two() -> None:
    # 5.5 h − 2 h = 3.5 h → 3 whole hours → 60,000 / 720 × 3 = 250
    result = outage_credit(
        Cause.OPERATOR_GROSS, START, START + timedelta(hours=5, minutes=30), FEE, 30, PAID
    )
    assert result.waiver == Money(250)
    assert result.rule == "22-6-2"
    assert result.units == 3


def test_art17_pause_waives_nothing_even_for_days() -> None:
    assert credit(Cause.PLANNED_PAUSE, 72) == Money(0)


def test_service_line_and_tenant_fault_waive_nothing() -> None:
    assert credit(Cause.SERVICE_LINE, 50) == Money(0)
    assert credit(Cause.TENANT_FAULT, 50) == Money(0)


def test_row1_needs_8_hours_and_gross_needs_2() -> None:
    # gross negligence, 1 h 59 min → under 2 h → 0; exactly 3 h → 1 hour → 60,000/720 = 83.3 → 83
    assert credit(Cause.OPERATOR_GROSS, 1 + 59 / 60) == Money(0)
    assert credit(Cause.OPERATOR_GROSS, 3) == Money(83)


def test_gross_negligence_uses_row2_even_past_a_day() -> None:
    # 30 h gross: row 2 only (row 1 excludes row 2 cases):
    # 28 h → 60,000 × 28 / 720 = 2,333.3 → 2,333
    assert credit(Cause.OPERATOR_GROSS, 30) == Money(2_333)


def test_row1_divides_by_the_days_of_the_calendar_month_or_30() -> None:
    # 49 h in a 31-day month: 2 days → 60,000 × 2 / 31 = 3,870.9 → 3,870; /30 → 4,000
    assert credit(Cause.OPERATOR_FAULT, 49, days_in_month=31) == Money(3_870)
    thirty = outage_credit(
        Cause.OPERATOR_FAULT, START, START + timedelta(hours=49), FEE, 31, PAID, Divisor.THIRTY
    )
    assert thirty.waiver == Money(4_000)


def test_first_month_tenant_gets_its_waiver_damages_are_capped_at_payments() -> None:
    # Nothing paid yet: the Art. 47 damages cap is 0, but the Art. 22-6 waiver is not capped.
    result = outage_credit(
        Cause.OPERATOR_FAULT, START, START + timedelta(hours=31), FEE, 30, Money(0)
    )
    assert result.waiver == Money(2_000)
    assert result.damages == Money(0)
    assert result.credit == Money(2_000)


def test_force_majeure_has_a_waiver_but_no_damages() -> None:
    result = outage_credit(Cause.FORCE_MAJEURE, START, START + timedelta(hours=48), FEE, 30, PAID)
    assert (result.waiver, result.damages, result.credit) == (Money(4_000), Money(0), Money(4_000))


def test_operator_fault_damages_equal_the_waiver_and_are_not_paid_twice() -> None:
    result = outage_credit(Cause.OPERATOR_FAULT, START, START + timedelta(hours=48), FEE, 30, PAID)
    assert result.damages == result.waiver == result.credit == Money(4_000)


def test_counted_from_when_the_operator_learned_of_it() -> None:
    learned = START + timedelta(hours=10)
    result = outage_credit(
        Cause.OPERATOR_FAULT, learned, START + timedelta(hours=31), FEE, 30, PAID
    )
    assert result.counted == timedelta(hours=21)
    assert result.waiver == Money(0)


def test_end_before_learning_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot end"):
        outage_credit(Cause.OPERATOR_FAULT, START, START - timedelta(hours=1), FEE, 30, PAID)


def test_personal_data_incident_capped_at_one_month() -> None:
    assert personal_data_damages_cap(FEE) == Money(60_000)
