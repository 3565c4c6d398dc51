"""What goes on one tenant's invoice for a month, from its records (pure; R4.1–R4.3, R4.7).

A month's invoice carries:

1. that month's monthly fees (licenses, add-ons), less what an earlier invoice already billed
   for the month;
2. additions to earlier months whose invoices had already gone out (R4.3);
3. call charges of earlier months not yet billed (normally the previous month's);
4. one-off charges (setup fees, surcharges, setup at cost) for the month or earlier;
5. outage waivers of earlier months not yet returned, as negative lines at their rate,
   never more than that rate's charges on the invoice (the rest waits, or is refunded by a
   credit note once the contract has ended).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from koe.billing.rules import (
    ChargeLine,
    SubscriptionRow,
    describe,
    monthly_lines,
    monthly_use,
)
from koe.billing.tariff import (
    ITEMS,
    Item,
    QuoteRow,
    Tariff,
    TaxRate,
    price_book,
    tax_rate_on,
)
from koe.core.money import Money
from koe.core.months import add_months, month_end, month_label, month_start
from koe.core.phone import to_domestic
from koe.licensing.rules import HoldingRow

LOOKBACK_MONTHS = 12


class OneOffRow(Protocol):
    """A one-off charge (the store's OneOffCharge fits)."""

    @property
    def id(self) -> str: ...
    @property
    def item(self) -> str: ...
    @property
    def amount_yen(self) -> int: ...
    @property
    def taxable(self) -> bool: ...
    @property
    def service_month(self) -> date: ...
    @property
    def description(self) -> str: ...


class CarrierRow(Protocol):
    """Call charges of one number and month (the store's CarrierCharge fits)."""

    @property
    def id(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def usage_month(self) -> date: ...
    @property
    def number(self) -> str: ...
    @property
    def calls(self) -> int: ...
    @property
    def amount_yen(self) -> int: ...


class OutageRow(Protocol):
    """An outage with its waiver (the store's Outage fits)."""

    @property
    def id(self) -> str: ...
    @property
    def month(self) -> date: ...
    @property
    def waiver_yen(self) -> int: ...
    @property
    def applied_yen(self) -> int: ...
    @property
    def learned_at(self) -> datetime: ...


@dataclass
class TenantRecords:
    """Everything about one tenant that its invoice depends on."""

    service_start: date | None
    service_end: date | None
    holdings: Sequence[HoldingRow] = ()
    subscriptions: Sequence[SubscriptionRow] = ()
    quotes: Sequence[QuoteRow] = ()
    one_offs: Sequence[OneOffRow] = ()
    carrier_charges: Sequence[CarrierRow] = ()
    outages: Sequence[OutageRow] = ()
    # (item, service month) → quantity already billed on invoices in force
    billed: Mapping[tuple[str, date], int] = field(default_factory=dict)
    # months whose invoice went out before the latest change of licenses, add-ons or quotes
    stale_months: Sequence[date] = ()


@dataclass(frozen=True, slots=True)
class Composition:
    """The lines of one invoice and which records they consume."""

    lines: tuple[ChargeLine, ...]
    one_off_ids: tuple[str, ...]
    carrier_charge_ids: tuple[str, ...]
    credits: tuple[tuple[str, int], ...]  # (outage id, yen returned on this invoice)
    pending_credits: tuple[tuple[str, int, date], ...]  # what could not be returned here


def _billed_for(billed: Mapping[tuple[str, date], int], month: date) -> dict[Item, int]:
    return {Item(item): qty for (item, m), qty in billed.items() if m == month}


def compose(
    month: date,
    records: TenantRecords,
    tariffs: Sequence[Tariff],
    tax_rates: Sequence[TaxRate],
    due_on: date,
) -> Composition:
    """The lines of ``month``'s invoice for a tenant described by ``records``."""
    month = month_start(month)
    lines: list[ChargeLine] = []
    floor_month = add_months(month, -LOOKBACK_MONTHS)
    months = sorted({m for m in records.stale_months if floor_month <= m < month} | {month})
    for m in months:
        use = monthly_use(
            m, records.holdings, records.subscriptions, records.service_start, records.service_end
        )
        if use is None:
            continue
        book = price_book(tariffs, records.quotes, m, month_end(m))
        lines += monthly_lines(
            use, book, tax_rate_on(tax_rates, m), due_on, _billed_for(records.billed, m)
        )
    charge_ids: list[str] = []
    for charge in sorted(
        records.carrier_charges, key=lambda c: (c.usage_month, c.carrier, c.number, c.id)
    ):
        if charge.usage_month >= month:
            continue
        charge_ids.append(charge.id)
        number = to_domestic(charge.number) if charge.number else ""
        ja, en = describe(
            Item.CALL_CHARGES,
            charge.usage_month,
            f"{charge.carrier} {number} {charge.calls}件".replace("  ", " "),
            f"{charge.carrier} {number} {charge.calls} calls".replace("  ", " "),
        )
        lines.append(
            ChargeLine(
                item=Item.CALL_CHARGES,
                quantity=charge.calls,
                unit_price=None,
                amount=Money(charge.amount_yen),
                tax_rate=tax_rate_on(tax_rates, charge.usage_month),
                service_month=charge.usage_month,
                due_on=due_on,
                source=f"carrier_charge:{charge.id}",
                description_ja=ja,
                description_en=en,
            )
        )
    one_off_ids: list[str] = []
    for one in sorted(records.one_offs, key=lambda o: (o.service_month, o.item, o.id)):
        if one.service_month > month:
            continue
        one_off_ids.append(one.id)
        item = Item(one.item)
        ja, en = describe(item, one.service_month, one.description, one.description)
        lines.append(
            ChargeLine(
                item=item,
                quantity=1,
                unit_price=Money(one.amount_yen),
                amount=Money(one.amount_yen),
                tax_rate=tax_rate_on(tax_rates, one.service_month) if one.taxable else None,
                service_month=one.service_month,
                due_on=due_on,
                source=f"one_off:{one.id}",
                description_ja=ja,
                description_en=en,
            )
        )
    credits, pending = _returns(month, records.outages, lines, tax_rates, due_on)
    lines += [line for line, _ in credits]
    return Composition(
        lines=tuple(lines),
        one_off_ids=tuple(one_off_ids),
        carrier_charge_ids=tuple(charge_ids),
        credits=tuple((outage_id, -line.amount.yen) for line, outage_id in credits),
        pending_credits=tuple(pending),
    )


def _returns(
    month: date,
    outages: Iterable[OutageRow],
    lines: Sequence[ChargeLine],
    tax_rates: Sequence[TaxRate],
    due_on: date,
) -> tuple[list[tuple[ChargeLine, str]], list[tuple[str, int, date]]]:
    room: dict[Decimal | None, int] = {}
    for line in lines:
        room[line.tax_rate] = room.get(line.tax_rate, 0) + line.amount.yen
    out: list[tuple[ChargeLine, str]] = []
    pending: list[tuple[str, int, date]] = []
    for outage in sorted(outages, key=lambda o: (o.learned_at, o.id)):
        left = outage.waiver_yen - outage.applied_yen
        if left <= 0 or outage.month >= month:
            continue
        rate = tax_rate_on(tax_rates, outage.month)
        take = min(left, max(0, room.get(rate, 0)))
        if take < left:
            pending.append((outage.id, left - take, outage.month))
        if take <= 0:
            continue
        room[rate] = room.get(rate, 0) - take
        ja, en = describe(
            Item.OUTAGE_WAIVER,
            outage.month,
            f"(障害 {outage.learned_at:%Y-%m-%d})",
            f"(outage of {outage.learned_at:%Y-%m-%d})",
        )
        out.append(
            (
                ChargeLine(
                    item=Item.OUTAGE_WAIVER,
                    quantity=1,
                    unit_price=None,
                    amount=Money(-take),
                    tax_rate=rate,
                    service_month=outage.month,
                    due_on=due_on,
                    source=f"outage:{outage.id}",
                    description_ja=ja,
                    description_en=en,
                ),
                outage.id,
            )
        )
    return out, pending


def refund_lines(
    pending: Iterable[tuple[str, int, date]], tax_rates: Sequence[TaxRate], due_on: date
) -> list[tuple[ChargeLine, str]]:
    """Credit-note lines refunding waivers that no invoice is left to absorb (Art. 22-7)."""
    out: list[tuple[ChargeLine, str]] = []
    for outage_id, yen, outage_month in pending:
        ja, en = describe(Item.OUTAGE_WAIVER, outage_month, "(返金)", "(refund)")
        out.append(
            (
                ChargeLine(
                    item=Item.OUTAGE_WAIVER,
                    quantity=1,
                    unit_price=None,
                    amount=Money(-yen),
                    tax_rate=tax_rate_on(tax_rates, outage_month),
                    service_month=outage_month,
                    due_on=due_on,
                    source=f"outage:{outage_id}",
                    description_ja=ja,
                    description_en=en,
                ),
                outage_id,
            )
        )
    return out


def invoice_number(kind: str, month: date, tenant_code: str, seq: int) -> str:
    """``INV-2026-11-acme-1`` for invoices, ``CN-…`` for credit notes."""
    prefix = "CN" if kind == "credit_note" else "INV"
    return f"{prefix}-{month_label(month)}-{tenant_code}-{seq}"


def item_is_taxable(item: Item) -> bool:
    """Whether an item is subject to consumption tax."""
    return ITEMS[item].taxable
