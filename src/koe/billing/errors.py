"""Billing errors people can see: stable codes, Japanese and English messages."""

from __future__ import annotations

from koe.core.errors import Conflict, FieldError, NotFound, ValidationFailed, not_found


class IssuerMissing(Conflict):
    """No invoice issuer (name and registration number) is configured."""


class InvoiceNotCorrectable(Conflict):
    """Only an issued invoice (not a credit note, not already cancelled) can be corrected."""


def invoice_not_found() -> NotFound:
    """The invoice does not exist or belongs to another tenant."""
    return not_found("請求書", "Invoice")


def invalid(field: str, code: str, ja: str, en: str) -> ValidationFailed:
    """A validation error on ``field``."""
    return ValidationFailed(code, ja, en, [FieldError(field, code, ja, en)])
