"""The operator's back office: contracts (R3.*) and billing (R4.*).

Every route is for operator staff (tenant users get 403); tariff, issuer, tax rates and
abolitions for operator admins. Handlers authenticate, take the tenant, validate the body
and make one service call; the rules live in ``koe.contracts`` and ``koe.billing``.
"""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile, status

from koe.api import backoffice_schemas as b
from koe.api.account import add_account_routes, invoice_page
from koe.api.deps import Action, ObjectId, Scope, Svc, operated_tenant, operator, operator_admin
from koe.api.schemas import AddOnOut, PageOut
from koe.billing.service import StatementRow
from koe.contracts.rules import DocumentIn
from koe.core.clock import jst_today
from koe.core.money import Money
from koe.core.months import parse_month
from koe.identity.sessions import Principal

router = APIRouter(prefix="/operator", dependencies=[Depends(operator)])

Operator = Annotated[Principal, Depends(operator)]
OperatorAdmin = Annotated[Principal, Depends(operator_admin)]
Tenant = Annotated[Scope, Depends(operated_tenant("billing", Action.WRITE))]
CREATED = status.HTTP_201_CREATED
CONTRACTS: list[str | Enum] = ["contracts"]
BILLING: list[str | Enum] = ["billing"]


def staff(caller: Principal) -> str:
    """How a member of staff is named in the records."""
    return f"operator:{caller.login}"


def csv_response(data: bytes, name: str) -> Response:
    """A CSV download (UTF-8 with BOM, as the exports write it)."""
    return Response(
        content=data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- applications and review (Art. 9–11) ----


@router.post("/applications", response_model=b.ApplicationOut, status_code=CREATED, tags=CONTRACTS)
async def submit_application(body: b.ApplicationIn, caller: Operator, svc: Svc) -> dict[str, Any]:
    """File an application with every R3.1 field and the identity documents (Art. 9)."""
    return await svc.contracts.submit_application(
        body.company.model_dump(),
        [c.model_dump() for c in body.contacts],
        body.requested.model_dump(),
        submitted_by=staff(caller),
        go_live_date=body.go_live_date,
        usage_breakdown=body.usage_breakdown,
        sales_agent=body.sales_agent,
        uses_operator_numbers=body.uses_operator_numbers,
        anti_social_attested=body.anti_social_attested,
        documents=[
            DocumentIn(d.kind, d.issued_on, d.filename, d.content_base64, d.content_type)
            for d in body.documents
        ],
        custom_setup_yen=body.custom_setup_yen,
    )


@router.get("/applications", response_model=list[b.ApplicationOut], tags=CONTRACTS)
async def list_applications(
    query: Annotated[b.ApplicationQuery, Query()], svc: Svc
) -> list[dict[str, Any]]:
    """Applications of every tenant (e.g. ``status=submitted``: waiting for review)."""
    return await svc.contracts.applications(status=query.status)


@router.get(
    "/tenants/{tenant_id}/applications", response_model=list[b.ApplicationOut], tags=CONTRACTS
)
async def tenant_applications(scope: Tenant, svc: Svc) -> list[dict[str, Any]]:
    """The tenant's applications with their documents described."""
    return await svc.contracts.applications(scope.tenant_id)


@router.post(
    "/tenants/{tenant_id}/applications/{object_id}/accept",
    response_model=b.ApplicationOut,
    tags=CONTRACTS,
)
async def accept_application(
    scope: Tenant, object_id: ObjectId, body: b.AcceptIn, svc: Svc
) -> dict[str, Any]:
    """Accept: the contract forms; service starts on the 1st of the go-live month (Art. 11)."""
    return await svc.contracts.accept(
        scope.tenant_id, object_id, reviewed_by=staff(scope.caller), go_live=body.go_live
    )


@router.post(
    "/tenants/{tenant_id}/applications/{object_id}/reject",
    response_model=b.ApplicationOut,
    tags=CONTRACTS,
)
async def reject_application(
    scope: Tenant, object_id: ObjectId, body: b.RejectIn, svc: Svc
) -> dict[str, Any]:
    """Reject for a reason of Art. 10-1; the applicant is notified."""
    return await svc.contracts.reject(
        scope.tenant_id, object_id, body.reason, reviewed_by=staff(scope.caller), note=body.note
    )


# ---- changes (Art. 12–14) ----


@router.post(
    "/tenants/{tenant_id}/changes",
    response_model=b.ChangeOut,
    status_code=CREATED,
    tags=CONTRACTS,
)
async def request_change(scope: Tenant, body: b.ChangeIn, svc: Svc) -> dict[str, Any]:
    """File a dated change; the lead times of Art. 12 are enforced."""
    return await svc.contracts.request_change(
        scope.tenant_id, body.kind, body.effective_on, body.payload, filed_on=body.filed_on
    )


@router.get("/tenants/{tenant_id}/changes", response_model=list[b.ChangeOut], tags=CONTRACTS)
async def list_changes(scope: Tenant, svc: Svc) -> list[dict[str, Any]]:
    """The tenant's change requests."""
    return await svc.contracts.changes(scope.tenant_id)


@router.post(
    "/tenants/{tenant_id}/changes/{object_id}/accept", response_model=b.ChangeOut, tags=CONTRACTS
)
async def accept_change(scope: Tenant, object_id: ObjectId, svc: Svc) -> dict[str, Any]:
    """Accept a change and apply its dated effect."""
    return await svc.contracts.accept_change(scope.tenant_id, object_id)


@router.post(
    "/tenants/{tenant_id}/changes/{object_id}/refuse", response_model=b.ChangeOut, tags=CONTRACTS
)
async def refuse_change(
    scope: Tenant, object_id: ObjectId, body: b.RefuseIn, svc: Svc
) -> dict[str, Any]:
    """Refuse a change for a reason of Art. 10-1 (Art. 12-5); the tenant is notified."""
    return await svc.contracts.refuse_change(scope.tenant_id, object_id, body.reason)


# ---- suspension, pause, interruption (Art. 16–18, 34–36) ----


@router.post(
    "/tenants/{tenant_id}/suspensions",
    response_model=b.RestrictionOut,
    status_code=CREATED,
    tags=CONTRACTS,
)
async def suspend(scope: Tenant, body: b.SuspensionIn, svc: Svc) -> dict[str, Any]:
    """Suspend the service or an add-on (Art. 16, 34); fees keep accruing."""
    return await svc.contracts.suspend(
        scope.tenant_id,
        body.reason,
        body.starts_at,
        body.ends_at,
        until_paid=body.until_paid,
        addon=body.addon,
        detail=body.detail,
    )


@router.post(
    "/tenants/{tenant_id}/pauses",
    response_model=b.RestrictionOut,
    status_code=CREATED,
    tags=CONTRACTS,
)
async def pause(scope: Tenant, body: b.PauseIn, svc: Svc) -> dict[str, Any]:
    """Pause the service or an add-on (Art. 17, 35), announced with reason and period."""
    return await svc.contracts.pause(
        scope.tenant_id,
        body.reason,
        body.starts_at,
        body.ends_at,
        addon=body.addon,
        detail=body.detail,
    )


@router.post(
    "/tenants/{tenant_id}/interruptions",
    response_model=b.RestrictionOut,
    status_code=CREATED,
    tags=CONTRACTS,
)
async def interrupt(scope: Tenant, body: b.InterruptionIn, svc: Svc) -> dict[str, Any]:
    """Interrupt at the tenant's request (Art. 18, 36)."""
    return await svc.contracts.interrupt(
        scope.tenant_id, body.starts_at, body.ends_at, addon=body.addon
    )


@router.post(
    "/tenants/{tenant_id}/restrictions/{object_id}/lift",
    response_model=b.RestrictionOut,
    tags=CONTRACTS,
)
async def lift_restriction(scope: Tenant, object_id: ObjectId, svc: Svc) -> dict[str, Any]:
    """End a restriction now (the record stays, with when it was lifted)."""
    return await svc.tenants.lift_restriction(scope.tenant_id, object_id)


@router.get("/tenants/{tenant_id}/allowance", response_model=b.AllowanceOut, tags=CONTRACTS)
async def allowance(scope: Tenant, svc: Svc) -> dict[str, Any]:
    """What the tenant may do now (calls, logins, add-ons) and the restrictions in force."""
    allowed = await svc.tenants.allowance(scope.tenant_id)
    return {**asdict(allowed), "addons": sorted(allowed.addons)}


# ---- cancellation and termination (Art. 19, 20) ----


@router.post("/tenants/{tenant_id}/cancellation", response_model=b.ContractEndOut, tags=CONTRACTS)
async def cancel(scope: Tenant, body: b.CancellationIn, svc: Svc) -> dict[str, Any]:
    """Cancel at a month end, filed ≥ 1 month ahead (Art. 19); add-ons end with it."""
    return await svc.contracts.cancel(scope.tenant_id, body.leave_on, filed_on=body.filed_on)


@router.post("/tenants/{tenant_id}/termination", response_model=b.ContractEndOut, tags=CONTRACTS)
async def terminate(scope: Tenant, body: b.TerminationIn, svc: Svc) -> dict[str, Any]:
    """Terminate on an Art. 20 ground with written notice; fees to the month end (Art. 24)."""
    return await svc.contracts.terminate(
        scope.tenant_id,
        body.ground,
        body.effective_on,
        noticed_on=body.noticed_on,
        emergency=body.emergency,
        setup_cost_yen=body.setup_cost_yen,
        detail=body.detail,
    )


# ---- add-ons (Art. 33–38), abolition (Art. 48), tariff (Art. 21) ----


@router.post(
    "/tenants/{tenant_id}/addon-applications",
    response_model=AddOnOut,
    status_code=CREATED,
    tags=CONTRACTS,
)
async def apply_addon(scope: Tenant, body: b.AddOnApplyIn, svc: Svc) -> dict[str, Any]:
    """Subscribe to an add-on ≥ 1 month ahead; needs the basic service; never after a cancel."""
    return await svc.contracts.subscribe_addon(
        scope.tenant_id, body.addon, body.starts_on, units=body.units, filed_on=body.filed_on
    )


@router.post(
    "/tenants/{tenant_id}/addon-cancellations",
    response_model=b.RestrictionOut,
    status_code=CREATED,
    tags=CONTRACTS,
)
async def cancel_addon(scope: Tenant, body: b.AddOnCancelIn, svc: Svc) -> dict[str, Any]:
    """Cancel an add-on at a month end with ≥ 1 month notice (Art. 37)."""
    return await svc.contracts.cancel_addon(
        scope.tenant_id, body.addon, body.leave_on, filed_on=body.filed_on
    )


@router.post("/addon-abolitions", response_model=b.AbolitionOut, tags=CONTRACTS)
async def abolish_addon(body: b.AddOnAbolitionIn, caller: OperatorAdmin, svc: Svc) -> Any:
    """Abolish an add-on at a month end, ≥ 3 months ahead, notifying its tenants (Art. 38)."""
    return await svc.contracts.abolish_addon(
        body.addon, body.effective_on, announced_on=body.announced_on
    )


@router.post("/service-abolition", response_model=b.AbolitionOut, tags=CONTRACTS)
async def abolish_service(body: b.AbolitionIn, caller: OperatorAdmin, svc: Svc) -> Any:
    """Abolish the service ≥ 6 months ahead; every contract ends that day (Art. 48)."""
    return await svc.contracts.abolish_service(body.effective_on, announced_on=body.announced_on)


@router.post("/tariff-versions", response_model=b.TariffOut, status_code=CREATED, tags=BILLING)
async def announce_tariff(body: b.TariffIn, caller: OperatorAdmin, svc: Svc) -> dict[str, Any]:
    """A new tariff version, announced ≥ 3 months ahead to every tenant (Art. 21-3)."""
    return await svc.contracts.announce_tariff(
        body.effective_from,
        {item.value: yen for item, yen in body.prices.items()},
        announced_on=body.announced_on,
        note=body.note,
    )


@router.post(
    "/tenants/{tenant_id}/quotes", response_model=b.QuoteOut, status_code=CREATED, tags=BILLING
)
async def add_quote(scope: Tenant, body: b.QuoteIn, svc: Svc) -> dict[str, Any]:
    """An individual quote: the tenant's unit price for one item (Art. 21-5)."""
    return await svc.billing.add_quote(
        scope.tenant_id,
        body.item,
        Money(body.unit_price_yen),
        body.effective_from,
        body.effective_to,
        body.reference,
    )


@router.get("/tenants/{tenant_id}/quotes", response_model=list[b.QuoteOut], tags=BILLING)
async def list_quotes(scope: Tenant, svc: Svc) -> list[dict[str, Any]]:
    """The tenant's individual quotes."""
    return await svc.billing.quotes(scope.tenant_id)


# ---- billing configuration and charges ----


@router.post("/billing/issuers", response_model=b.IssuerOut, status_code=CREATED, tags=BILLING)
async def set_issuer(body: b.IssuerIn, caller: OperatorAdmin, svc: Svc) -> dict[str, Any]:
    """The operator as qualified-invoice issuer (name, T-number) from a date."""
    return await svc.billing.set_issuer(
        body.name,
        body.registration_number,
        effective_from=body.effective_from,
        address=body.address,
        phone=body.phone,
        bank_account=body.bank_account,
    )


@router.post("/billing/tax-rates", response_model=b.TaxRateOut, status_code=CREATED, tags=BILLING)
async def set_tax_rate(body: b.TaxRateIn, caller: OperatorAdmin, svc: Svc) -> dict[str, Any]:
    """A consumption tax rate from a date."""
    return await svc.billing.set_tax_rate(body.effective_from, body.rate)


@router.post(
    "/tenants/{tenant_id}/one-offs", response_model=b.OneOffOut, status_code=CREATED, tags=BILLING
)
async def add_one_off(scope: Tenant, body: b.OneOffIn, svc: Svc) -> dict[str, Any]:
    """A charge billed once (setup work at cost, other)."""
    return await svc.billing.add_one_off(
        scope.tenant_id,
        body.item,
        Money(body.amount_yen),
        parse_month(body.month),
        body.description,
    )


@router.post(
    "/tenants/{tenant_id}/surcharges",
    response_model=list[b.OneOffOut],
    status_code=CREATED,
    tags=BILLING,
)
async def add_surcharge(scope: Tenant, body: b.SurchargeIn, svc: Svc) -> list[dict[str, Any]]:
    """Art. 25: the evaded fees and a surcharge of twice them, both with tax."""
    return await svc.billing.add_surcharge(
        scope.tenant_id, Money(body.evaded_yen), parse_month(body.month), body.description
    )


@router.post("/carrier-statements", response_model=b.CarrierImportOut, tags=BILLING)
async def import_carrier_statement(body: b.CarrierStatementIn, svc: Svc) -> dict[str, Any]:
    """Import a carrier's call charges per number and month, reconciled with call counts."""
    rows = [
        StatementRow(
            r.number,
            parse_month(r.usage_month),
            Money(r.amount_yen),
            r.calls,
            r.seconds,
            r.reference,
        )
        for r in body.rows
    ]
    return await svc.billing.import_carrier_statement(body.carrier, rows, body.cdr_counts)


# ---- the monthly run and invoices ----


@router.post("/billing/runs", response_model=b.RunOut, tags=BILLING)
async def run_month(body: b.RunIn, svc: Svc) -> dict[str, Any]:
    """Issue the month's invoices; running a month again creates nothing new."""
    return asdict(await svc.billing.run_month(parse_month(body.month)))


@router.get("/invoices", response_model=PageOut[b.InvoiceOut], tags=BILLING)
async def all_invoices(query: Annotated[b.InvoiceQuery, Query()], svc: Svc) -> dict[str, Any]:
    """Every tenant's invoices and credit notes (of a month)."""
    return await invoice_page(svc, None, query)


@router.get(
    "/billing/exports/invoices",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    tags=BILLING,
)
async def export_invoices(query: Annotated[b.MonthQuery, Query()], svc: Svc) -> Response:
    """The month's invoices and credit notes as CSV."""
    data = await svc.billing.export_invoices_csv(parse_month(query.month))
    return csv_response(data, f"invoices-{query.month}.csv")


@router.get(
    "/billing/exports/lines",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    tags=BILLING,
)
async def export_lines(query: Annotated[b.MonthQuery, Query()], svc: Svc) -> Response:
    """Every line of the month's invoices and credit notes as CSV."""
    data = await svc.billing.export_lines_csv(parse_month(query.month))
    return csv_response(data, f"invoice-lines-{query.month}.csv")


@router.post(
    "/tenants/{tenant_id}/invoices/{object_id}/correction",
    response_model=b.CorrectionOut,
    status_code=CREATED,
    tags=BILLING,
)
async def correct_invoice(
    scope: Tenant, object_id: ObjectId, body: b.CorrectionIn, svc: Svc
) -> dict[str, Any]:
    """Cancel an invoice with a credit note and issue a new one for the same month."""
    return await svc.billing.correct_invoice(scope.tenant_id, object_id, body.reason)


# ---- payments, offsets, receivables ----


@router.post(
    "/tenants/{tenant_id}/payments",
    response_model=b.PaymentRecordedOut,
    status_code=CREATED,
    tags=BILLING,
)
async def record_payment(scope: Tenant, body: b.PaymentIn, svc: Svc) -> dict[str, Any]:
    """Record money received; applied to the oldest open invoices, interest first."""
    return await svc.billing.record_payment(
        scope.tenant_id,
        Money(body.amount_yen),
        body.received_on,
        payer_name=body.payer_name,
        reference=body.reference,
    )


@router.post(
    "/tenants/{tenant_id}/offsets",
    response_model=b.PaymentRecordedOut,
    status_code=CREATED,
    tags=BILLING,
)
async def record_offset(scope: Tenant, body: b.OffsetIn, svc: Svc) -> dict[str, Any]:
    """Art. 27: set off what the operator owes; the statement is the written notice."""
    return await svc.billing.record_offset(
        scope.tenant_id, Money(body.amount_yen), body.on, operator_debt=body.operator_debt
    )


@router.post("/transfers", response_model=b.TransferReportOut, tags=BILLING)
async def import_transfers(
    file: Annotated[UploadFile, File(description="The bank's CSV (cp932 or UTF-8).")], svc: Svc
) -> dict[str, Any]:
    """Import a bank-transfer CSV (multipart upload): payers matched by half-width kana."""
    return asdict(await svc.billing.import_transfers(await file.read()))


@router.get("/transfers/unmatched", response_model=list[b.UnmatchedTransferOut], tags=BILLING)
async def unmatched_transfers(svc: Svc) -> list[dict[str, Any]]:
    """Bank credits no tenant could be matched to."""
    return await svc.billing.unmatched_transfers()


@router.get("/billing/aging", response_model=b.AgingOut, tags=BILLING)
async def aging(query: Annotated[b.AsOfQuery, Query()], svc: Svc) -> dict[str, Any]:
    """Accounts receivable by tenant: not due, 1–30, 31–60, 61–90, over 90 days."""
    day = query.as_of or jst_today(svc.clock)
    return {"as_of": day, "tenants": await svc.billing.aging(day)}


# ---- outages (R4.7) ----


@router.post(
    "/tenants/{tenant_id}/outages", response_model=b.OutageOut, status_code=CREATED, tags=BILLING
)
async def record_outage(scope: Tenant, body: b.OutageIn, svc: Svc) -> dict[str, Any]:
    """Record a total outage; its waiver is returned on a later invoice."""
    return await svc.billing.record_outage(
        scope.tenant_id,
        services=body.services,
        cause=body.cause,
        started_at=body.started_at,
        learned_at=body.learned_at,
        ended_at=body.ended_at,
        description=body.description,
    )


@router.get("/tenants/{tenant_id}/outages", response_model=list[b.OutageOut], tags=BILLING)
async def list_outages(scope: Tenant, svc: Svc) -> list[dict[str, Any]]:
    """The tenant's outages and their credits."""
    return await svc.billing.outages(scope.tenant_id)


# ---- notices ----


@router.get(
    "/tenants/{tenant_id}/notices/{object_id}/deliveries",
    response_model=list[b.NoticeDeliveryOut],
    tags=CONTRACTS,
)
async def notice_deliveries(scope: Tenant, object_id: ObjectId, svc: Svc) -> list[dict[str, Any]]:
    """The e-mails of one notice, one per contact, and what became of each."""
    return await svc.notices.deliveries(scope.tenant_id, object_id)


@router.post("/notices/send", response_model=b.SendReportOut, tags=CONTRACTS)
async def send_notices(svc: Svc) -> dict[str, Any]:
    """Send the notice e-mails that are due now (queued, or retries whose time has come)."""
    return asdict(await svc.notices.send_due())


account_router = APIRouter(prefix="/tenants/{tenant_id}")
add_account_routes(account_router, operated_tenant)
router.include_router(account_router)
