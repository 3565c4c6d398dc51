"""Consumption tax: once per rate per invoice, fractions of a yen cut (R4.2, Fee rule 3, 5).

The qualified-invoice rules (適格請求書) compute the tax on the total of each rate, not per
line: three lines of 335 yen at 10 % carry floor(1,005 × 10 %) = 100 yen, not 3 × 33 = 99.
Returns (an outage waiver, R4.7) are lines with a negative amount at their rate: they lower
that rate's taxable total before the tax is computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from koe.core.money import Money


class TaxedLine(Protocol):
    """Anything with a tax-exclusive amount and a rate (None: outside consumption tax)."""

    @property
    def amount(self) -> Money: ...
    @property
    def tax_rate(self) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class RateTotal:
    """The total of one rate on one invoice and the tax on it."""

    rate: Decimal | None
    taxable: Money
    returns: Money
    tax: Money

    @property
    def net(self) -> Money:
        """Taxable amount after returns (what the tax is computed on)."""
        return self.taxable + self.returns


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's totals: per rate, tax-exclusive subtotal, tax and total."""

    by_rate: tuple[RateTotal, ...]
    subtotal: Money
    tax: Money

    @property
    def total(self) -> Money:
        """What the tenant pays: subtotal plus tax."""
        return self.subtotal + self.tax


def tax_on(amount: Money, rate: Decimal) -> Money:
    """Tax on ``amount`` at ``rate``, cut toward zero for refunds as for charges."""
    if amount.yen >= 0:
        return amount.scale(rate)
    return -((-amount).scale(rate))


def totals(lines: Iterable[TaxedLine]) -> Totals:
    """Group ``lines`` by rate and compute the tax once per rate (fractions cut)."""
    charges: dict[Decimal | None, int] = {}
    returns: dict[Decimal | None, int] = {}
    for line in lines:
        bucket = charges if line.amount.yen >= 0 else returns
        bucket[line.tax_rate] = bucket.get(line.tax_rate, 0) + line.amount.yen
    rates = sorted(set(charges) | set(returns), key=lambda r: (r is None, r or Decimal(0)))
    by_rate = []
    for rate in rates:
        charged, returned = Money(charges.get(rate, 0)), Money(returns.get(rate, 0))
        tax = Money(0) if rate is None else tax_on(charged + returned, rate)
        by_rate.append(RateTotal(rate, charged, returned, tax))
    subtotal = Money(sum(r.net.yen for r in by_rate))
    tax = Money(sum(r.tax.yen for r in by_rate))
    return Totals(tuple(by_rate), subtotal, tax)
