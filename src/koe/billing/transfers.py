"""Bank transfers: reading the bank's CSV and matching half-width-kana payer names (R4.4).

Japanese banks show the payer (振込依頼人) in half-width katakana, upper-case only (no small
kana: ｼﾖｳｼﾞ for ショウジ), with the legal form abbreviated: ｶ) before the name for
株式会社〇〇, (ｶ after it for 〇〇株式会社, likewise ﾕ for 有限会社, ﾄﾞ for 合同会社, ...
Both sides are brought to one form before comparing: NFKC (half-width to full-width), small
kana to large, long-vowel marks and hyphens unified, spaces and legal forms removed.

CSV from Japanese offices is cp932 or UTF-8 (with or without BOM); both are accepted.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from koe.core.money import Money

_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_DASHES = re.compile(r"[-‐‑‒–—―−ｰー－]")
_DROP = re.compile(r"[\s・.,，、。'\"／/]")
_LEGAL_WORDS = (
    "カブシキガイシヤ",
    "ユウゲンガイシヤ",
    "ゴウドウガイシヤ",
    "ゴウシガイシヤ",
    "ゴウメイガイシヤ",
    "イツパンシヤダンホウジン",
    "イツパンザイダンホウジン",
    "株式会社",
    "有限会社",
    "合同会社",
)
# Abbreviated legal forms next to a bracket: ｶ) 〇〇, 〇〇(ｶ, (ｶ)
_LEGAL_ABBR = re.compile(
    r"\((?:カ|ユ|ド|メ|シ|ザイ|シヤ|ダ|ゲ)\)?|(?:カ|ユ|ド|メ|シ|ザイ|シヤ|ダ|ゲ)\)"
)

# Common bank transfer fees (yen, tax included); a payment short by one of these is flagged.
BANK_FEES: tuple[int, ...] = (
    110,
    132,
    145,
    154,
    165,
    187,
    220,
    275,
    330,
    385,
    440,
    550,
    660,
    770,
    880,
)


def _to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def normalize_payer(name: str) -> str:
    """The comparable form of a payer or company kana name."""
    text = unicodedata.normalize("NFKC", name).upper()
    text = _to_katakana(text).translate(_SMALL)
    text = text.replace("（", "(").replace("）", ")")
    text = _DASHES.sub("ー", text)
    text = _LEGAL_ABBR.sub("", text)
    text = _DROP.sub("", text)
    for word in _LEGAL_WORDS:
        text = text.replace(word, "")
    return text.replace("(", "").replace(")", "")


def names_match(payer: str, company_kana: str) -> bool:
    """True when the bank's payer name is the company's kana name (banks may truncate it)."""
    a, b = normalize_payer(payer), normalize_payer(company_kana)
    if not a or not b:
        return False
    return a == b or (len(a) >= 6 and b.startswith(a))


def short_by_bank_fee(expected: Money, received: Money, fees: Iterable[int] = BANK_FEES) -> bool:
    """True when ``received`` is short of ``expected`` by exactly a usual bank fee."""
    return (expected - received).yen in set(fees)


@dataclass(frozen=True, slots=True)
class TransferRow:
    """One credit on the bank statement."""

    line: int
    received_on: date
    amount: Money
    payer: str
    reference: str


class TransferFileError(ValueError):
    """The file is not a bank transfer CSV this reader understands."""


_HEADERS: Mapping[str, Sequence[str]] = {
    "date": ("取引日", "入金日", "日付", "勘定日", "date", "received_on"),
    "amount": ("入金額", "金額", "入金金額", "amount"),
    "payer": ("振込依頼人名", "依頼人名", "振込依頼人", "payer", "payer_name"),
    "reference": ("摘要", "備考", "reference", "memo"),
}


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not) or cp932 text."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp932")


def _parse_date(text: str) -> date:
    cleaned = unicodedata.normalize("NFKC", text).strip().replace("/", "-").replace(".", "-")
    if re.fullmatch(r"\d{8}", cleaned):
        return date(int(cleaned[:4]), int(cleaned[4:6]), int(cleaned[6:]))
    year, month, day = (int(p) for p in cleaned.split("-"))
    return date(year, month, day)


def _parse_amount(text: str) -> Money:
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("¥", "")
    cleaned = cleaned.replace("円", "").replace("\\", "")
    if not cleaned.isdigit():
        raise ValueError(text)
    return Money(int(cleaned))


def parse_transfers(data: bytes) -> list[TransferRow]:
    """Rows of a bank transfer CSV with a header naming date, amount and payer columns."""
    reader = csv.reader(io.StringIO(decode(data)))
    header = next(reader, None)
    if header is None:
        raise TransferFileError("empty file")
    names = [unicodedata.normalize("NFKC", h).strip().lower() for h in header]
    columns: dict[str, int] = {}
    for key, aliases in _HEADERS.items():
        for alias in aliases:
            if alias.lower() in names:
                columns[key] = names.index(alias.lower())
                break
    missing = {"date", "amount", "payer"} - set(columns)
    if missing:
        raise TransferFileError(f"missing columns: {sorted(missing)}")
    rows: list[TransferRow] = []
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        try:
            rows.append(
                TransferRow(
                    line=number,
                    received_on=_parse_date(record[columns["date"]]),
                    amount=_parse_amount(record[columns["amount"]]),
                    payer=record[columns["payer"]].strip(),
                    reference=record[columns["reference"]].strip()
                    if "reference" in columns and len(record) > columns["reference"]
                    else "",
                )
            )
        except (ValueError, IndexError) as err:
            raise TransferFileError(f"line {number}: cannot read {record!r}") from err
    return rows
