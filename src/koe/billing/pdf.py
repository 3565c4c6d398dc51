"""Invoice PDF in Japanese (or English) with an embedded Japanese font (R4.2, qualified invoice).

A qualified invoice (適格請求書) shows: the issuer's name and registration number (T + 13
digits), the date, the recipient, each item with the rate that applies, the totals per rate
and the tax per rate. A credit note is the qualified return document (適格返還請求書).

The font is IPA Gothic (Debian ``fonts-ipafont-gothic``), embedded as a subset; without it,
ReportLab's built-in CID font (HeiseiKakuGo-W5, not embedded) is used.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
    Path("/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf"),
)

_TEXT = {
    "ja": {
        "invoice": "請求書(適格請求書)",
        "credit_note": "貸方票(適格返還請求書)",
        "to": "{name} 御中",
        "number": "請求書番号",
        "issued": "発行日",
        "month": "対象月",
        "due": "お支払期限",
        "registration": "登録番号",
        "item": "品目",
        "qty": "数量",
        "unit": "単価",
        "amount": "金額(税抜)",
        "rate": "税率",
        "outside": "対象外",
        "rate_line": "{rate}対象 {net} (うち返還 {returns}) 消費税 {tax}",
        "outside_line": "不課税 {net}",
        "subtotal": "小計(税抜)",
        "tax": "消費税",
        "total": "ご請求金額(税込)",
        "refund_total": "返還金額(税込)",
        "bank": "お振込先",
        "corrects": "訂正対象",
        "page": "{page}頁",
    },
    "en": {
        "invoice": "Invoice (qualified invoice)",
        "credit_note": "Credit note (qualified return invoice)",
        "to": "To: {name}",
        "number": "Invoice number",
        "issued": "Issue date",
        "month": "Billing month",
        "due": "Due date",
        "registration": "Registration number",
        "item": "Item",
        "qty": "Qty",
        "unit": "Unit price",
        "amount": "Amount (excl. tax)",
        "rate": "Tax rate",
        "outside": "n/a",
        "rate_line": "{rate} rate: {net} (returns {returns}), tax {tax}",
        "outside_line": "Outside consumption tax: {net}",
        "subtotal": "Subtotal (excl. tax)",
        "tax": "Consumption tax",
        "total": "Total due (incl. tax)",
        "refund_total": "Total returned (incl. tax)",
        "bank": "Pay to",
        "corrects": "Corrects",
        "page": "page {page}",
    },
}


@cache
def font_name() -> str:
    """Register the Japanese font once; its name for ReportLab."""
    for path in FONT_CANDIDATES:
        if path.exists():
            pdfmetrics.registerFont(TTFont("KoeGothic", str(path)))
            return "KoeGothic"
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    return "HeiseiKakuGo-W5"


def _yen(value: int, lang: str) -> str:
    return f"{value:,}円" if lang == "ja" else f"JPY {value:,}"


def _rate(rate: str | None, lang: str) -> str:
    if rate is None:
        return _TEXT[lang]["outside"]
    percent = (float(rate) * 100).__round__(2)
    return f"{percent:g}%"


def _date(value: str, lang: str) -> str:
    year, month, day = value[:10].split("-")
    if lang == "ja":
        return f"{int(year)}年{int(month)}月{int(day)}日"
    return value[:10]


def _month(value: str, lang: str) -> str:
    year, month = value[:7].split("-")
    return f"{int(year)}年{int(month)}月分" if lang == "ja" else value[:7]


def render_invoice(invoice: Mapping[str, Any], lang: str = "ja") -> bytes:
    """The invoice or credit note ``invoice`` (a BillingService view) as PDF bytes."""
    if lang not in _TEXT:
        raise ValueError(f"unsupported language: {lang}")
    text = _TEXT[lang]
    font = font_name()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=font)
    canvas.setTitle(f"{invoice['number']}")
    canvas.setAuthor(invoice["issuer"].get("name", ""))
    width, height = A4
    left, right = 18 * mm, width - 18 * mm
    page = 1

    def header() -> float:
        canvas.setFont(font, 16)
        canvas.drawString(left, height - 22 * mm, text[invoice["kind"]])
        canvas.setFont(font, 10)
        recipient = invoice["recipient"]
        y = height - 34 * mm
        canvas.drawString(left, y, text["to"].format(name=recipient.get("name", "")))
        for extra in (recipient.get("postal_code", ""), recipient.get("address", "")):
            if extra:
                y -= 5 * mm
                canvas.drawString(left, y, extra)
        issuer = invoice["issuer"]
        iy = height - 34 * mm
        for value in (
            issuer.get("name", ""),
            f"{text['registration']}: {issuer.get('registration_number', '')}",
            issuer.get("address", ""),
            issuer.get("phone", ""),
        ):
            if value:
                canvas.drawRightString(right, iy, value)
                iy -= 5 * mm
        y = min(y, iy) - 6 * mm
        for label, value in (
            (text["number"], invoice["number"]),
            (text["issued"], _date(invoice["issued_on"], lang)),
            (text["month"], _month(invoice["month"], lang)),
            (text["due"], _date(invoice["due_on"], lang)),
        ):
            canvas.drawString(left, y, f"{label}: {value}")
            y -= 5 * mm
        canvas.drawRightString(right, 10 * mm, text["page"].format(page=page))
        y -= 3 * mm
        canvas.setFont(font, 9)
        canvas.drawString(left, y, text["item"])
        canvas.drawRightString(right - 75 * mm, y, text["qty"])
        canvas.drawRightString(right - 52 * mm, y, text["unit"])
        canvas.drawRightString(right - 18 * mm, y, text["amount"])
        canvas.drawRightString(right, y, text["rate"])
        canvas.line(left, y - 1.5 * mm, right, y - 1.5 * mm)
        return float(y - 6 * mm)

    y = header()
    description = "description_ja" if lang == "ja" else "description_en"
    lines: Sequence[Mapping[str, Any]] = invoice["lines"]
    for line in lines:
        if y < 60 * mm:
            canvas.showPage()
            page += 1
            y = header()
        canvas.setFont(font, 8.5)
        canvas.drawString(left, y, str(line[description])[:62])
        canvas.drawRightString(right - 75 * mm, y, f"{line['quantity']:,}")
        unit = line["unit_price_yen"]
        canvas.drawRightString(right - 52 * mm, y, "" if unit is None else _yen(unit, lang))
        canvas.drawRightString(right - 18 * mm, y, _yen(line["amount_yen"], lang))
        canvas.drawRightString(right, y, _rate(line["tax_rate"], lang))
        y -= 5 * mm
    y -= 2 * mm
    canvas.line(left, y + 3 * mm, right, y + 3 * mm)
    canvas.setFont(font, 9.5)
    for part in invoice["tax_breakdown"]:
        if part["rate"] is None:
            summary = text["outside_line"].format(net=_yen(part["net_yen"], lang))
        else:
            summary = text["rate_line"].format(
                rate=_rate(part["rate"], lang),
                net=_yen(part["net_yen"], lang),
                returns=_yen(part["returns_yen"], lang),
                tax=_yen(part["tax_yen"], lang),
            )
        canvas.drawString(left, y, summary)
        y -= 5 * mm
    y -= 2 * mm
    canvas.setFont(font, 10.5)
    total_label = text["refund_total"] if invoice["kind"] == "credit_note" else text["total"]
    for label, value in (
        (text["subtotal"], invoice["subtotal_yen"]),
        (text["tax"], invoice["tax_yen"]),
        (total_label, invoice["total_yen"]),
    ):
        canvas.drawString(right - 85 * mm, y, label)
        canvas.drawRightString(right, y, _yen(value, lang))
        y -= 6 * mm
    canvas.setFont(font, 9)
    bank = invoice["issuer"].get("bank_account", "")
    if bank and invoice["kind"] == "invoice":
        canvas.drawString(left, y, f"{text['bank']}: {bank}")
        y -= 5 * mm
    if invoice.get("note"):
        canvas.drawString(left, y, str(invoice["note"])[:90])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
