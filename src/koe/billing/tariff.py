"""The tariff as data: items, prices by effective date, individual quotes, tax rates (R2, R4.2).

Prices are the terms' Tariff 1, 2 and 4 (version 3.1, 2021-08-01), tax-exclusive. A tariff
version applies to a whole service month: the version in force on the month's 1st (a change
is announced ≥ 3 months ahead and takes effect on a 1st, Art. 21-3). An individual quote
(個別見積書) overrides the tariff for one tenant and item (Art. 21-5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from koe.core.money import Money


class Group(StrEnum):
    """Which service an item belongs to (outage credits waive per service, R4.7)."""

    BASIC = "basic"
    RECORDING_DELIVERY = "recording_delivery"
    TRANSCRIPTION = "transcription"
    ONE_OFF = "one_off"
    CALLS = "calls"
    ADJUSTMENT = "adjustment"


class Item(StrEnum):
    """Everything an invoice line can be."""

    LINE = "line"
    SEAT = "seat"
    ADMIN = "admin"
    ADDITIONAL_USER = "additional_user"
    RECORDING_BASE = "recording_base"
    RECORDING_SEAT = "recording_seat"
    TRANSCRIPTION_UNIT = "transcription_unit"
    TRANSCRIPTION_SETUP = "transcription_setup"
    STANDARD_SETUP = "standard_setup"
    CUSTOM_SETUP = "custom_setup"
    SETUP_AT_COST = "setup_at_cost"
    CALL_CHARGES = "call_charges"
    EVADED_FEES = "evaded_fees"
    SURCHARGE = "surcharge"
    LATE_INTEREST = "late_interest"
    OUTAGE_WAIVER = "outage_waiver"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """How an item is named, grouped and taxed."""

    name_ja: str
    name_en: str
    group: Group
    monthly: bool = False
    taxable: bool = True


ITEMS: Mapping[Item, ItemInfo] = {
    Item.LINE: ItemInfo("外線ライセンス", "External line license", Group.BASIC, monthly=True),
    Item.SEAT: ItemInfo("シートライセンス", "Seat license", Group.BASIC, monthly=True),
    Item.ADMIN: ItemInfo("管理機能ライセンス", "Admin license", Group.BASIC, monthly=True),
    Item.ADDITIONAL_USER: ItemInfo(
        "追加ユーザーライセンス", "Additional user license", Group.BASIC, monthly=True
    ),
    Item.RECORDING_BASE: ItemInfo(
        "通話録音配送サービス 基本料",
        "Call recording delivery, base fee",
        Group.RECORDING_DELIVERY,
        monthly=True,
    ),
    Item.RECORDING_SEAT: ItemInfo(
        "通話録音配送サービス シートライセンス",
        "Call recording delivery, per seat license",
        Group.RECORDING_DELIVERY,
        monthly=True,
    ),
    Item.TRANSCRIPTION_UNIT: ItemInfo(
        "通話録音テキスト化サービス 月額費用(1,000分/月)",
        "Call recording transcription, monthly (1,000 min/month units)",
        Group.TRANSCRIPTION,
        monthly=True,
    ),
    Item.TRANSCRIPTION_SETUP: ItemInfo(
        "通話録音テキスト化サービス システム構築・設定費用",
        "Call recording transcription, system setup",
        Group.ONE_OFF,
    ),
    Item.STANDARD_SETUP: ItemInfo("標準初期導入設定費用", "Standard initial setup", Group.ONE_OFF),
    Item.CUSTOM_SETUP: ItemInfo(
        "初期導入設定費用(個別見積)", "Custom initial setup (quoted)", Group.ONE_OFF
    ),
    Item.SETUP_AT_COST: ItemInfo(
        "初期導入設定に要した費用(第22条第8項)",
        "Setup work done before termination, at cost (Art. 22-8)",
        Group.ONE_OFF,
    ),
    Item.CALL_CHARGES: ItemInfo("通話料", "Call charges", Group.CALLS),
    Item.EVADED_FEES: ItemInfo(
        "不法に免れた料金(第25条)", "Fees unlawfully evaded (Art. 25)", Group.ADJUSTMENT
    ),
    Item.SURCHARGE: ItemInfo("割増金(第25条)", "Surcharge (Art. 25)", Group.ADJUSTMENT),
    Item.LATE_INTEREST: ItemInfo(
        "延滞利息(第26条)", "Late interest (Art. 26)", Group.ADJUSTMENT, taxable=False
    ),
    Item.OUTAGE_WAIVER: ItemInfo(
        "障害による料金の返還(第22条第6項)",
        "Fee waiver for an outage, returned (Art. 22-6)",
        Group.ADJUSTMENT,
    ),
    Item.OTHER: ItemInfo("その他", "Other", Group.ADJUSTMENT),
}

MONTHLY_ITEMS: tuple[Item, ...] = tuple(i for i, info in ITEMS.items() if info.monthly)
BASIC_ITEMS = (Item.LINE, Item.SEAT, Item.ADMIN, Item.ADDITIONAL_USER)


@dataclass(frozen=True, slots=True)
class Tariff:
    """One version of the price list, in force from ``effective_from``."""

    effective_from: date
    prices: Mapping[Item, Money]

    def price(self, item: Item) -> Money | None:
        """The list price of ``item`` (None for items priced by quote only)."""
        return self.prices.get(item)


TARIFF_V3_1 = Tariff(
    date(2021, 8, 1),
    {
        Item.LINE: Money(5_000),
        Item.SEAT: Money(5_000),
        Item.ADMIN: Money(5_000),
        Item.ADDITIONAL_USER: Money(500),
        Item.RECORDING_BASE: Money(10_000),
        Item.RECORDING_SEAT: Money(2_000),
        Item.TRANSCRIPTION_UNIT: Money(1_500),
        Item.TRANSCRIPTION_SETUP: Money(150_000),
        Item.STANDARD_SETUP: Money(300_000),
    },
)

# The standard setup covers up to 5 lines, 6 seats and 1 admin license (Tariff 4-2-1).
STANDARD_SETUP_LIMITS = {"line": 5, "seat": 6, "admin": 1}


@dataclass(frozen=True, slots=True)
class TaxRate:
    """The consumption tax rate in force from ``effective_from`` (national + local, R4.2)."""

    effective_from: date
    rate: Decimal


DEFAULT_TAX_RATES = (TaxRate(date(2019, 10, 1), Decimal("0.10")),)


class QuoteRow(Protocol):
    """An individual quote for one item (the store's PriceQuote fits)."""

    @property
    def item(self) -> str: ...
    @property
    def unit_price_yen(self) -> int: ...
    @property
    def effective_from(self) -> date: ...
    @property
    def effective_to(self) -> date | None: ...


def tariff_on(versions: Iterable[Tariff], day: date) -> Tariff:
    """The prices in force on ``day``: v3.1, changed by each later version in date order.

    A tariff change announces the items whose price changes (Art. 21-3); an item a version
    does not list keeps its earlier price.
    """
    prices = dict(TARIFF_V3_1.prices)
    effective = TARIFF_V3_1.effective_from
    for version in sorted(versions, key=lambda v: v.effective_from):
        if TARIFF_V3_1.effective_from < version.effective_from <= day:
            prices.update(version.prices)
            effective = version.effective_from
    return Tariff(effective, prices)


def tax_rate_on(rates: Iterable[TaxRate], day: date) -> Decimal:
    """The consumption tax rate in force on ``day``."""
    best: TaxRate | None = None
    for rate in (*DEFAULT_TAX_RATES, *rates):
        if rate.effective_from <= day and (
            best is None or best.effective_from <= rate.effective_from
        ):
            best = rate
    if best is None:
        raise ValueError(f"no consumption tax rate is in force on {day}")
    return best.rate


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Unit prices for one tenant and one service month: its quotes over the tariff."""

    tariff: Tariff
    quotes: Mapping[Item, Money] = field(default_factory=dict)

    def price(self, item: Item) -> Money | None:
        """The quote for ``item`` if there is one, else the list price (Art. 21-5)."""
        return self.quotes.get(item, self.tariff.price(item))

    def is_quoted(self, item: Item) -> bool:
        """True when an individual quote sets this price."""
        return item in self.quotes


def price_book(
    versions: Iterable[Tariff], quotes: Iterable[QuoteRow], month: date, month_last: date
) -> PriceBook:
    """The prices of service ``month``: tariff on its 1st; quotes overlapping the month.

    When several quotes for one item overlap the month, the one that starts last wins.
    """
    chosen: dict[Item, tuple[date, Money]] = {}
    for quote in quotes:
        if quote.effective_from > month_last:
            continue
        if quote.effective_to is not None and quote.effective_to < month:
            continue
        item = Item(quote.item)
        if item not in chosen or chosen[item][0] <= quote.effective_from:
            chosen[item] = (quote.effective_from, Money(quote.unit_price_yen))
    return PriceBook(tariff_on(versions, month), {k: v for k, (_, v) in chosen.items()})
