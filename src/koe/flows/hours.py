"""Business hours: is a calendar open at an instant?

A calendar has weekly spans per weekday (``{"mon": [["09:00", "18:00"]], ...}``, "24:00"
allowed as an end), Japanese public holidays (``jpholiday``), the tenant's special days and a
time zone (Asia/Tokyo by default). A special day wins over a holiday, a holiday over the
weekly schedule. Special days are ``{"date": "2026-12-29", "name": "年末休業"}`` (closed all
day), ``{"date": ..., "closed": true}``, ``{"date": ..., "spans": [["10:00", "15:00"]]}``
(open only then) or a bare ``"2026-12-29"`` string (closed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jpholiday

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Asia/Tokyo"

Span = tuple[int, int]
"""Minutes of the day: start inclusive, end exclusive."""


class HoursStatus(StrEnum):
    """What a calendar says about an instant."""

    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"  # a Japanese public holiday
    SPECIAL_CLOSED = "special_closed"  # a tenant special day, closed at this time


@dataclass(frozen=True, slots=True)
class HoursCheck:
    """The answer, with the local time it was taken at and why."""

    status: HoursStatus
    local: datetime
    reason: str

    @property
    def open(self) -> bool:
        """True when calls are taken now."""
        return self.status is HoursStatus.OPEN


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _spans(raw: Any) -> tuple[Span, ...]:
    out: list[Span] = []
    for span in raw or ():
        try:
            start, end = _minutes(span[0]), _minutes(span[1])
        except (TypeError, ValueError, IndexError, AttributeError):
            log.warning("business hours: ignoring malformed span %r", span)
            continue
        if start < end:
            out.append((start, end))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """A tenant-defined day: closed (no spans) or open only during ``spans``."""

    day: date
    spans: tuple[Span, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class Calendar:
    """A business-hours calendar (the store's BusinessHours row)."""

    weekly: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    special_days: Mapping[date, SpecialDay] = field(default_factory=dict)
    closed_on_public_holidays: bool = True
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Calendar:
        """From the store row's fields; malformed entries are skipped (and logged)."""
        weekly = {
            day: _spans(spans)
            for day, spans in (row.get("weekly") or {}).items()
            if day in WEEKDAYS
        }
        special: dict[date, SpecialDay] = {}
        for entry in row.get("special_days") or ():
            parsed = _special(entry)
            if parsed is not None:
                special[parsed.day] = parsed
        zone = row.get("timezone") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("business hours: unknown time zone %r, using %s", zone, DEFAULT_TIMEZONE)
            zone = DEFAULT_TIMEZONE
        return cls(
            weekly=weekly,
            special_days=special,
            closed_on_public_holidays=bool(row.get("closed_on_public_holidays", True)),
            timezone=zone,
        )

    def check(self, at: datetime) -> HoursCheck:
        """Open, closed, a public holiday or a closed special day at ``at`` (aware)."""
        local = at.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        today = local.date()
        special = self.special_days.get(today)
        if special is not None:
            label = f"special day {today.isoformat()}" + (
                f" ({special.name})" if special.name else ""
            )
            if _within(special.spans, minute):
                return HoursCheck(HoursStatus.OPEN, local, label)
            return HoursCheck(HoursStatus.SPECIAL_CLOSED, local, label)
        if self.closed_on_public_holidays:
            holiday = jpholiday.is_holiday_name(today)
            if holiday:
                return HoursCheck(HoursStatus.HOLIDAY, local, f"public holiday {holiday}")
        day = WEEKDAYS[local.weekday()]
        if _within(self.weekly.get(day, ()), minute):
            return HoursCheck(HoursStatus.OPEN, local, f"{day} hours")
        return HoursCheck(HoursStatus.CLOSED, local, f"outside {day} hours")


def _within(spans: Sequence[Span], minute: int) -> bool:
    return any(start <= minute < end for start, end in spans)


def _special(entry: Any) -> SpecialDay | None:
    try:
        if isinstance(entry, str):
            return SpecialDay(date.fromisoformat(entry))
        if isinstance(entry, Mapping):
            day = date.fromisoformat(str(entry["date"]))
            spans = () if entry.get("closed") else _spans(entry.get("spans"))
            return SpecialDay(day, spans, str(entry.get("name", "")))
    except (KeyError, ValueError):
        pass
    log.warning("business hours: ignoring malformed special day %r", entry)
    return None
