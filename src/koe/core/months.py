"""Calendar months and month-based lead times, as the terms count them (Fee rule 1, Art. 12, 19).

"One month before" a date is the same day of the previous month, clamped to that month's
last day: one month before 30 Nov is 30 Oct; one month before 31 Mar is the last day of
February (Art. 19 examples).
"""

from __future__ import annotations

import calendar
from datetime import date


def month_start(day: date) -> date:
    """The 1st of the month containing ``day``."""
    return day.replace(day=1)


def days_in_month(day: date) -> int:
    """How many days the month containing ``day`` has."""
    return calendar.monthrange(day.year, day.month)[1]


def month_end(day: date) -> date:
    """The last day of the month containing ``day``."""
    return day.replace(day=days_in_month(day))


def is_month_end(day: date) -> bool:
    """True on the last day of a month."""
    return day == month_end(day)


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the target month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    first = date(year, month + 1, 1)
    return first.replace(day=min(day.day, days_in_month(first)))


def months_before(day: date, months: int) -> date:
    """The latest date that is at least ``months`` months before ``day`` (Art. 12, 19, 21-3)."""
    return add_months(day, -months)


def parse_month(text: str) -> date:
    """``"2026-11"`` (or ``"2026/11"``, ``"202611"``) as the 1st of that month."""
    cleaned = text.strip().replace("/", "-")
    if "-" not in cleaned and len(cleaned) == 6 and cleaned.isdigit():
        cleaned = f"{cleaned[:4]}-{cleaned[4:]}"
    year, _, month = cleaned.partition("-")
    if not (
        year.isdigit()
        and month.isdigit()
        and len(year) == 4
        and int(year) >= 1
        and 1 <= int(month) <= 12
    ):
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return date(int(year), int(month), 1)


def month_label(month: date) -> str:
    """``2026-11`` for the month containing ``month``."""
    return f"{month.year:04d}-{month.month:02d}"


def months_between(first: date, last: date) -> list[date]:
    """The 1st of every month from ``first``'s month through ``last``'s month."""
    out: list[date] = []
    cursor = month_start(first)
    while cursor <= last:
        out.append(cursor)
        cursor = add_months(cursor, 1)
    return out
