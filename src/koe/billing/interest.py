"""Late interest (Art. 26, R4.4) and how payments settle a debt (Civil Code Art. 489).

- 14.5 % a year on the overdue amount (tax included), for the days from the day after the
  due date through the payment day; the yearly rate is per 365 days even in leap years.
- Fractions of a yen are cut (Fee rule 3) for each period between two payments.
- Not compounded: interest never bears interest; it is outside consumption tax.
- A payment made after the due date goes first to the interest accrued up to that day, then
  to the principal (R4.4: part payments are applied to interest before principal).

Example: 66,000 yen due 30 Nov, paid 10 Dec: 10 days (1–10 Dec);
66,000 × 14.5 % × 10 / 365 = 262.19… → 262 yen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from koe.core.money import Money

ANNUAL_RATE = Decimal("0.145")
DAYS_PER_YEAR = 365


def interest_for(principal: Money, days: int, rate: Decimal = ANNUAL_RATE) -> Money:
    """Simple interest on ``principal`` for ``days`` days at ``rate`` a year, cut to the yen."""
    if days <= 0 or principal.yen <= 0:
        return Money(0)
    numerator = Decimal(principal.yen) * rate * days
    return Money(int(numerator // DAYS_PER_YEAR))


@dataclass(frozen=True, slots=True)
class Settlement:
    """Money received against the debt on a day (a payment, an offset)."""

    on: date
    amount: Money


@dataclass(frozen=True, slots=True)
class Period:
    """Interest accrued on ``principal`` from ``first`` through ``last`` (both counted)."""

    first: date
    last: date
    days: int
    principal: Money
    interest: Money


@dataclass(frozen=True, slots=True)
class Applied:
    """How one settlement was applied."""

    on: date
    to_interest: Money
    to_principal: Money
    left_over: Money


@dataclass(frozen=True, slots=True)
class DebtState:
    """A debt as of a day: principal and interest outstanding and how settlements went."""

    principal: Money
    due_on: date
    as_of: date
    principal_outstanding: Money
    interest_accrued: Money
    interest_paid: Money
    periods: tuple[Period, ...] = field(default=())
    applied: tuple[Applied, ...] = field(default=())

    @property
    def interest_outstanding(self) -> Money:
        """Interest accrued and not yet paid."""
        return self.interest_accrued - self.interest_paid

    @property
    def outstanding(self) -> Money:
        """Everything still owed: principal and interest."""
        return self.principal_outstanding + self.interest_outstanding

    @property
    def days_overdue(self) -> int:
        """Days past the due date as of ``as_of`` (0 when settled or not yet due)."""
        if self.principal_outstanding.yen <= 0:
            return 0
        return max(0, (self.as_of - self.due_on).days)


def settle(
    principal: Money,
    due_on: date,
    settlements: Sequence[Settlement],
    as_of: date,
    rate: Decimal = ANNUAL_RATE,
) -> DebtState:
    """Apply ``settlements`` in date order to a debt of ``principal`` due on ``due_on``.

    Interest accrues on the principal outstanding each day after ``due_on``; each settlement
    closes the running period (through its day, counted), pays interest first, then
    principal. Interest keeps accruing to ``as_of`` on what is still unpaid then.
    """
    outstanding = principal
    accrued = Money(0)
    paid_interest = Money(0)
    periods: list[Period] = []
    applied: list[Applied] = []
    counted_through = due_on  # interest has been computed for every day up to this one

    def accrue(through: date) -> None:
        nonlocal accrued, counted_through
        if through <= counted_through or outstanding.yen <= 0:
            counted_through = max(counted_through, through)
            return
        days = (through - counted_through).days
        interest = interest_for(outstanding, days, rate)
        periods.append(
            Period(
                first=date.fromordinal(counted_through.toordinal() + 1),
                last=through,
                days=days,
                principal=outstanding,
                interest=interest,
            )
        )
        accrued += interest
        counted_through = through

    for settlement in sorted(settlements, key=lambda s: s.on):
        if settlement.on > as_of:
            break
        accrue(settlement.on)
        left = settlement.amount
        to_interest = min(left, accrued - paid_interest)
        paid_interest += to_interest
        left -= to_interest
        to_principal = min(left, outstanding)
        outstanding -= to_principal
        left -= to_principal
        applied.append(Applied(settlement.on, to_interest, to_principal, left))
    accrue(as_of)
    return DebtState(
        principal=principal,
        due_on=due_on,
        as_of=as_of,
        principal_outstanding=outstanding,
        interest_accrued=accrued,
        interest_paid=paid_interest,
        periods=tuple(periods),
        applied=tuple(applied),
    )
