"""Shared set-up for store-backed billing and contract tests."""

from __future__ import annotations

import subprocess
from datetime import date

from koe.app import Koe
from koe.core.domain import ContractStatus, LicenseKind

REGISTRATION = "T4010001234567"


async def issuer(koe: Koe) -> None:
    """Configure the operator as invoice issuer."""
    await koe.billing.set_issuer(
        "株式会社コエ運営",
        REGISTRATION,
        effective_from=date(2021, 1, 1),
        address="東京都千代田区1-1",
        phone="03-0000-0000",
        bank_account="コエ銀行 本店 普通 1234567",
    )


async def active_tenant(
    koe: Koe,
    code: str,
    *,
    start: date = date(2026, 4, 1),
    end: date | None = None,
    lines: int = 4,
    seats: int = 4,
    admins: int = 4,
    kana: str = "カブシキガイシャ コエショウジ",
    name: str = "株式会社コエ商事",
) -> str:
    """A tenant whose contract runs from ``start``: 4 + 4 + 4 licenses = 60,000 yen a month."""
    view = await koe.tenants.create(
        {
            "code": code,
            "company_name": name,
            "company_name_kana": kana,
            "representative_name": "代表 太郎",
            "address": "東京都港区1-2-3",
            "phone": "03-1234-5678",
            "status": ContractStatus.ACTIVE,
            "service_start_date": start,
            "service_end_date": end,
        },
        [{"kind": "billing", "name": "経理 花子", "email": f"billing@{code}.example"}],
    )
    tenant_id = str(view["id"])
    for kind, quantity in (
        (LicenseKind.LINE, lines),
        (LicenseKind.SEAT, seats),
        (LicenseKind.ADMIN, admins),
    ):
        if quantity:
            await koe.tenants.add_license(tenant_id, kind, quantity, start)
    return tenant_id


def pdf_text(pdf: bytes, *options: str) -> str:
    """The text of a PDF as pdftotext (poppler-utils) extracts it."""
    return subprocess.run(
        ["pdftotext", *options, "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def pdf_fonts(pdf: bytes) -> str:
    """pdffonts' table of the fonts in a PDF (the ``emb`` column says embedded)."""
    return subprocess.run(
        ["pdffonts", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
