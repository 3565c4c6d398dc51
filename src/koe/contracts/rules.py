"""Contract rules of the terms as pure code: reasons, lead times, periods (R3.*).

Lead times count calendar months back from the effective date and the filing must be made
on or before that day: to leave on 30 Nov, file by 30 Oct; to leave on 31 Mar, by the end of
February (Art. 19). The same reckoning serves Art. 12 (≥ 1 month), Art. 33 and 37 (add-ons,
≥ 1 month), Art. 21-3 and 38 (≥ 3 months) and Art. 48 (≥ 6 months).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from koe.core.clock import JST
from koe.core.errors import Conflict, FieldError, ValidationFailed
from koe.core.months import add_months, is_month_end, month_start, months_before


class RejectReason(StrEnum):
    """Why an application (or a change, Art. 12-5 / 33-3) is refused (Art. 10-1)."""

    TECHNICALLY_INFEASIBLE = "technically_infeasible"  # (1)
    PAYMENT_RISK = "payment_risk"  # (2)
    FALSE_APPLICATION = "false_application"  # (3)
    BREACH_RISK = "breach_risk"  # (4)
    VERIFICATION_IMPOSSIBLE = "verification_impossible"  # (5)
    OTHER = "other"  # (6)


REJECT_TEXT = {
    RejectReason.TECHNICALLY_INFEASIBLE: (
        "技術上著しく困難なため(第10条第1項第1号)",
        "technically infeasible (Art. 10-1-1)",
    ),
    RejectReason.PAYMENT_RISK: (
        "料金の支払いを怠るおそれがあるため(同第2号)",
        "risk of non-payment (Art. 10-1-2)",
    ),
    RejectReason.FALSE_APPLICATION: (
        "申込書に虚偽の記載があったため(同第3号)",
        "false application (Art. 10-1-3)",
    ),
    RejectReason.BREACH_RISK: (
        "本約款に違反するおそれがあるため(同第4号)",
        "risk of breaching the terms (Art. 10-1-4)",
    ),
    RejectReason.VERIFICATION_IMPOSSIBLE: (
        "取引時確認等ができないため(同第5号)",
        "identity verification impossible (Art. 10-1-5)",
    ),
    RejectReason.OTHER: (
        "その他契約の締結が不適当と判断したため(同第6号)",
        "otherwise unsuitable (Art. 10-1-6)",
    ),
}


class SuspensionReason(StrEnum):
    """Art. 16-1: why the operator suspends the service (at most 6 months)."""

    UNPAID = "unpaid"  # (1), also "until paid" under Art. 16-2
    FALSE_INFORMATION = "false_information"  # (2)
    BREACH = "breach"  # (3): Art. 31, 43, 44, 46
    OTHER = "other"  # (4)


class PauseReason(StrEnum):
    """Art. 17-1: why the operator pauses the service (fees still owed, Art. 22-4)."""

    MAINTENANCE = "maintenance"  # (1)
    CONGESTION = "congestion"  # (2)
    CARRIER_OUTAGE = "carrier_outage"  # (3)
    OTHER = "other"  # (4)


class TerminationGround(StrEnum):
    """Art. 20: why the operator terminates the contract."""

    BREACH = "breach"  # 20-1 (1)
    SUSPENSION_UNRESOLVED = "suspension_unresolved"  # (2)
    ADDON_SUSPENSION_UNRESOLVED = "addon_suspension_unresolved"  # (3)
    FACILITIES_IMPOSSIBLE = "facilities_impossible"  # (4)
    PREMISES_LOST = "premises_lost"  # (5)
    INSOLVENCY = "insolvency"  # (6)
    OTHER_GRAVE = "other_grave"  # (7)
    DISRUPTIVE_CAUSE = "disruptive_cause"  # 20-2: an Art. 16-1 cause hindering operations


class DocumentKind(StrEnum):
    """Identity-verification documents (Art. 9-2)."""

    CORPORATE_REGISTRY = "corporate_registry"  # 法人登記事項証明書
    SEAL_CERTIFICATE = "seal_certificate"  # 法人印鑑登録証明書
    OTHER = "other"


REQUIRED_DOCUMENTS = (DocumentKind.CORPORATE_REGISTRY, DocumentKind.SEAL_CERTIFICATE)
DOCUMENT_MAX_AGE_MONTHS = 6
SUSPENSION_MAX_MONTHS = 6


def refused(code: str, ja: str, en: str, field: str | None = None) -> Conflict:
    """A request the terms do not allow."""
    return Conflict(code, ja, en, [FieldError(field, code, ja, en)] if field else [])


def invalid(field: str, code: str, ja: str, en: str) -> ValidationFailed:
    """A request that does not validate."""
    return ValidationFailed(code, ja, en, [FieldError(field, code, ja, en)])


def service_start_date(go_live: date) -> date:
    """The service starts on the 1st of the month containing the go-live date (Art. 11-2)."""
    return month_start(go_live)


@dataclass(frozen=True, slots=True)
class DocumentIn:
    """An identity document as submitted: kind, issue date and the file."""

    kind: DocumentKind
    issued_on: date
    filename: str
    content: bytes
    content_type: str = "application/pdf"


def check_identity_documents(
    needed: bool, documents: Iterable[DocumentIn], submitted_on: date
) -> None:
    """With operator-named or fixed numbers, both certificates, each issued ≤ 6 months ago."""
    docs = list(documents)
    oldest = months_before(submitted_on, DOCUMENT_MAX_AGE_MONTHS)
    for doc in docs:
        if doc.issued_on > submitted_on:
            raise invalid(
                "documents",
                "document_issued_in_future",
                f"{doc.filename} の発行日が申込日より後です。",
                f"{doc.filename} is dated after the application.",
            )
        if doc.kind in REQUIRED_DOCUMENTS and doc.issued_on < oldest:
            raise invalid(
                "documents",
                "document_too_old",
                f"{doc.filename} は発行日から6ヶ月を超えています(発行日 {doc.issued_on}、"
                f"{oldest} 以降の発行が必要です。第9条第2項)。",
                f"{doc.filename} was issued on {doc.issued_on}, more than 6 months ago; it must "
                f"be issued on or after {oldest} (Art. 9-2).",
            )
    if needed:
        missing = [k for k in REQUIRED_DOCUMENTS if k not in {d.kind for d in docs}]
        if missing:
            raise invalid(
                "documents",
                "identity_documents_required",
                "当社名義の電話回線または固定電話番号を利用する場合、法人登記事項証明書と"
                "法人印鑑登録証明書が必要です(第9条第2項)。",
                "Operator-named or fixed numbers need the corporate registry and seal "
                f"certificates (Art. 9-2); missing: {[m.value for m in missing]}.",
            )


def check_lead_time(
    filed_on: date, effective_on: date, months: int, article: str, field: str = "effective_on"
) -> None:
    """Refuse a filing made later than ``months`` months before ``effective_on``."""
    deadline = months_before(effective_on, months)
    if filed_on > deadline:
        raise refused(
            "lead_time_not_met",
            f"{effective_on} の実施には {deadline} までの申請が必要です"
            f"({months}ヶ月前まで、{article})。",
            f"Taking effect on {effective_on} needs filing by {deadline} "
            f"({months} month(s) ahead, {article}).",
            field,
        )


def check_month_end(day: date, article: str, field: str = "effective_on") -> None:
    """Refuse a date that is not the last day of a month."""
    if not is_month_end(day):
        raise invalid(
            field,
            "not_month_end",
            f"{day} は月末日ではありません(毎月末日付、{article})。",
            f"{day} is not the last day of a month ({article}).",
        )


def cancellation_deadline(leave_on: date) -> date:
    """The last day to file a cancellation effective ``leave_on`` (Art. 19)."""
    return months_before(leave_on, 1)


def check_suspension(
    reason: SuspensionReason, starts_at: datetime, ends_at: datetime | None, until_paid: bool
) -> None:
    """At most 6 months (Art. 16-1); open-ended only for unpaid fees, until paid (16-2)."""
    if until_paid:
        if reason is not SuspensionReason.UNPAID:
            raise invalid(
                "until_paid",
                "until_paid_only_for_unpaid",
                "「支払われるまで」の停止は料金未払いの場合だけです(第16条第2項)。",
                "Suspension until paid is only for unpaid fees (Art. 16-2).",
            )
        return
    if ends_at is None:
        raise invalid(
            "ends_at",
            "suspension_needs_end",
            "停止期間の終了を指定してください(6ヶ月以内、第16条第1項)。",
            "A suspension needs an end, at most 6 months later (Art. 16-1).",
        )
    start, end = starts_at.astimezone(JST), ends_at.astimezone(JST)
    limit = add_months(start.date(), SUSPENSION_MAX_MONTHS)
    if end.date() > limit or (end.date() == limit and end.time() > start.time()):
        raise invalid(
            "ends_at",
            "suspension_too_long",
            "停止期間は6ヶ月以内です(第16条第1項)。",
            "A suspension lasts at most 6 months (Art. 16-1).",
        )
