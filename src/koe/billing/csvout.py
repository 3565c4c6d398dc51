"""CSV exports of invoices and their lines (UTF-8 with BOM, which Excel in Japan opens)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

INVOICE_COLUMNS = (
    "number",
    "kind",
    "status",
    "tenant_code",
    "recipient",
    "month",
    "issued_on",
    "due_on",
    "subtotal_yen",
    "tax_yen",
    "total_yen",
    "corrects_id",
)
LINE_COLUMNS = (
    "number",
    "position",
    "item",
    "description_ja",
    "service_month",
    "quantity",
    "unit_price_yen",
    "amount_yen",
    "tax_rate",
    "due_on",
)


def _write(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def invoices_csv(invoices: Iterable[Mapping[str, Any]]) -> bytes:
    """One row per invoice or credit note."""
    return _write(
        INVOICE_COLUMNS,
        (
            [
                inv["number"],
                inv["kind"],
                inv["status"],
                inv["recipient"].get("code", ""),
                inv["recipient"].get("name", ""),
                inv["month"][:7],
                inv["issued_on"],
                inv["due_on"],
                inv["subtotal_yen"],
                inv["tax_yen"],
                inv["total_yen"],
                inv["corrects_id"],
            ]
            for inv in invoices
        ),
    )


def lines_csv(invoices: Iterable[Mapping[str, Any]]) -> bytes:
    """One row per invoice line."""
    return _write(
        LINE_COLUMNS,
        (
            [
                inv["number"],
                line["position"],
                line["item"],
                line["description_ja"],
                (line["service_month"] or "")[:7],
                line["quantity"],
                line["unit_price_yen"],
                line["amount_yen"],
                line["tax_rate"],
                line["due_on"],
            ]
            for inv in invoices
            for line in inv["lines"]
        ),
    )
