"""Billing service: the only code that writes invoices, payments and outage credits (R4.*).

Every tenant method takes ``tenant_id`` first; another tenant's invoice answers "not found".
Invoices are never edited: a correction is a credit note cancelling the invoice plus a new
invoice (``correct_invoice``). Running a month again changes nothing for tenants that
already have that month's invoice.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from koe.billing.compose import (
    Composition,
    TenantRecords,
    compose,
    invoice_number,
    refund_lines,
)
from koe.billing.credits import Cause, Credit, Divisor, outage_credit
from koe.billing.csvout import invoices_csv, lines_csv
from koe.billing.errors import (
    InvoiceNotCorrectable,
    IssuerMissing,
    invalid,
    invoice_not_found,
)
from koe.billing.interest import DebtState, Settlement, settle
from koe.billing.pdf import render_invoice
from koe.billing.rules import (
    ChargeLine,
    OverPlan,
    QuotaState,
    invoice_due_on,
    monthly_fees_by_group,
    monthly_use,
    surcharge,
    transcription_quota,
)
from koe.billing.tariff import ITEMS, Group, Item, Tariff, TaxRate, price_book
from koe.billing.tax import Totals, totals
from koe.billing.transfers import (
    BANK_FEES,
    TransferFileError,
    names_match,
    parse_transfers,
    short_by_bank_fee,
)
from koe.core.clock import JST, Clock, jst_today
from koe.core.domain import AddOn
from koe.core.errors import not_found
from koe.core.events import Event, EventBus
from koe.core.ids import new_id
from koe.core.money import Money
from koe.core.months import add_months, days_in_month, month_end, month_label, month_start
from koe.core.phone import to_e164
from koe.store.db import Database
from koe.store.models import (
    AddOnSubscription,
    BillingIssuer,
    BillingRun,
    CarrierCharge,
    Invoice,
    InvoiceLine,
    LicenseHolding,
    OneOffCharge,
    Outage,
    Payment,
    PaymentAllocation,
    PhoneNumber,
    PriceQuote,
    TariffVersion,
    TaxRateVersion,
    Tenant,
    UnmatchedTransfer,
)
from koe.tenancy.service import row_view

log = logging.getLogger(__name__)

View = dict[str, Any]
BATCH = 400
_T_NUMBER = re.compile(r"^T[0-9]{13}$")
_SERVICE_GROUPS = {
    "basic": Group.BASIC.value,
    AddOn.RECORDING_DELIVERY.value: Group.RECORDING_DELIVERY.value,
    AddOn.TRANSCRIPTION.value: Group.TRANSCRIPTION.value,
}


def valid_registration_number(number: str) -> bool:
    """A qualified-invoice issuer number: T + a 13-digit corporate number with its check digit."""
    if not _T_NUMBER.match(number):
        return False
    digits = number[1:]
    body = [int(c) for c in digits[1:]]
    # National Tax Agency: check = 9 − (Σ Pn × Qn mod 9), Qn = 1 for odd n, 2 for even n,
    # n counted from the lowest digit of the 12-digit body.
    total = sum(d * (2 if n % 2 == 0 else 1) for n, d in enumerate(reversed(body), start=1))
    return int(digits[0]) == 9 - (total % 9)


def _rate_text(rate: Decimal | None) -> str | None:
    return None if rate is None else format(rate, "f")


def _rate(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _tax_breakdown(result: Totals) -> list[dict[str, Any]]:
    return [
        {
            "rate": _rate_text(r.rate),
            "taxable_yen": r.taxable.yen,
            "returns_yen": r.returns.yen,
            "net_yen": r.net.yen,
            "tax_yen": r.tax.yen,
        }
        for r in result.by_rate
    ]


@dataclass
class RunReport:
    """What a monthly run did."""

    month: str
    tenants: int = 0
    invoices: int = 0
    credit_notes: int = 0
    skipped: int = 0
    billed_yen: int = 0
    seconds: float = 0.0
    invoice_ids: list[str] = field(default_factory=list)


@dataclass
class TransferReport:
    """Outcome of a bank-transfer CSV import."""

    rows: int = 0
    matched: list[View] = field(default_factory=list)
    unmatched: list[View] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One line of a carrier's statement: calls of one tenant number in one month."""

    number: str
    usage_month: date
    amount: Money
    calls: int = 0
    seconds: int = 0
    reference: str = ""


class BillingService:
    """Tariff, monthly runs, invoices, payments, interest, credits and exports."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus,
        *,
        divisor: Divisor = Divisor.CALENDAR,
        bank_fees: Sequence[int] = BANK_FEES,
    ) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.divisor = divisor
        self.bank_fees = tuple(bank_fees)

    # ---- configuration ----

    async def set_issuer(
        self,
        name: str,
        registration_number: str,
        *,
        effective_from: date,
        address: str = "",
        phone: str = "",
        bank_account: str = "",
    ) -> View:
        """Record the operator as invoice issuer from ``effective_from`` (qualified invoice)."""
        if not valid_registration_number(registration_number):
            raise invalid(
                "registration_number",
                "invalid_registration_number",
                "登録番号は T + 13桁(チェックディジット付き)の形式です。",
                "The registration number is T followed by 13 digits with a valid check digit.",
            )
        async with self.db.transaction() as s:
            row = BillingIssuer(
                effective_from=effective_from,
                name=name,
                registration_number=registration_number,
                address=address,
                phone=phone,
                bank_account=bank_account,
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            return row_view(row)

    async def set_tax_rate(self, effective_from: date, rate: Decimal) -> View:
        """Record a consumption tax rate from ``effective_from`` (R4.2, cfg)."""
        if not Decimal(0) <= rate < Decimal(1):
            raise invalid("rate", "invalid_tax_rate", "税率が不正です。", "Invalid tax rate.")
        async with self.db.transaction() as s:
            row = TaxRateVersion(
                effective_from=effective_from, rate=format(rate, "f"), created_at=self.clock.now()
            )
            s.add(row)
            await s.flush()
            return row_view(row)

    async def add_quote(
        self,
        tenant_id: str,
        item: Item,
        unit_price: Money,
        effective_from: date,
        effective_to: date | None = None,
        reference: str = "",
    ) -> View:
        """Record an individual quote: this tenant's price for ``item`` (Art. 21-5)."""
        if unit_price.yen < 0:
            raise invalid("unit_price", "invalid_price", "金額が不正です。", "Invalid price.")
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id)
            row = PriceQuote(
                tenant_id=tenant_id,
                item=Item(item).value,
                unit_price_yen=unit_price.yen,
                effective_from=effective_from,
                effective_to=effective_to,
                reference=reference,
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            return row_view(row)

    async def add_one_off(
        self,
        tenant_id: str,
        item: Item,
        amount: Money,
        service_month: date,
        description: str = "",
    ) -> View:
        """A charge billed once on the invoice of ``service_month`` or the next one run."""
        if amount.yen <= 0:
            raise invalid("amount", "invalid_amount", "金額が不正です。", "Invalid amount.")
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id)
            row = self._one_off(tenant_id, Item(item), amount, service_month, description)
            s.add(row)
            await s.flush()
            return row_view(row)

    def _one_off(
        self, tenant_id: str, item: Item, amount: Money, month: date, description: str
    ) -> OneOffCharge:
        return OneOffCharge(
            tenant_id=tenant_id,
            item=item.value,
            amount_yen=amount.yen,
            taxable=ITEMS[item].taxable,
            service_month=month_start(month),
            description=description,
            created_at=self.clock.now(),
        )

    async def add_surcharge(
        self, tenant_id: str, evaded: Money, month: date, description: str = ""
    ) -> list[View]:
        """Art. 25: bill the evaded fees and a surcharge of twice them, both with tax (R4.5)."""
        fees, extra = surcharge(evaded)
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id)
            rows = [
                self._one_off(tenant_id, Item.EVADED_FEES, fees, month, description),
                self._one_off(tenant_id, Item.SURCHARGE, extra, month, description),
            ]
            s.add_all(rows)
            await s.flush()
            return [row_view(r) for r in rows]

    # ---- call charges (Tariff 3) ----

    async def import_carrier_statement(
        self,
        carrier: str,
        rows: Sequence[StatementRow],
        cdr_counts: Mapping[str, int] | None = None,
    ) -> View:
        """Import a carrier's per-number monthly charges; reconcile call counts with Koe's CDRs.

        Each row is matched to the tenant owning the number. ``cdr_counts`` maps
        ``"<E.164>|<YYYY-MM>"`` to the number of calls Koe recorded; a difference is kept on
        the charge (``reconciliation``) and reported, never silently dropped.
        """
        imported: list[View] = []
        unknown: list[View] = []
        mismatches: list[View] = []
        async with self.db.transaction() as s:
            numbers = {
                n.e164: n.tenant_id
                for n in (
                    await s.execute(
                        select(PhoneNumber).where(
                            PhoneNumber.e164.in_([to_e164(r.number) for r in rows])
                        )
                    )
                ).scalars()
            }
            for row in rows:
                e164 = to_e164(row.number)
                month = month_start(row.usage_month)
                tenant_id = numbers.get(e164)
                if tenant_id is None:
                    unknown.append({"number": e164, "amount_yen": row.amount.yen})
                    continue
                existing = (
                    await s.execute(
                        select(CarrierCharge).where(
                            CarrierCharge.tenant_id == tenant_id,
                            CarrierCharge.carrier == carrier,
                            CarrierCharge.number == e164,
                            CarrierCharge.usage_month == month,
                            CarrierCharge.statement_ref == row.reference,
                        )
                    )
                ).scalar_one_or_none()
                if existing is not None:
                    continue
                key = f"{e164}|{month_label(month)}"
                koe_calls = None if cdr_counts is None else cdr_counts.get(key, 0)
                recon = {
                    "carrier_calls": row.calls,
                    "koe_calls": koe_calls,
                    "matches": koe_calls is None or koe_calls == row.calls,
                }
                charge = CarrierCharge(
                    tenant_id=tenant_id,
                    carrier=carrier,
                    usage_month=month,
                    number=e164,
                    calls=row.calls,
                    seconds=row.seconds,
                    amount_yen=row.amount.yen,
                    statement_ref=row.reference,
                    reconciliation=recon,
                    imported_at=self.clock.now(),
                )
                s.add(charge)
                await s.flush()
                imported.append(row_view(charge))
                if not recon["matches"]:
                    mismatches.append({"number": e164, "month": month_label(month), **recon})
        return {"imported": imported, "unknown_numbers": unknown, "mismatches": mismatches}

    # ---- outages (R4.7) ----

    async def record_outage(
        self,
        tenant_id: str,
        *,
        services: Sequence[str],
        cause: Cause,
        started_at: datetime,
        learned_at: datetime,
        ended_at: datetime,
        description: str = "",
    ) -> View:
        """Record a total outage and compute its credit (waiver; damages shown, not added)."""
        unknown = set(services) - set(_SERVICE_GROUPS)
        if not services or unknown:
            raise invalid(
                "services",
                "invalid_services",
                "停止したサービス(basic / recording_delivery / transcription)を指定してください。",
                "Name the services that were down: basic, recording_delivery, transcription.",
            )
        if not started_at <= learned_at <= ended_at:
            raise invalid(
                "learned_at",
                "invalid_outage_times",
                "発生 ≤ 認知 ≤ 回復 の順にしてください。",
                "Times must be started ≤ learned ≤ ended.",
            )
        month = month_start(learned_at.astimezone(JST).date())
        async with self.db.transaction() as s:
            tenant = await self._tenant(s, tenant_id)
            holdings = await self._rows(s, LicenseHolding, [tenant_id])
            subs = await self._rows(s, AddOnSubscription, [tenant_id])
            quotes = await self._rows(s, PriceQuote, [tenant_id])
            tariffs = await self._tariffs(s)
            use = monthly_use(
                month, holdings, subs, tenant.service_start_date, tenant.service_end_date
            )
            fee = Money(0)
            if use is not None:
                by_group = monthly_fees_by_group(
                    use, price_book(tariffs, quotes, month, month_end(month))
                )
                for service in set(services):
                    fee += by_group.get(_SERVICE_GROUPS[service], Money(0))
            since = add_months(started_at.astimezone(JST).date(), -12)
            paid = (
                await s.execute(
                    select(func.coalesce(func.sum(Payment.amount_yen), 0)).where(
                        Payment.tenant_id == tenant_id,
                        Payment.received_on >= since,
                        Payment.received_on < started_at.astimezone(JST).date(),
                    )
                )
            ).scalar_one()
            result: Credit = outage_credit(
                Cause(cause),
                learned_at,
                ended_at,
                fee,
                days_in_month(month),
                Money(int(paid)),
                self.divisor,
            )
            row = Outage(
                tenant_id=tenant_id,
                services=sorted(set(services)),
                cause=Cause(cause).value,
                started_at=started_at,
                learned_at=learned_at,
                ended_at=ended_at,
                month=month,
                description=description,
                rule=result.rule,
                monthly_fee_yen=fee.yen,
                waiver_yen=result.waiver.yen,
                damages_yen=result.damages.yen,
                applied_yen=0,
                explanation={
                    "ja": result.explanation_ja,
                    "en": result.explanation_en,
                    "counted_seconds": int(result.counted.total_seconds()),
                    "units": result.units,
                    "paid_last_12_months_yen": int(paid),
                },
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            view = row_view(row)
        await self._publish("billing.outage_recorded", tenant_id, view)
        return view

    # ---- the monthly run ----

    async def run_month(self, month: date, *, tenant_ids: Sequence[str] | None = None) -> RunReport:
        """Issue ``month``'s invoices to every tenant that owes something and has none yet."""
        started = time.perf_counter()
        month = month_start(month)
        report = RunReport(month=month_label(month))
        issued_on = jst_today(self.clock)
        async with self.db.transaction() as s:
            issuer = await self._issuer(s, issued_on)
            tariffs = await self._tariffs(s)
            rates = await self._tax_rates(s)
            run = BillingRun(month=month, started_at=self.clock.now())
            s.add(run)
            await s.flush()
            run_id = run.id
            candidates = await self._candidates(s, month, tenant_ids)
            done = set(
                (
                    await s.execute(
                        select(Invoice.tenant_id).where(
                            Invoice.month == month, Invoice.kind == "invoice"
                        )
                    )
                ).scalars()
            )
        todo = [t for t in candidates if t not in done]
        report.skipped = len(candidates) - len(todo)
        report.tenants = len(candidates)
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            async with self.db.transaction() as s:
                await self._bill_batch(
                    s, batch, month, issued_on, issuer, tariffs, rates, run_id, report
                )
        async with self.db.transaction() as s:
            await s.execute(
                update(BillingRun)
                .where(BillingRun.id == run_id)
                .values(
                    finished_at=self.clock.now(),
                    tenants=report.tenants,
                    invoices=report.invoices,
                    credit_notes=report.credit_notes,
                )
            )
        report.seconds = time.perf_counter() - started
        log.info(
            "billing run month=%s tenants=%d invoices=%d credit_notes=%d skipped=%d",
            report.month,
            report.tenants,
            report.invoices,
            report.credit_notes,
            report.skipped,
        )
        await self._publish(
            "billing.run_finished",
            None,
            {"month": report.month, "invoices": report.invoices, "skipped": report.skipped},
        )
        return report

    async def _candidates(
        self, s: AsyncSession, month: date, tenant_ids: Sequence[str] | None
    ) -> list[str]:
        last = month_end(month)
        running = select(Tenant.id).where(
            Tenant.service_start_date.is_not(None),
            Tenant.service_start_date <= last,
            or_(Tenant.service_end_date.is_(None), Tenant.service_end_date >= month),
        )
        found = set((await s.execute(running)).scalars())
        found.update(
            (
                await s.execute(
                    select(CarrierCharge.tenant_id).where(
                        CarrierCharge.invoice_id.is_(None), CarrierCharge.usage_month < month
                    )
                )
            ).scalars()
        )
        found.update(
            (
                await s.execute(
                    select(OneOffCharge.tenant_id).where(
                        OneOffCharge.invoice_id.is_(None), OneOffCharge.service_month <= month
                    )
                )
            ).scalars()
        )
        found.update(
            (
                await s.execute(
                    select(Outage.tenant_id).where(
                        Outage.waiver_yen > Outage.applied_yen, Outage.month < month
                    )
                )
            ).scalars()
        )
        if tenant_ids is not None:
            found &= set(tenant_ids)
        return sorted(found)

    async def _records(
        self, s: AsyncSession, tenant_ids: Sequence[str], month: date
    ) -> tuple[dict[str, Tenant], dict[str, TenantRecords]]:
        tenants = {
            t.id: t
            for t in (await s.execute(select(Tenant).where(Tenant.id.in_(tenant_ids)))).scalars()
        }
        by: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for model, key in (
            (LicenseHolding, "holdings"),
            (AddOnSubscription, "subscriptions"),
            (PriceQuote, "quotes"),
        ):
            for row in await self._rows(s, model, tenant_ids):
                by[row.tenant_id][key].append(row)
        open_rows: tuple[tuple[Any, Any, str], ...] = (
            (OneOffCharge, OneOffCharge.invoice_id.is_(None), "one_offs"),
            (CarrierCharge, CarrierCharge.invoice_id.is_(None), "charges"),
            (Outage, Outage.waiver_yen > Outage.applied_yen, "outages"),
        )
        for model, still_open, key in open_rows:
            stmt = select(model).where(model.tenant_id.in_(tenant_ids), still_open)
            for row in (await s.execute(stmt)).scalars():
                by[row.tenant_id][key].append(row)
        floor = add_months(month, -12)
        billed: dict[str, dict[tuple[str, date], int]] = defaultdict(dict)
        monthly = [i.value for i, info in ITEMS.items() if info.monthly]
        stmt = (
            select(
                InvoiceLine.tenant_id,
                InvoiceLine.item,
                InvoiceLine.service_month,
                func.sum(InvoiceLine.quantity),
            )
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(
                InvoiceLine.tenant_id.in_(tenant_ids),
                Invoice.kind == "invoice",
                Invoice.status == "issued",
                InvoiceLine.item.in_(monthly),
                InvoiceLine.service_month >= floor,
            )
            .group_by(InvoiceLine.tenant_id, InvoiceLine.item, InvoiceLine.service_month)
        )
        for tenant_id, item, service_month, quantity in (await s.execute(stmt)).all():
            if service_month is not None:
                billed[tenant_id][(item, service_month)] = int(quantity)
        issued: dict[str, list[tuple[date, datetime]]] = defaultdict(list)
        for tenant_id, inv_month, created in (
            await s.execute(
                select(Invoice.tenant_id, Invoice.month, Invoice.created_at).where(
                    Invoice.tenant_id.in_(tenant_ids),
                    Invoice.kind == "invoice",
                    Invoice.status == "issued",
                    Invoice.month >= floor,
                    Invoice.month < month,
                )
            )
        ).all():
            issued[tenant_id].append((inv_month, created))
        run_months = set(
            (
                await s.execute(
                    select(BillingRun.month).where(
                        BillingRun.month >= floor,
                        BillingRun.month < month,
                        BillingRun.finished_at.is_not(None),
                    )
                )
            ).scalars()
        )
        invoiced = {
            (tenant_id, m)
            for tenant_id, m in (
                await s.execute(
                    select(Invoice.tenant_id, Invoice.month).where(
                        Invoice.tenant_id.in_(tenant_ids),
                        Invoice.kind == "invoice",
                        Invoice.month >= floor,
                        Invoice.month < month,
                    )
                )
            ).all()
        }
        records: dict[str, TenantRecords] = {}
        for tenant_id, tenant in tenants.items():
            rows = by[tenant_id]
            changed = [
                r.created_at for r in (*rows["holdings"], *rows["subscriptions"], *rows["quotes"])
            ]
            latest = max(changed) if changed else None
            stale = sorted(
                {m for m, created in issued[tenant_id] if latest is not None and latest > created}
                # months whose run went out before this tenant's contract was entered
                | {m for m in run_months if (tenant_id, m) not in invoiced}
            )
            records[tenant_id] = TenantRecords(
                service_start=tenant.service_start_date,
                service_end=tenant.service_end_date,
                holdings=rows["holdings"],
                subscriptions=rows["subscriptions"],
                quotes=rows["quotes"],
                one_offs=rows["one_offs"],
                carrier_charges=rows["charges"],
                outages=rows["outages"],
                billed=billed[tenant_id],
                stale_months=stale,
            )
        return tenants, records

    async def _bill_batch(
        self,
        s: AsyncSession,
        tenant_ids: Sequence[str],
        month: date,
        issued_on: date,
        issuer: View,
        tariffs: Sequence[Tariff],
        rates: Sequence[TaxRate],
        run_id: str | None,
        report: RunReport,
    ) -> None:
        tenants, records = await self._records(s, tenant_ids, month)
        due_on = invoice_due_on(month, issued_on)
        invoices: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        one_off_links: list[dict[str, Any]] = []
        charge_links: list[dict[str, Any]] = []
        outage_applied: dict[str, int] = defaultdict(int)
        seqs = await self._next_seqs(s, tenant_ids, month)
        now = self.clock.now()
        for tenant_id in tenant_ids:
            tenant = tenants[tenant_id]
            comp = compose(month, records[tenant_id], tariffs, rates, due_on)
            documents: list[tuple[str, list[tuple[ChargeLine, str | None]]]] = []
            if comp.lines:
                documents.append(("invoice", [(line, None) for line in comp.lines]))
            ended = tenant.service_end_date is not None and tenant.service_end_date < month
            if ended and comp.pending_credits:
                refunds = refund_lines(comp.pending_credits, rates, due_on)
                documents.append(("credit_note", [(line, oid) for line, oid in refunds]))
                for line, outage_id in refunds:
                    outage_applied[outage_id] += -line.amount.yen
            for kind, doc_lines in documents:
                seq = seqs[(tenant_id, kind)]
                seqs[(tenant_id, kind)] += 1
                invoice_id, inv, rows = self._document(
                    tenant,
                    kind,
                    month,
                    seq,
                    issued_on,
                    due_on,
                    issuer,
                    [line for line, _ in doc_lines],
                    run_id,
                    now,
                )
                invoices.append(inv)
                lines += rows
                report.invoice_ids.append(invoice_id)
                if kind == "invoice":
                    report.invoices += 1
                    report.billed_yen += inv["total_yen"]
                    one_off_links += [{"b_id": i, "b_inv": invoice_id} for i in comp.one_off_ids]
                    charge_links += [
                        {"b_id": i, "b_inv": invoice_id} for i in comp.carrier_charge_ids
                    ]
                    for outage_id, yen in comp.credits:
                        outage_applied[outage_id] += yen
                else:
                    report.credit_notes += 1
        if invoices:
            await s.execute(insert(Invoice), invoices)
            await s.execute(insert(InvoiceLine), lines)
        await self._link(s, OneOffCharge, one_off_links)
        await self._link(s, CarrierCharge, charge_links)
        for outage_id, yen in outage_applied.items():
            await s.execute(
                update(Outage)
                .where(Outage.id == outage_id)
                .values(applied_yen=Outage.applied_yen + yen)
            )

    async def _link(self, s: AsyncSession, model: Any, links: list[dict[str, Any]]) -> None:
        if not links:
            return
        table = model.__table__
        stmt = (
            table.update()
            .where(table.c.id == bindparam("b_id"))
            .values(invoice_id=bindparam("b_inv"))
        )
        await s.execute(stmt, links)

    async def _next_seqs(
        self, s: AsyncSession, tenant_ids: Sequence[str], month: date
    ) -> dict[tuple[str, str], int]:
        seqs: dict[tuple[str, str], int] = defaultdict(lambda: 1)
        for tenant_id, kind, top in (
            await s.execute(
                select(Invoice.tenant_id, Invoice.kind, func.max(Invoice.seq))
                .where(Invoice.tenant_id.in_(tenant_ids), Invoice.month == month)
                .group_by(Invoice.tenant_id, Invoice.kind)
            )
        ).all():
            seqs[(tenant_id, kind)] = int(top) + 1
        return seqs

    def _document(
        self,
        tenant: Tenant,
        kind: str,
        month: date,
        seq: int,
        issued_on: date,
        due_on: date,
        issuer: View,
        doc_lines: Sequence[ChargeLine],
        run_id: str | None,
        now: datetime,
        corrects_id: str | None = None,
        note: str = "",
    ) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        invoice_id = new_id()
        result = totals(doc_lines)
        inv = {
            "id": invoice_id,
            "tenant_id": tenant.id,
            "number": invoice_number(kind, month, tenant.code, seq),
            "kind": kind,
            "status": "issued",
            "month": month,
            "seq": seq,
            "issued_on": issued_on,
            "due_on": due_on,
            "recipient": {
                "code": tenant.code,
                "name": tenant.billing_name or tenant.company_name,
                "postal_code": tenant.billing_postal_code or tenant.postal_code or "",
                "address": tenant.billing_address or tenant.address,
            },
            "issuer": issuer,
            "subtotal_yen": result.subtotal.yen,
            "tax_yen": result.tax.yen,
            "total_yen": result.total.yen,
            "tax_breakdown": _tax_breakdown(result),
            "corrects_id": corrects_id,
            "note": note,
            "run_id": run_id,
            "created_at": now,
        }
        rows = [
            {
                "id": new_id(),
                "tenant_id": tenant.id,
                "invoice_id": invoice_id,
                "position": position,
                "item": line.item.value,
                "description_ja": line.description_ja[:300],
                "description_en": line.description_en[:300],
                "service_month": line.service_month,
                "quantity": line.quantity,
                "unit_price_yen": None if line.unit_price is None else line.unit_price.yen,
                "amount_yen": line.amount.yen,
                "tax_rate": _rate_text(line.tax_rate),
                "due_on": line.due_on,
                "source": line.source,
            }
            for position, line in enumerate(doc_lines, start=1)
        ]
        return invoice_id, inv, rows

    # ---- corrections ----

    async def correct_invoice(self, tenant_id: str, invoice_id: str, reason: str) -> View:
        """Cancel an invoice with a credit note and issue a new one for the same month."""
        issued_on = jst_today(self.clock)
        async with self.db.transaction() as s:
            tenant = await self._tenant(s, tenant_id, lock=True)
            original = await self._invoice(s, tenant_id, invoice_id)
            if original.kind != "invoice" or original.status != "issued":
                raise InvoiceNotCorrectable(
                    "invoice_not_correctable",
                    "この請求書は訂正できません(取消済みまたは貸方票)。",
                    "This invoice cannot be corrected (already cancelled, or a credit note).",
                )
            issuer = await self._issuer(s, issued_on)
            tariffs = await self._tariffs(s)
            rates = await self._tax_rates(s)
            old_lines = await self._lines(s, tenant_id, original.id)
            month = original.month
            seqs = await self._next_seqs(s, [tenant_id], month)
            now = self.clock.now()
            negated = [
                ChargeLine(
                    item=Item(line.item),
                    quantity=line.quantity,
                    unit_price=None if line.unit_price_yen is None else Money(line.unit_price_yen),
                    amount=Money(-line.amount_yen),
                    tax_rate=_rate(line.tax_rate),
                    service_month=line.service_month,
                    due_on=line.due_on,
                    source=line.source,
                    description_ja=line.description_ja,
                    description_en=line.description_en,
                )
                for line in old_lines
            ]
            cn_id, cn, cn_rows = self._document(
                tenant,
                "credit_note",
                month,
                seqs[(tenant_id, "credit_note")],
                issued_on,
                issued_on,
                issuer,
                negated,
                None,
                now,
                corrects_id=original.id,
                note=reason,
            )
            await s.execute(insert(Invoice), [cn])
            await s.execute(insert(InvoiceLine), cn_rows)
            original.status = "credited"
            await s.execute(
                update(OneOffCharge)
                .where(OneOffCharge.tenant_id == tenant_id, OneOffCharge.invoice_id == original.id)
                .values(invoice_id=None)
            )
            await s.execute(
                update(CarrierCharge)
                .where(
                    CarrierCharge.tenant_id == tenant_id, CarrierCharge.invoice_id == original.id
                )
                .values(invoice_id=None)
            )
            for line in old_lines:
                if line.source.startswith("outage:"):
                    await s.execute(
                        update(Outage)
                        .where(Outage.tenant_id == tenant_id, Outage.id == line.source[7:])
                        .values(applied_yen=Outage.applied_yen + line.amount_yen)
                    )
            await s.flush()
            _, records = await self._records(s, [tenant_id], month)
            due_on = max(original.due_on, invoice_due_on(month, issued_on))
            comp: Composition = compose(month, records[tenant_id], tariffs, rates, due_on)
            new_id_, new_inv, new_rows = self._document(
                tenant,
                "invoice",
                month,
                seqs[(tenant_id, "invoice")],
                issued_on,
                due_on,
                issuer,
                comp.lines,
                None,
                now,
                corrects_id=original.id,
                note=reason,
            )
            await s.execute(insert(Invoice), [new_inv])
            if new_rows:
                await s.execute(insert(InvoiceLine), new_rows)
            await self._link(
                s, OneOffCharge, [{"b_id": i, "b_inv": new_id_} for i in comp.one_off_ids]
            )
            await self._link(
                s, CarrierCharge, [{"b_id": i, "b_inv": new_id_} for i in comp.carrier_charge_ids]
            )
            for outage_id, yen in comp.credits:
                await s.execute(
                    update(Outage)
                    .where(Outage.id == outage_id)
                    .values(applied_yen=Outage.applied_yen + yen)
                )
            await self._move_allocations(s, tenant_id, original.id, new_id_, new_inv["total_yen"])
            result = {"credit_note_id": cn_id, "invoice_id": new_id_, "reason": reason}
        await self._publish("billing.invoice_corrected", tenant_id, result)
        return result

    async def _move_allocations(
        self, s: AsyncSession, tenant_id: str, old_id: str, new_id_: str, new_total: int
    ) -> None:
        """Money paid on a cancelled invoice counts toward its replacement; any excess is
        left unapplied on the payment (a credit balance of the tenant)."""
        allocations = (
            (
                await s.execute(
                    select(PaymentAllocation)
                    .where(
                        PaymentAllocation.tenant_id == tenant_id,
                        PaymentAllocation.invoice_id == old_id,
                    )
                    .order_by(PaymentAllocation.on, PaymentAllocation.id)
                )
            )
            .scalars()
            .all()
        )
        room = new_total
        for alloc in allocations:
            alloc.invoice_id = new_id_
            keep = min(alloc.to_principal_yen, room)
            excess = alloc.to_principal_yen - keep
            room -= keep
            if excess:
                alloc.to_principal_yen = keep
                payment = await s.get(Payment, alloc.payment_id)
                if payment is not None:
                    payment.unapplied_yen += excess

    # ---- reading invoices ----

    async def invoice(self, tenant_id: str, invoice_id: str) -> View:
        """One invoice or credit note of ``tenant_id`` with its lines."""
        async with self.db.transaction() as s:
            inv = await self._invoice(s, tenant_id, invoice_id)
            return self._invoice_view(inv, await self._lines(s, tenant_id, inv.id))

    async def invoices(self, tenant_id: str | None = None, month: date | None = None) -> list[View]:
        """Invoices and credit notes (all tenants for the operator), with their lines."""
        return (await self.invoice_page(tenant_id, month))[0]

    async def invoice_page(
        self,
        tenant_id: str | None = None,
        month: date | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[View], int]:
        """One page of ``invoices`` (by month, then number) and how many there are in all."""
        async with self.db.transaction() as s:
            stmt = select(Invoice)
            if tenant_id is not None:
                stmt = stmt.where(Invoice.tenant_id == tenant_id)
            if month is not None:
                stmt = stmt.where(Invoice.month == month_start(month))
            total = (
                await s.execute(select(func.count()).select_from(stmt.subquery()))
            ).scalar_one()
            stmt = stmt.order_by(Invoice.month, Invoice.number).offset(offset).limit(limit)
            rows = (await s.execute(stmt)).scalars().all()
            lines = await self._children(
                s, InvoiceLine.invoice_id, [r.id for r in rows], InvoiceLine.position
            )
            return [self._invoice_view(r, lines[r.id]) for r in rows], int(total)

    async def _children(
        self, s: AsyncSession, parent: Any, ids: Sequence[str], *order: Any
    ) -> dict[str, list[Any]]:
        """Rows whose ``parent`` column is one of ``ids``, grouped by it (read in batches)."""
        found: dict[str, list[Any]] = defaultdict(list)
        for start in range(0, len(ids), BATCH):
            for row in (
                await s.execute(
                    select(parent.class_)
                    .where(parent.in_(ids[start : start + BATCH]))
                    .order_by(*order)
                )
            ).scalars():
                found[getattr(row, parent.key)].append(row)
        return found

    async def find_invoice(self, key: str) -> View:
        """An invoice or credit note of any tenant by id or number (the operator's look-up)."""
        async with self.db.transaction() as s:
            inv = (
                await s.execute(
                    select(Invoice).where(or_(Invoice.id == key, Invoice.number == key))
                )
            ).scalar_one_or_none()
            if inv is None:
                raise invoice_not_found()
            return self._invoice_view(inv, await self._lines(s, inv.tenant_id, inv.id))

    def _invoice_view(self, inv: Invoice, lines: Sequence[InvoiceLine]) -> View:
        view = row_view(inv)
        view["lines"] = [row_view(line) for line in sorted(lines, key=lambda x: x.position)]
        return view

    async def invoice_pdf(self, tenant_id: str, invoice_id: str, lang: str = "ja") -> bytes:
        """The invoice as a PDF in Japanese (or English), fonts embedded (R4.2 format)."""
        return render_invoice(await self.invoice(tenant_id, invoice_id), lang)

    async def export_invoices_csv(self, month: date) -> bytes:
        """Every invoice and credit note of ``month`` as CSV (UTF-8 with BOM)."""
        return invoices_csv(await self.invoices(month=month))

    async def export_lines_csv(self, month: date) -> bytes:
        """Every line of ``month``'s invoices and credit notes as CSV (UTF-8 with BOM)."""
        return lines_csv(await self.invoices(month=month))

    # ---- payments (R4.4, Art. 26, 27) ----

    async def record_payment(
        self,
        tenant_id: str,
        amount: Money,
        received_on: date,
        *,
        method: str = "api",
        payer_name: str = "",
        reference: str = "",
        statement: Mapping[str, Any] | None = None,
    ) -> View:
        """Record money received and apply it to the oldest open invoices, interest first."""
        if amount.yen <= 0:
            raise invalid("amount", "invalid_amount", "金額が不正です。", "Invalid amount.")
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id, lock=True)
            view = await self._apply_payment(
                s, tenant_id, amount, received_on, method, payer_name, reference, statement
            )
        await self._publish("billing.payment_recorded", tenant_id, view)
        if view["settled"]:
            await self._publish("billing.tenant_settled", tenant_id, {"on": view["received_on"]})
        return view

    async def payments(self, tenant_id: str) -> list[View]:
        """Payments and offsets of ``tenant_id``, oldest first, with where each went."""
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(Payment)
                    .where(Payment.tenant_id == tenant_id)
                    .order_by(Payment.received_on, Payment.created_at, Payment.id)
                )
            ).scalars()
            return await self._payment_views(s, list(rows))

    async def payment(self, tenant_id: str, payment_id: str) -> View:
        """One payment of ``tenant_id``; another tenant's is not found."""
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(Payment).where(Payment.tenant_id == tenant_id, Payment.id == payment_id)
                )
            ).scalar_one_or_none()
            if row is None:
                raise not_found("入金", "Payment")
            return (await self._payment_views(s, [row]))[0]

    async def _payment_views(self, s: AsyncSession, rows: Sequence[Payment]) -> list[View]:
        allocations = await self._children(
            s,
            PaymentAllocation.payment_id,
            [r.id for r in rows],
            PaymentAllocation.on,
            PaymentAllocation.id,
        )
        return [
            {**row_view(r), "allocations": [row_view(a) for a in allocations[r.id]]} for r in rows
        ]

    async def _apply_payment(
        self,
        s: AsyncSession,
        tenant_id: str,
        amount: Money,
        received_on: date,
        method: str,
        payer_name: str,
        reference: str,
        statement: Mapping[str, Any] | None,
    ) -> View:
        payment = Payment(
            tenant_id=tenant_id,
            method=method,
            received_on=received_on,
            amount_yen=amount.yen,
            payer_name=payer_name,
            reference=reference,
            unapplied_yen=0,
            flags=[],
            statement=dict(statement or {}),
            created_at=self.clock.now(),
        )
        s.add(payment)
        await s.flush()
        debts = await self._debts(s, tenant_id, received_on)
        # A payment naming an invoice goes to that invoice first.
        debts.sort(key=lambda d: (d[0].number not in reference, d[0].due_on, d[0].number))
        left = amount
        allocations = []
        open_total = Money(sum(d[1].outstanding.yen for d in debts))
        for inv, state in debts:
            if left.yen <= 0:
                break
            to_interest = min(left, state.interest_outstanding)
            left -= to_interest
            to_principal = min(left, state.principal_outstanding)
            left -= to_principal
            if to_interest.yen or to_principal.yen:
                allocations.append(
                    PaymentAllocation(
                        tenant_id=tenant_id,
                        payment_id=payment.id,
                        invoice_id=inv.id,
                        on=received_on,
                        to_interest_yen=to_interest.yen,
                        to_principal_yen=to_principal.yen,
                    )
                )
        s.add_all(allocations)
        payment.unapplied_yen = left.yen
        flags = []
        if short_by_bank_fee(open_total, amount, self.bank_fees):
            flags.append("short_by_bank_fee")
        if left.yen:
            flags.append("overpaid")
        payment.flags = flags
        await s.flush()
        view = row_view(payment)
        view["allocations"] = [row_view(a) for a in allocations]
        view["settled"] = (open_total - amount + left).yen <= 0
        return view

    async def _debts(
        self, s: AsyncSession, tenant_id: str, as_of: date
    ) -> list[tuple[Invoice, DebtState]]:
        invoices = (
            (
                await s.execute(
                    select(Invoice).where(
                        Invoice.tenant_id == tenant_id,
                        Invoice.kind == "invoice",
                        Invoice.status == "issued",
                        Invoice.total_yen > 0,
                    )
                )
            )
            .scalars()
            .all()
        )
        paid: dict[str, list[Settlement]] = defaultdict(list)
        for alloc in (
            await s.execute(
                select(PaymentAllocation).where(PaymentAllocation.tenant_id == tenant_id)
            )
        ).scalars():
            paid[alloc.invoice_id].append(
                Settlement(alloc.on, Money(alloc.to_interest_yen + alloc.to_principal_yen))
            )
        out = []
        for inv in invoices:
            state = settle(Money(inv.total_yen), inv.due_on, paid[inv.id], as_of)
            if state.outstanding.yen > 0:
                out.append((inv, state))
        return out

    async def import_transfers(self, data: bytes) -> TransferReport:
        """Import a bank CSV: match payers by half-width kana name, record payments (R4.4)."""
        try:
            rows = parse_transfers(data)
        except TransferFileError as err:
            raise invalid(
                "file",
                "invalid_transfer_file",
                f"振込明細CSVを読めません: {err}(取引日・入金額・振込依頼人名の列が必要です)",
                f"Cannot read the bank transfer CSV: {err} "
                "(it needs date, amount and payer columns).",
            ) from err
        report = TransferReport(rows=len(rows))
        async with self.db.transaction() as s:
            tenants = [
                t
                for t in (await s.execute(select(Tenant))).scalars()
                if t.company_name_kana and t.service_start_date is not None
            ]
            for row in rows:
                duplicate = (
                    await s.execute(
                        select(func.count())
                        .select_from(Payment)
                        .where(
                            Payment.method == "transfer",
                            Payment.received_on == row.received_on,
                            Payment.amount_yen == row.amount.yen,
                            Payment.payer_name == row.payer,
                            Payment.reference == row.reference,
                        )
                    )
                ).scalar_one()
                if duplicate:
                    report.duplicates += 1
                    continue
                matches = [t for t in tenants if names_match(row.payer, t.company_name_kana or "")]
                if len(matches) > 1:
                    matches = [
                        t
                        for t in matches
                        if any(
                            st.outstanding == row.amount
                            or short_by_bank_fee(st.outstanding, row.amount, self.bank_fees)
                            for _, st in await self._debts(s, t.id, row.received_on)
                        )
                    ]
                if len(matches) != 1:
                    reason = "no_match" if not matches else "ambiguous"
                    s.add(
                        UnmatchedTransfer(
                            received_on=row.received_on,
                            amount_yen=row.amount.yen,
                            payer_name=row.payer,
                            reference=row.reference,
                            reason=reason,
                            imported_at=self.clock.now(),
                        )
                    )
                    report.unmatched.append(
                        {"line": row.line, "payer": row.payer, "reason": reason}
                    )
                    continue
                view = await self._apply_payment(
                    s,
                    matches[0].id,
                    row.amount,
                    row.received_on,
                    "transfer",
                    row.payer,
                    row.reference,
                    None,
                )
                view["line"] = row.line
                report.matched.append(view)
        for view in report.matched:
            await self._publish("billing.payment_recorded", view["tenant_id"], view)
            if view["settled"]:
                await self._publish("billing.tenant_settled", view["tenant_id"], {})
        return report

    async def record_offset(
        self,
        tenant_id: str,
        amount: Money,
        on: date,
        *,
        operator_debt: str,
    ) -> View:
        """Art. 27: set off what the operator owes the tenant against what it is owed.

        Recorded as a settlement (method ``offset``) with a statement of the offset (相殺明細)
        that serves as the written notice of Art. 27-2.
        """
        statement = {
            "title_ja": "相殺明細書",
            "title_en": "Statement of offset",
            "article": "27",
            "amount_yen": amount.yen,
            "on": on.isoformat(),
            "operator_debt": operator_debt,
        }
        return await self.record_payment(
            tenant_id, amount, on, method="offset", reference=operator_debt, statement=statement
        )

    async def balance(self, tenant_id: str, as_of: date | None = None) -> list[View]:
        """Every open invoice of ``tenant_id`` with principal, interest and days overdue."""
        day = as_of or jst_today(self.clock)
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id)
            return [
                {
                    "invoice_id": inv.id,
                    "number": inv.number,
                    "due_on": inv.due_on.isoformat(),
                    "total_yen": inv.total_yen,
                    "principal_outstanding_yen": st.principal_outstanding.yen,
                    "interest_accrued_yen": st.interest_accrued.yen,
                    "interest_outstanding_yen": st.interest_outstanding.yen,
                    "days_overdue": st.days_overdue,
                }
                for inv, st in sorted(
                    await self._debts(s, tenant_id, day), key=lambda d: d[0].due_on
                )
            ]

    async def aging(self, as_of: date | None = None) -> list[View]:
        """Accounts receivable by tenant: not due, 1–30, 31–60, 61–90, over 90 days overdue."""
        day = as_of or jst_today(self.clock)
        out: list[View] = []
        async with self.db.transaction() as s:
            tenant_ids = sorted(
                set(
                    (
                        await s.execute(
                            select(Invoice.tenant_id).where(
                                Invoice.kind == "invoice", Invoice.status == "issued"
                            )
                        )
                    ).scalars()
                )
            )
            codes = {
                tid: code for tid, code in (await s.execute(select(Tenant.id, Tenant.code))).all()
            }
            for tenant_id in tenant_ids:
                buckets = dict.fromkeys(("current", "1_30", "31_60", "61_90", "over_90"), 0)
                interest = 0
                for inv, st in await self._debts(s, tenant_id, day):
                    late = (day - inv.due_on).days
                    key = (
                        "current"
                        if late <= 0
                        else "1_30"
                        if late <= 30
                        else "31_60"
                        if late <= 60
                        else "61_90"
                        if late <= 90
                        else "over_90"
                    )
                    buckets[key] += st.principal_outstanding.yen
                    interest += st.interest_outstanding.yen
                if any(buckets.values()) or interest:
                    out.append(
                        {
                            "tenant_id": tenant_id,
                            "code": codes.get(tenant_id, ""),
                            **{f"{k}_yen": v for k, v in buckets.items()},
                            "interest_yen": interest,
                            "total_yen": sum(buckets.values()) + interest,
                        }
                    )
        return out

    async def outages(self, tenant_id: str) -> list[View]:
        """Outages recorded for ``tenant_id`` with their credits, oldest first."""
        return await self._tenant_rows(Outage, tenant_id, Outage.started_at)

    async def quotes(self, tenant_id: str) -> list[View]:
        """Individual quotes of ``tenant_id`` (Art. 21-5), oldest first."""
        return await self._tenant_rows(PriceQuote, tenant_id, PriceQuote.effective_from)

    async def unmatched_transfers(self) -> list[View]:
        """Bank credits no tenant could be matched to, for the operator to resolve."""
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(UnmatchedTransfer).order_by(
                        UnmatchedTransfer.received_on, UnmatchedTransfer.id
                    )
                )
            ).scalars()
            return [row_view(r) for r in rows]

    async def _tenant_rows(self, model: Any, tenant_id: str, order: Any) -> list[View]:
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id)
            rows = (
                await s.execute(
                    select(model).where(model.tenant_id == tenant_id).order_by(order, model.id)
                )
            ).scalars()
            return [row_view(r) for r in rows]

    # ---- transcription plan (R2.1) ----

    async def transcription_usage(self, tenant_id: str, month: date, minutes: int) -> QuotaState:
        """Check metered minutes against the plan; past it apply the tenant's choice (R2.1).

        With ``buy_unit`` (tenant setting ``transcription_over_plan``), the units needed are
        added from the 1st of the month (charged for the whole month).
        """
        month = month_start(month)
        async with self.db.transaction() as s:
            tenant = await self._tenant(s, tenant_id, lock=True)
            subs = [
                sub
                for sub in await self._rows(s, AddOnSubscription, [tenant_id])
                if sub.addon is AddOn.TRANSCRIPTION
                and sub.starts_on <= month_end(month)
                and (sub.ends_on is None or sub.ends_on >= month)
            ]
            units = sum(sub.units for sub in subs)
            choice = OverPlan(tenant.settings.get("transcription_over_plan", OverPlan.HOLD.value))
            state = transcription_quota(units, minutes, choice)
            if state.buy_units and subs:
                s.add(
                    AddOnSubscription(
                        tenant_id=tenant_id,
                        addon=AddOn.TRANSCRIPTION,
                        units=state.buy_units,
                        starts_on=month,
                        ends_on=subs[0].ends_on,
                        created_at=self.clock.now(),
                    )
                )
        if state.alerts:
            await self._publish(
                "billing.transcription_quota",
                tenant_id,
                {"alerts": list(state.alerts), "used": minutes, "plan": state.plan_minutes},
            )
        return state

    # ---- helpers ----

    async def _tenant(self, s: AsyncSession, tenant_id: str, *, lock: bool = False) -> Tenant:
        stmt = select(Tenant).where(Tenant.id == tenant_id)
        if lock and self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        tenant = (await s.execute(stmt)).scalar_one_or_none()
        if tenant is None:
            raise not_found("テナント", "Tenant")
        return tenant

    async def _invoice(self, s: AsyncSession, tenant_id: str, invoice_id: str) -> Invoice:
        inv = (
            await s.execute(
                select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
            )
        ).scalar_one_or_none()
        if inv is None:
            raise invoice_not_found()
        return inv

    async def _lines(self, s: AsyncSession, tenant_id: str, invoice_id: str) -> list[InvoiceLine]:
        return list(
            (
                await s.execute(
                    select(InvoiceLine)
                    .where(InvoiceLine.tenant_id == tenant_id, InvoiceLine.invoice_id == invoice_id)
                    .order_by(InvoiceLine.position)
                )
            )
            .scalars()
            .all()
        )

    async def _rows(self, s: AsyncSession, model: Any, tenant_ids: Iterable[str]) -> list[Any]:
        ids = list(tenant_ids)
        return list((await s.execute(select(model).where(model.tenant_id.in_(ids)))).scalars())

    async def _tariffs(self, s: AsyncSession) -> list[Tariff]:
        return [
            Tariff(v.effective_from, {Item(k): Money(int(p)) for k, p in v.prices.items()})
            for v in (await s.execute(select(TariffVersion))).scalars()
        ]

    async def _tax_rates(self, s: AsyncSession) -> list[TaxRate]:
        return [
            TaxRate(r.effective_from, Decimal(r.rate))
            for r in (await s.execute(select(TaxRateVersion))).scalars()
        ]

    async def _issuer(self, s: AsyncSession, day: date) -> View:
        row = (
            await s.execute(
                select(BillingIssuer)
                .where(BillingIssuer.effective_from <= day)
                .order_by(BillingIssuer.effective_from.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            raise IssuerMissing(
                "billing_issuer_missing",
                "請求書の発行者(名称と登録番号)が設定されていません。",
                "The invoice issuer (name and registration number) is not set.",
            )
        return {
            "name": row.name,
            "registration_number": row.registration_number,
            "address": row.address,
            "phone": row.phone,
            "bank_account": row.bank_account,
        }

    async def _publish(self, kind: str, tenant_id: str | None, data: View) -> None:
        await self.bus.publish(Event(kind, tenant_id, self.clock.now(), data))
