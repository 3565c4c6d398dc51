"""A tenant's account: its invoices (and PDFs), notices, payments and balance.

The same handlers serve ``/api/v1/...`` (the caller's own tenant: tenant admins only) and
``/api/v1/operator/tenants/{tenant_id}/...`` (operator staff, any tenant), like the
directory. Another tenant's invoice, notice or payment is simply not found.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from koe.api import backoffice_schemas as b
from koe.api.deps import Action, ObjectId, Scope, Services, Svc
from koe.api.directory import ScopeFor, _annotate
from koe.api.schemas import PageOut
from koe.billing.pdf import render_invoice
from koe.core.clock import jst_today
from koe.core.months import parse_month

PDF = {200: {"content": {"application/pdf": {}}, "description": "The invoice as a PDF."}}


def month_or_none(text: str | None) -> date | None:
    """``YYYY-MM`` (already validated) as the 1st of the month."""
    return None if text is None else parse_month(text)


async def invoice_page(
    svc: Services, tenant_id: str | None, query: b.InvoiceQuery
) -> dict[str, Any]:
    """One page of invoices (of one tenant, of a month)."""
    items, total = await svc.billing.invoice_page(
        tenant_id, month_or_none(query.month), offset=query.offset, limit=query.limit
    )
    return {"items": items, "total": total, "offset": query.offset, "limit": query.limit}


def pdf_response(pdf: bytes, number: str) -> Response:
    """A PDF download named after the invoice number."""
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'},
    )


def add_account_routes(router: APIRouter, scope_for: ScopeFor) -> None:
    """Invoices, notices, payments and balance of the scope's tenant (read only)."""
    read = Annotated[Scope, Depends(scope_for("billing", Action.READ))]

    async def list_invoices(scope: Any, query: Any, svc: Svc) -> dict[str, Any]:
        return await invoice_page(svc, scope.tenant_id, query)

    async def get_invoice(scope: Any, object_id: ObjectId, svc: Svc) -> dict[str, Any]:
        return await svc.billing.invoice(scope.tenant_id, object_id)

    async def invoice_pdf(scope: Any, object_id: ObjectId, query: Any, svc: Svc) -> Response:
        invoice = await svc.billing.invoice(scope.tenant_id, object_id)
        return pdf_response(render_invoice(invoice, query.lang), invoice["number"])

    async def list_notices(scope: Any, svc: Svc) -> list[dict[str, Any]]:
        return await svc.contracts.notices(scope.tenant_id)

    async def get_notice(scope: Any, object_id: ObjectId, svc: Svc) -> dict[str, Any]:
        return await svc.contracts.notice(scope.tenant_id, object_id)

    async def list_payments(scope: Any, svc: Svc) -> list[dict[str, Any]]:
        return await svc.billing.payments(scope.tenant_id)

    async def get_payment(scope: Any, object_id: ObjectId, svc: Svc) -> dict[str, Any]:
        return await svc.billing.payment(scope.tenant_id, object_id)

    async def balance(scope: Any, query: Any, svc: Svc) -> dict[str, Any]:
        day = query.as_of or jst_today(svc.clock)
        invoices = await svc.billing.balance(scope.tenant_id, day)
        principal = sum(i["principal_outstanding_yen"] for i in invoices)
        interest = sum(i["interest_outstanding_yen"] for i in invoices)
        return {
            "as_of": day,
            "principal_outstanding_yen": principal,
            "interest_outstanding_yen": interest,
            "total_outstanding_yen": principal + interest,
            "invoices": invoices,
        }

    routes: list[tuple[str, Any, Any, str, dict[str, Any]]] = [
        (
            "/invoices",
            list_invoices,
            PageOut[b.InvoiceOut],
            "List invoices and credit notes",
            {"query": Annotated[b.InvoiceQuery, Query()]},
        ),
        ("/invoices/{object_id}", get_invoice, b.InvoiceOut, "Get an invoice", {}),
        (
            "/invoices/{object_id}/pdf",
            invoice_pdf,
            None,
            "Download an invoice as PDF (ja or en)",
            {"query": Annotated[b.PdfQuery, Query()]},
        ),
        ("/notices", list_notices, list[b.NoticeOut], "List notices given", {}),
        ("/notices/{object_id}", get_notice, b.NoticeOut, "Get a notice", {}),
        ("/payments", list_payments, list[b.PaymentOut], "List payments and offsets", {}),
        ("/payments/{object_id}", get_payment, b.PaymentOut, "Get a payment", {}),
        (
            "/balance",
            balance,
            b.BalanceOut,
            "Open invoices, principal and late interest",
            {"query": Annotated[b.AsOfQuery, Query()]},
        ),
    ]
    for path, handler, model, summary, types in routes:
        _annotate(handler, scope=read, **types)
        extra: dict[str, Any] = (
            {"response_model": model}
            if model is not None
            else {"response_class": Response, "responses": PDF}
        )
        router.add_api_route(
            path, handler, methods=["GET"], summary=summary, tags=["account"], **extra
        )
