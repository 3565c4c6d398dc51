"""Contract rules (R3.*) as pure code: lead times, documents, suspension periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from koe.contracts.rules import (
    DocumentIn,
    DocumentKind,
    SuspensionReason,
    cancellation_deadline,
    check_identity_documents,
    check_lead_time,
    check_month_end,
    check_suspension,
    service_start_date,
)
from koe.core.errors import Conflict, ValidationFailed

TODAY = date(2026, 11, 24)


def doc(kind: DocumentKind, issued: date) -> DocumentIn:
    return DocumentIn(kind, issued, f"{kind.value}.pdf", b"%PDF-1.4")


def test_service_starts_on_the_first_of_the_go_live_month() -> None:
    assert service_start_date(date(2026, 11, 20)) == date(2026, 11, 1)


def test_art19_leave_30_nov_file_by_30_oct_leave_31_mar_by_end_of_february() -> None:
    assert cancellation_deadline(date(2026, 11, 30)) == date(2026, 10, 30)
    assert cancellation_deadline(date(2027, 3, 31)) == date(2027, 2, 28)
    check_lead_time(date(2026, 10, 30), date(2026, 11, 30), 1, "Art. 19")
    with pytest.raises(Conflict, match="2026-10-30"):
        check_lead_time(date(2026, 10, 31), date(2026, 11, 30), 1, "Art. 19")
    check_lead_time(date(2027, 2, 28), date(2027, 3, 31), 1, "Art. 19")
    with pytest.raises(Conflict):
        check_lead_time(date(2027, 3, 1), date(2027, 3, 31), 1, "Art. 19")


def test_three_and_six_month_notices() -> None:
    # tariff change on 1 Apr 2027: announce by 1 Jan 2027 (Art. 21-3)
    check_lead_time(date(2027, 1, 1), date(2027, 4, 1), 3, "Art. 21-3")
    with pytest.raises(Conflict):
        check_lead_time(date(2027, 1, 2), date(2027, 4, 1), 3, "Art. 21-3")
    # abolition on 31 Aug 2027: notice by 28 Feb 2027 (Art. 48: 6 months)
    check_lead_time(date(2027, 2, 28), date(2027, 8, 31), 6, "Art. 48")
    with pytest.raises(Conflict):
        check_lead_time(date(2027, 3, 1), date(2027, 8, 31), 6, "Art. 48")


def test_month_end_required() -> None:
    check_month_end(date(2028, 2, 29), "Art. 19")
    with pytest.raises(ValidationFailed, match="last day of a month"):
        check_month_end(date(2026, 11, 29), "Art. 19")


def test_identity_documents_needed_with_operator_numbers_and_at_most_6_months_old() -> None:
    fresh = [
        doc(DocumentKind.CORPORATE_REGISTRY, date(2026, 5, 24)),
        doc(DocumentKind.SEAL_CERTIFICATE, date(2026, 11, 1)),
    ]
    check_identity_documents(True, fresh, TODAY)  # 24 May is exactly 6 months before 24 Nov
    with pytest.raises(ValidationFailed) as err:
        check_identity_documents(
            True, [doc(DocumentKind.CORPORATE_REGISTRY, date(2026, 5, 23)), fresh[1]], TODAY
        )
    assert err.value.code == "document_too_old"
    with pytest.raises(ValidationFailed) as err:
        check_identity_documents(True, fresh[:1], TODAY)
    assert err.value.code == "identity_documents_required"
    check_identity_documents(False, [], TODAY)


def test_suspension_at_most_6_months_or_until_paid_for_unpaid_fees() -> None:
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    check_suspension(SuspensionReason.BREACH, start, datetime(2027, 5, 24, 1, 0, tzinfo=UTC), False)
    with pytest.raises(ValidationFailed, match="6"):
        check_suspension(
            SuspensionReason.BREACH, start, datetime(2027, 5, 25, 1, 0, tzinfo=UTC), False
        )
    check_suspension(SuspensionReason.UNPAID, start, None, True)
    with pytest.raises(ValidationFailed):
        check_suspension(SuspensionReason.BREACH, start, None, True)
    with pytest.raises(ValidationFailed):
        check_suspension(SuspensionReason.BREACH, start, None, False)
