"""Consumption tax once per rate per invoice, fractions cut (R4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from koe.billing.tax import tax_on, totals
from koe.core.money import Money

TEN = Decimal("0.10")
EIGHT = Decimal("0.08")


@dataclass
class L:
    amount: Money
    tax_rate: Decimal | None


def test_three_call_lines_of_335_carry_100_tax_not_99() -> None:
    # 335 × 3 = 1,005; 1,005 × 10 % = 100.5 → 100 (per line: 33 × 3 = 99 would be wrong)
    result = totals([L(Money(335), TEN)] * 3)
    assert result.tax == Money(100)
    assert result.subtotal == Money(1_005)
    assert result.total == Money(1_105)


def test_rates_are_separate_and_outside_tax_lines_carry_none() -> None:
    # 10 %: 60,000 + 1,005 = 61,005 → 6,100.5 → 6,100; 8 %: 999 → 79.92 → 79; interest 262: none
    result = totals(
        [L(Money(60_000), TEN), L(Money(1_005), TEN), L(Money(999), EIGHT), L(Money(262), None)]
    )
    by = {r.rate: r for r in result.by_rate}
    assert by[TEN].tax == Money(6_100)
    assert by[EIGHT].tax == Money(79)
    assert by[None].tax == Money(0) and by[None].taxable == Money(262)
    assert result.tax == Money(6_179)
    assert result.subtotal == Money(62_266)
    assert result.total == Money(68_445)


def test_a_return_lowers_the_taxable_amount_before_tax() -> None:
    # 60,000 − 2,000 waived = 58,000 → tax 5,800
    result = totals([L(Money(60_000), TEN), L(Money(-2_000), TEN)])
    (ten,) = result.by_rate
    assert (ten.taxable, ten.returns, ten.net, ten.tax) == (
        Money(60_000),
        Money(-2_000),
        Money(58_000),
        Money(5_800),
    )
    assert result.total == Money(63_800)


def test_tax_on_negative_amounts_is_cut_toward_zero() -> None:
    # −1,005 × 10 % = −100.5 → −100 (a credit note mirrors the invoice it cancels)
    assert tax_on(Money(-1_005), TEN) == Money(-100)
    assert tax_on(Money(1_005), TEN) == Money(100)
