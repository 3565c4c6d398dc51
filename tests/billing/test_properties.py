"""Properties (hypothesis): invoices never negative except credit notes, totals are the sum of
lines, and composing a month again after billing it yields nothing new."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from koe.billing.compose import TenantRecords, compose
from koe.billing.rules import ChargeLine
from koe.billing.tariff import ITEMS
from koe.billing.tax import totals
from koe.core.domain import AddOn, LicenseKind
from koe.core.money import Money

NOV = date(2026, 11, 1)
RATES = [Decimal("0.10"), Decimal("0.08"), None]


@dataclass
class H:
    kind: LicenseKind
    quantity: int
    effective_from: date
    effective_to: date | None
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class S:
    addon: AddOn
    units: int
    starts_on: date
    ends_on: date | None
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class C:
    id: str
    carrier: str
    usage_month: date
    number: str
    calls: int
    amount_yen: int


@dataclass
class Out:
    id: str
    month: date
    waiver_yen: int
    applied_yen: int
    learned_at: datetime


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 3, 31))
holdings = st.builds(
    H,
    kind=st.sampled_from(list(LicenseKind)),
    quantity=st.integers(1, 50),
    effective_from=days,
    effective_to=st.none() | days,
)
subs = st.builds(
    S,
    addon=st.sampled_from(list(AddOn)),
    units=st.integers(1, 5),
    starts_on=days,
    ends_on=st.none() | days,
)
charges = st.builds(
    C,
    id=st.uuids().map(str),
    carrier=st.sampled_from(["NTT", "KDDI"]),
    usage_month=st.sampled_from([date(2026, 9, 1), date(2026, 10, 1), NOV]),
    number=st.just("+81312345678"),
    calls=st.integers(0, 500),
    amount_yen=st.integers(0, 200_000),
)
outages = st.builds(
    Out,
    id=st.uuids().map(str),
    month=st.sampled_from([date(2026, 9, 1), date(2026, 10, 1), NOV]),
    waiver_yen=st.integers(0, 3_000_000),
    applied_yen=st.just(0),
    learned_at=st.just(datetime(2026, 10, 5, tzinfo=UTC)),
)
records = st.builds(
    TenantRecords,
    service_start=st.sampled_from([date(2026, 1, 1), date(2026, 11, 1), date(2026, 12, 1)]),
    service_end=st.none() | st.sampled_from([date(2026, 10, 31), date(2026, 11, 10)]),
    holdings=st.lists(holdings, max_size=6),
    subscriptions=st.lists(subs, max_size=3),
    carrier_charges=st.lists(charges, max_size=4),
    outages=st.lists(outages, max_size=3),
)


@dataclass
class L:
    amount: Money
    tax_rate: Decimal | None


@given(st.lists(st.tuples(st.integers(-100_000, 1_000_000), st.sampled_from(RATES)), max_size=30))
def test_totals_are_the_sum_of_the_lines_and_tax_is_cut_once_per_rate(
    raw: list[tuple[int, Decimal | None]],
) -> None:
    lines = [L(Money(a), r) for a, r in raw]
    result = totals(lines)
    assert result.subtotal.yen == sum(a for a, _ in raw)
    assert result.total == result.subtotal + result.tax
    for part in result.by_rate:
        net = sum(a for a, r in raw if r == part.rate)
        assert part.net.yen == net
        if part.rate is None:
            assert part.tax.yen == 0
        else:
            assert abs(part.tax.yen) == int(abs(net) * part.rate)  # cut toward zero
    # a credit note of the same lines mirrors the invoice exactly
    mirror = totals([L(-x.amount, x.tax_rate) for x in lines])
    assert mirror.total == -result.total


@settings(max_examples=150, deadline=None)
@given(records)
def test_invoice_never_negative_and_a_second_composition_adds_nothing(rec: TenantRecords) -> None:
    first = compose(NOV, rec, [], [], date(2026, 11, 30))
    result = totals(first.lines)
    assert result.total.yen >= 0
    assert result.subtotal.yen == sum(line.amount.yen for line in first.lines)
    for part in result.by_rate:
        assert part.net.yen >= 0
    # Bill it: quantities billed, charges consumed, waivers applied; compose again.
    billed: dict[tuple[str, date], int] = {}
    for line in first.lines:
        if ITEMS[line.item].monthly and line.service_month is not None:
            key = (line.item.value, line.service_month)
            billed[key] = billed.get(key, 0) + line.quantity
    applied = dict(first.credits)
    again = replace(
        rec,
        carrier_charges=[c for c in rec.carrier_charges if c.id not in first.carrier_charge_ids],
        outages=[replace(o, applied_yen=o.applied_yen + applied.get(o.id, 0)) for o in rec.outages],
        billed=billed,
    )
    second = compose(NOV, again, [], [], date(2026, 11, 30))
    charged: list[ChargeLine] = [x for x in second.lines if x.amount.yen > 0]
    assert charged == []
    assert second.credits == ()  # waivers with no room stay pending, not re-applied
