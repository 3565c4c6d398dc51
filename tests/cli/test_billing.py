"""``koe billing run|invoices|pdf`` and ``koe notices send`` on a real database and SMTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from koe.app import Koe, build
from koe.contracts.rules import SuspensionReason
from koe.core.clock import JST
from koe.core.settings import Settings
from tests.billing.helpers import active_tenant, issuer, pdf_text
from tests.cli.test_commands import Cli
from tests.contracts.smtp import Inbox, smtp_server, tenant_with_contacts

__all__ = ["smtp_server"]


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    """The CLI on a fresh, migrated database (SQLite and PostgreSQL)."""
    return Cli(tmp_path / "var", database_url)


def _with_koe(database_url: str, tmp_path: Path, work: Callable[[Koe], Awaitable[Any]]) -> Any:
    """Run ``work`` on a Koe over the CLI's database (real clock, no SMTP)."""

    async def go() -> Any:
        koe = build(Settings(data_dir=tmp_path / "setup", database_url=database_url, tls=False))
        try:
            return await work(koe)
        finally:
            await koe.close()

    return asyncio.run(go())


def test_billing_run_invoices_and_pdf(cli: Cli, database_url: str, tmp_path: Path) -> None:
    async def prepare(koe: Koe) -> None:
        await issuer(koe)
        await active_tenant(koe, "acme")  # 4 + 4 + 4 licenses: 60,000 yen a month

    _with_koe(database_url, tmp_path, prepare)
    run = cli("billing", "run", "2026-11").output
    assert "invoices      1" in run and "billed_yen    66,000" in run
    assert "Issued 1 invoice(s) for 2026-11 (0 already billed, 66,000 yen in all)." in run
    again = cli("billing", "run", "2026-11", lang="ja").output
    assert "2026-11 の請求書を 0 件発行しました(請求済みで対象外 1 件" in again
    assert "error[usage]:" in cli("billing", "run", "2026-13", code=2).stderr

    listed = cli("billing", "invoices", "--tenant", "acme", "--month", "2026-11").output
    assert listed.split()[:7] == ["number", "id", "kind", "status", "issued", "due", "total_yen"]
    assert "INV-2026-11-acme-1" in listed and "66,000" in listed
    (invoice,) = json.loads(cli("billing", "invoices", "-t", "acme", "--json").output)
    assert cli("billing", "invoices", "-t", "acme", "--month", "2026-10").output.count("\n") == 1

    out = tmp_path / "invoice.pdf"
    wrote = cli("billing", "pdf", invoice["id"], "-o", str(out), "--lang", "en").output
    assert wrote.strip() == f"Wrote INV-2026-11-acme-1 to {out}."
    english = pdf_text(out.read_bytes())
    assert "Invoice" in english and "INV-2026-11-acme-1" in english
    cli("billing", "pdf", "INV-2026-11-acme-1", "-o", str(out))  # by number, in Japanese
    assert "請求書" in pdf_text(out.read_bytes())

    missing = cli("billing", "pdf", "INV-1999-01-nope-1", "-o", str(out), code=1)
    assert missing.stderr.strip() == "error[not_found]: Invoice not found."
    unknown = cli("billing", "invoices", "--tenant", "nope", code=1, lang="ja")
    assert unknown.stderr.startswith("error[not_found]: テナントが見つかりません")


def test_notices_send_over_smtp(
    cli: Cli,
    database_url: str,
    tmp_path: Path,
    smtp_server: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def prepare(koe: Koe) -> None:
        tenant_id = await tenant_with_contacts(
            koe, [{"kind": "billing", "name": "経理 花子", "email": "keiri@acme.example"}]
        )
        await koe.contracts.suspend(
            tenant_id,
            SuspensionReason.UNPAID,
            datetime(2026, 11, 25, 9, 0, tzinfo=JST),
            until_paid=True,
        )

    _with_koe(database_url, tmp_path, prepare)
    refused = cli("notices", "send", code=1)
    assert refused.stderr.startswith("error[smtp_not_configured]: E-mail (SMTP) is not configured")

    monkeypatch.setenv("KOE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KOE_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("KOE_SMTP_SECURITY", "none")
    monkeypatch.setenv("KOE_SMTP_SENDER", "notices@koe.example")
    sent = cli("notices", "send").output
    assert "keiri@acme.example  delivered  1" in sent
    assert sent.strip().endswith("Notice e-mails: 1 delivered, 0 to retry, 0 failed.")
    (message,) = smtp_server.messages
    assert message.rcpt_tos == ["keiri@acme.example"]
    assert message.parsed()["Subject"] == "サービス提供停止のお知らせ / Service suspension"
    assert "0 delivered" in cli("notices", "send").output  # nothing twice
