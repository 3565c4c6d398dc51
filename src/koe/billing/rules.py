"""Rating: what a tenant owes for a month, as pure code (R4.1, R4.3, Art. 21–25).

- Monthly fees are charged per calendar month in full, whatever day the service starts or
  ends in it (Art. 21-4, 24; Fee rule 1). A quantity added in the middle of a month is
  charged for the whole month; a quantity removed takes effect after the month end. So the
  quantity charged for a month is the highest quantity held on any day of that month on
  which the contract runs.
- The recording-delivery seat fee is charged per seat license held (R2.1).
- Due dates (Fee rule 4): monthly fees by the last day of the month of use, call charges by
  the last day of the month after the calls, setup fees by the last day of the start month.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from koe.billing.tariff import ITEMS, STANDARD_SETUP_LIMITS, Item, PriceBook
from koe.core.domain import AddOn, LicenseKind
from koe.core.money import Money
from koe.core.months import add_months, month_end, month_label, month_start
from koe.licensing.rules import HoldingRow, Holdings, holdings_on

_LICENSE_ITEMS = {
    LicenseKind.LINE: Item.LINE,
    LicenseKind.SEAT: Item.SEAT,
    LicenseKind.ADMIN: Item.ADMIN,
    LicenseKind.ADDITIONAL_USER: Item.ADDITIONAL_USER,
}


class SubscriptionRow(Protocol):
    """An add-on subscription (the store's AddOnSubscription fits)."""

    @property
    def addon(self) -> AddOn: ...
    @property
    def units(self) -> int: ...
    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class MonthlyUse:
    """Quantities charged for one service month."""

    month: date
    holdings: Holdings
    recording: bool
    transcription_units: int

    def quantities(self) -> dict[Item, int]:
        """Quantity of every monthly item (0 when not held)."""
        out = {item: self.holdings.of(kind) for kind, item in _LICENSE_ITEMS.items()}
        out[Item.RECORDING_BASE] = 1 if self.recording else 0
        out[Item.RECORDING_SEAT] = self.holdings.seat if self.recording else 0
        out[Item.TRANSCRIPTION_UNIT] = self.transcription_units
        return out


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One line to invoice: tax-exclusive ``amount`` at ``tax_rate`` (None: outside tax)."""

    item: Item
    quantity: int
    unit_price: Money | None
    amount: Money
    tax_rate: Decimal | None
    service_month: date | None
    due_on: date
    source: str
    description_ja: str
    description_en: str


def service_days(month: date, start: date | None, end: date | None) -> tuple[date, date] | None:
    """The days of ``month`` on which the contract runs, or None when it does not run."""
    first, last = month_start(month), month_end(month)
    if start is None or start > last or (end is not None and end < first):
        return None
    return max(first, start), min(last, end) if end is not None else last


def _checkpoints(
    first: date, last: date, starts: Iterable[date], ends: Iterable[date | None]
) -> set[date]:
    days = {first}
    days.update(d for d in starts if first < d <= last)
    days.update(e + timedelta(days=1) for e in ends if e is not None and first <= e < last)
    return days


def monthly_use(
    month: date,
    holdings: Sequence[HoldingRow],
    subscriptions: Sequence[SubscriptionRow],
    service_start: date | None,
    service_end: date | None,
) -> MonthlyUse | None:
    """The quantities charged for ``month`` (None when the contract does not run in it)."""
    span = service_days(month, service_start, service_end)
    if span is None:
        return None
    first, last = span
    days = _checkpoints(
        first,
        last,
        [h.effective_from for h in holdings] + [s.starts_on for s in subscriptions],
        [h.effective_to for h in holdings] + [s.ends_on for s in subscriptions],
    )
    peak = {kind: 0 for kind in LicenseKind}
    recording = False
    units = 0
    for day in days:
        held = holdings_on(holdings, day)
        for kind in LicenseKind:
            peak[kind] = max(peak[kind], held.of(kind))
        recording = recording or any(
            s.addon is AddOn.RECORDING_DELIVERY
            and s.starts_on <= day
            and (s.ends_on is None or day <= s.ends_on)
            for s in subscriptions
        )
        units = max(units, _units_on(subscriptions, day))
    return MonthlyUse(
        month=month_start(month),
        holdings=Holdings(**{k.value: v for k, v in peak.items()}),
        recording=recording,
        transcription_units=units,
    )


def _units_on(subscriptions: Sequence[SubscriptionRow], day: date) -> int:
    return sum(
        s.units
        for s in subscriptions
        if s.addon is AddOn.TRANSCRIPTION
        and s.starts_on <= day
        and (s.ends_on is None or day <= s.ends_on)
    )


def monthly_due_on(month: date) -> date:
    """Monthly fees are due by the last day of the month of use (Fee rule 4-1)."""
    return month_end(month)


def call_charges_due_on(usage_month: date) -> date:
    """Call charges close at month end and are due by the end of the next month (Fee rule 4-2)."""
    return month_end(add_months(month_start(usage_month), 1))


def setup_due_on(start_month: date) -> date:
    """Setup fees are due by the last day of the start month (Fee rule 4-3)."""
    return month_end(start_month)


def invoice_due_on(month: date, issued_on: date) -> date:
    """When an invoice for ``month`` is due.

    Everything a month's invoice carries falls due at the end of that month (its licenses
    and add-ons, the previous month's calls, setup fees of a start in that month). An amount
    is never due before the invoice carrying it is issued: issued after that date, it is due
    at the end of the month of issue (see docs/billing.md).
    """
    return max(month_end(month), month_end(issued_on))


def describe(
    item: Item, month: date | None, extra_ja: str = "", extra_en: str = ""
) -> tuple[str, str]:
    """Japanese and English line descriptions: item name, the month it is for, a note."""
    info = ITEMS[item]
    ja, en = info.name_ja, info.name_en
    if month is not None:
        ja += f" ({month.year}年{month.month}月分)"
        en += f" ({month_label(month)})"
    if extra_ja:
        ja += f" {extra_ja}"
    if extra_en:
        en += f" {extra_en}"
    return ja, en


def monthly_lines(
    use: MonthlyUse,
    prices: PriceBook,
    tax_rate: Decimal,
    due_on: date,
    already_billed: dict[Item, int] | None = None,
) -> list[ChargeLine]:
    """Lines for the monthly items of ``use`` not yet billed (quantity above ``already_billed``).

    A quantity billed before (the month's invoice went out, then something was added) is not
    billed again; only the increase is, marked as an addition.
    """
    billed = already_billed or {}
    lines: list[ChargeLine] = []
    for item, quantity in use.quantities().items():
        extra = quantity - billed.get(item, 0)
        if extra <= 0:
            continue
        price = prices.price(item)
        if price is None:
            raise ValueError(f"no price for {item} in {month_label(use.month)}")
        note_ja, note_en = ("(追加分)", "(addition)") if billed.get(item, 0) else ("", "")
        if prices.is_quoted(item):
            note_ja, note_en = note_ja + "(個別見積)", note_en + " (quoted)"
        ja, en = describe(item, use.month, note_ja, note_en.strip())
        lines.append(
            ChargeLine(
                item=item,
                quantity=extra,
                unit_price=price,
                amount=price.times(extra),
                tax_rate=tax_rate,
                service_month=use.month,
                due_on=due_on,
                source=f"monthly:{item.value}:{month_label(use.month)}",
                description_ja=ja,
                description_en=en,
            )
        )
    return lines


def monthly_fees_by_group(use: MonthlyUse, prices: PriceBook) -> dict[str, Money]:
    """The month's monthly fees per service group (what an outage waiver is a share of)."""
    out: dict[str, Money] = {}
    for item, quantity in use.quantities().items():
        price = prices.price(item)
        if quantity and price is not None:
            group = ITEMS[item].group.value
            out[group] = out.get(group, Money(0)) + price.times(quantity)
    return out


def standard_setup_applies(lines: int, seats: int, admins: int) -> bool:
    """True when the standard setup covers the request: ≤ 5 lines, 6 seats, 1 admin (Tariff 4)."""
    return (
        lines <= STANDARD_SETUP_LIMITS["line"]
        and seats <= STANDARD_SETUP_LIMITS["seat"]
        and admins <= STANDARD_SETUP_LIMITS["admin"]
    )


def surcharge(evaded: Money) -> tuple[Money, Money]:
    """Art. 25: the evaded fees themselves, and a surcharge of twice them (both tax-exclusive).

    Both are taxable: the tenant pays the evaded amount with its tax, plus 2 × the evaded
    amount (tax-exclusive) plus the tax on that 2 × (R4.5).
    """
    if evaded.yen <= 0:
        raise ValueError("the evaded amount must be positive")
    return evaded, evaded.times(2)


class OverPlan(StrEnum):
    """What happens past the transcription plan (R2.1, a tenant setting)."""

    HOLD = "hold"
    BUY_UNIT = "buy_unit"


@dataclass(frozen=True, slots=True)
class QuotaState:
    """Transcription metering against the plan for one month."""

    units: int
    plan_minutes: int
    used_minutes: int
    alerts: tuple[int, ...]
    hold_jobs: bool
    buy_units: int


MINUTES_PER_UNIT = 1_000


def transcription_quota(units: int, used_minutes: int, choice: OverPlan) -> QuotaState:
    """Alerts at 80 % and 100 % of the plan, and past it the tenant's choice (R2.1).

    With ``BUY_UNIT``, enough units are bought to cover the minutes used (each unit is charged
    for the whole month); with ``HOLD``, further jobs wait for next month.
    """
    plan = units * MINUTES_PER_UNIT
    alerts = tuple(p for p in (80, 100) if plan and used_minutes * 100 >= plan * p)
    over = used_minutes > plan
    buy = 0
    if over and choice is OverPlan.BUY_UNIT:
        buy = -(-(used_minutes - plan) // MINUTES_PER_UNIT)
    return QuotaState(
        units=units,
        plan_minutes=plan,
        used_minutes=used_minutes,
        alerts=alerts if plan else (100,) if used_minutes else (),
        hold_jobs=(used_minutes >= plan) and choice is OverPlan.HOLD,
        buy_units=buy,
    )
