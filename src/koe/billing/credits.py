"""Outage credits: the fee waiver of Art. 22-6 and the damages of Art. 47 (R4.7).

Two clauses, one credit. The waiver (料金の不要, Art. 22-6 table) is computed from the time
the operator learned of a total outage:

- row 1 — not the tenant's fault (force majeure included), lasting ≥ 8 hours: the monthly
  fee × the whole 24-hour periods (cut) / the days of that calendar month (cfg: 30);
- row 2 — the operator's intent or gross negligence, lasting ≥ 2 hours: the monthly fee /
  720 × the whole hours beyond the first two (cut). Row 1 excludes row 2 cases.

Neither applies to outages caused by the service lines or to planned pauses under Art. 17
(fees are owed then, Art. 22-4), nor to the tenant's own fault. The monthly fee is that of
the services that were down (individual quote where one exists), never call charges or
one-off fees. The waiver is not capped.

Damages (Art. 47-1..3) for outages the operator caused equal the same amount, capped at what
the tenant paid in the 12 months before; none for force majeure (47-5). The tenant receives
the waiver once, not both: the credit is the waiver; the damages figure is kept to show
that nothing more is owed under Art. 47.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from koe.core.money import Money

HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
ROW1_MINIMUM = timedelta(hours=8)
ROW2_MINIMUM = timedelta(hours=2)
HOURS_PER_MONTH = 720


class Cause(StrEnum):
    """Why the service was down (the outage record's cause class)."""

    PLANNED_PAUSE = "planned_pause"  # Art. 17: fees owed (Art. 22-4)
    FORCE_MAJEURE = "force_majeure"  # row 1; no damages (Art. 47-5)
    OPERATOR_FAULT = "operator_fault"  # row 1; damages capped (Art. 47-2)
    OPERATOR_GROSS = "operator_gross"  # intent or gross negligence: row 2 (Art. 47-3)
    SERVICE_LINE = "service_line"  # the service lines: excluded (Art. 22-6, 47-1)
    TENANT_FAULT = "tenant_fault"  # the tenant's fault: nothing


class Divisor(StrEnum):
    """Row 1 divides the monthly fee by the month's days (calendar) or by 30 (cfg)."""

    CALENDAR = "calendar"
    THIRTY = "thirty"


@dataclass(frozen=True, slots=True)
class Credit:
    """The outcome for one outage."""

    rule: str | None
    counted: timedelta
    units: int
    monthly_fee: Money
    waiver: Money
    damages: Money
    explanation_ja: str
    explanation_en: str

    @property
    def credit(self) -> Money:
        """What the tenant receives: the waiver (damages are not paid on top of it)."""
        return self.waiver


def _none(counted: timedelta, fee: Money, ja: str, en: str) -> Credit:
    return Credit(None, counted, 0, fee, Money(0), Money(0), ja, en)


def outage_credit(
    cause: Cause,
    learned_at: datetime,
    ended_at: datetime,
    monthly_fee: Money,
    days_in_month: int,
    paid_last_12_months: Money,
    divisor: Divisor = Divisor.CALENDAR,
) -> Credit:
    """The waiver (and the damages it stands for) of one outage of what cost ``monthly_fee``.

    Examples for 60,000 yen a month: 23 h → 0 (no whole day); 31 h in November → 60,000 ×
    1 / 30 = 2,000; gross negligence for 5 h 30 min → 60,000 × 3 / 720 = 250.
    """
    if ended_at < learned_at:
        raise ValueError("an outage cannot end before the operator learned of it")
    counted = ended_at - learned_at
    if cause in (Cause.PLANNED_PAUSE, Cause.SERVICE_LINE, Cause.TENANT_FAULT):
        return _none(
            counted,
            monthly_fee,
            "計画休止(第17条)・サービス利用回線・利用契約者の責による停止は料金が発生します。",
            "Planned pauses (Art. 17), service-line and tenant-caused outages are not waived.",
        )
    if cause is Cause.OPERATOR_GROSS:
        if counted < ROW2_MINIMUM:
            return _none(
                counted, monthly_fee, "2時間未満のため対象外です。", "Under 2 hours: nothing."
            )
        hours = (counted - ROW2_MINIMUM) // HOUR
        waiver = Money(monthly_fee.yen * hours // HOURS_PER_MONTH)
        return Credit(
            "22-6-2",
            counted,
            hours,
            monthly_fee,
            waiver,
            min(waiver, paid_last_12_months),
            f"{monthly_fee.yen:,}円 ÷ {HOURS_PER_MONTH} × 最初の2時間を超える{hours}時間"
            f" = {waiver.yen:,}円",
            f"{monthly_fee.yen:,} / {HOURS_PER_MONTH} × {hours} whole hours beyond the first 2"
            f" = {waiver.yen:,}",
        )
    if counted < ROW1_MINIMUM:
        return _none(counted, monthly_fee, "8時間未満のため対象外です。", "Under 8 hours: nothing.")
    days = counted // DAY
    per = 30 if divisor is Divisor.THIRTY else days_in_month
    waiver = Money(monthly_fee.yen * days // per)
    damages = Money(0) if cause is Cause.FORCE_MAJEURE else min(waiver, paid_last_12_months)
    return Credit(
        "22-6-1",
        counted,
        days,
        monthly_fee,
        waiver,
        damages,
        f"{monthly_fee.yen:,}円 × 24時間単位の{days}日 ÷ {per}日 = {waiver.yen:,}円",
        f"{monthly_fee.yen:,} × {days} whole 24-hour periods / {per} days = {waiver.yen:,}",
    )


def personal_data_damages_cap(monthly_fee: Money) -> Money:
    """Damages for a personal-data incident the operator caused: at most one month's fee (47-12)."""
    return monthly_fee
