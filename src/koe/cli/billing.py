"""``koe billing`` (monthly run, invoices, PDFs) and ``koe notices`` (send queued e-mails)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from koe.billing.service import RunReport
from koe.cli.runtime import Services, run, say, state, table, write_file
from koe.contracts.mailer import SendReport
from koe.core.months import parse_month

billing_app = typer.Typer(
    help="Monthly billing runs, invoices and their PDFs.", no_args_is_help=True
)
notices_app = typer.Typer(help="Notices to tenants: send the queued e-mails.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _month(text: str, hint: str) -> date:
    try:
        return parse_month(text)
    except ValueError as err:
        raise typer.BadParameter(f"{text!r} is not a month (YYYY-MM)", param_hint=hint) from err


def _yen(amount: int) -> str:
    return f"{amount:,}"


@billing_app.command("run")
def billing_run(
    ctx: typer.Context,
    month: Annotated[str, typer.Argument(help="The month to bill, YYYY-MM (e.g. 2026-11).")],
) -> None:
    """Issue the month's invoices (running a month again creates nothing new)."""
    st = state(ctx)
    first = _month(month, "MONTH")

    async def work(koe: Services) -> RunReport:
        return await koe.billing.run_month(first)

    report = run(st, st.settings(), work)
    typer.echo(
        table(
            ["", ""],
            [
                ["month", report.month],
                ["tenants", report.tenants],
                ["invoices", report.invoices],
                ["credit_notes", report.credit_notes],
                ["skipped", report.skipped],
                ["billed_yen", _yen(report.billed_yen)],
                ["seconds", f"{report.seconds:.2f}"],
            ],
        ).lstrip()
    )
    say(
        st.lang,
        f"{report.month} の請求書を {report.invoices} 件発行しました(請求済みで対象外 "
        f"{report.skipped} 件、合計 {_yen(report.billed_yen)} 円)。",
        f"Issued {report.invoices} invoice(s) for {report.month} ({report.skipped} already "
        f"billed, {_yen(report.billed_yen)} yen in all).",
    )


@billing_app.command("invoices")
def billing_invoices(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant code.")],
    month: Annotated[str | None, typer.Option(help="Only this month, YYYY-MM.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List a tenant's invoices and credit notes."""
    st = state(ctx)
    first = None if month is None else _month(month, "--month")

    async def work(koe: Services) -> list[dict[str, Any]]:
        found = await koe.tenants.by_code(tenant)
        return await koe.billing.invoices(found["id"], first)

    invoices = run(st, st.settings(), work)
    if as_json:
        typer.echo(json.dumps(invoices, ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(
        table(
            ["number", "id", "kind", "status", "issued", "due", "total_yen"],
            [
                [
                    i["number"],
                    i["id"],
                    i["kind"],
                    i["status"],
                    i["issued_on"],
                    i["due_on"],
                    _yen(i["total_yen"]),
                ]
                for i in invoices
            ],
        )
    )


@billing_app.command("pdf")
def billing_pdf(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help="Invoice id or number (INV-2026-11-…).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PDF file to write.")],
    lang: Annotated[str, typer.Option("--lang", help="Language of the invoice: ja or en.")] = "ja",
) -> None:
    """Write an invoice or credit note as PDF (Japanese fonts embedded)."""
    st = state(ctx)
    if lang not in ("ja", "en"):
        raise typer.BadParameter("use ja or en", param_hint="--lang")

    async def work(koe: Services) -> tuple[str, bytes]:
        found = await koe.billing.find_invoice(invoice)
        return found["number"], await koe.billing.invoice_pdf(found["tenant_id"], found["id"], lang)

    number, pdf = run(st, st.settings(), work)
    write_file(output, pdf)
    say(st.lang, f"{number} を {output} に書き出しました。", f"Wrote {number} to {output}.")


@notices_app.command("send")
def notices_send(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Send the notice e-mails due now (queued, and retries whose time has come)."""
    st = state(ctx)

    async def work(koe: Services) -> SendReport:
        return await koe.notices.send_due()

    report = run(st, st.settings(), work)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "delivered": report.delivered,
                    "retrying": report.retrying,
                    "failed": report.failed,
                    "deliveries": report.deliveries,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if report.deliveries:
        typer.echo(
            table(
                ["address", "status", "attempts", "error"],
                [[d["address"], d["status"], d["attempts"], d["error"]] for d in report.deliveries],
            )
        )
    say(
        st.lang,
        f"通知メール: 送信 {report.delivered} 件、再送待ち {report.retrying} 件、"
        f"失敗 {report.failed} 件。",
        f"Notice e-mails: {report.delivered} delivered, {report.retrying} to retry, "
        f"{report.failed} failed.",
    )
