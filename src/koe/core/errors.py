"""One root error class with stable codes, HTTP status and bilingual messages.

Every error that can reach a person carries a stable ``code`` (clients match on it),
a Japanese and an English message, and optional per-field details. The API renders
them in one place (``koe.api.errors``); the CLI prints them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one input field (or CSV row/column)."""

    field: str
    code: str
    message_ja: str
    message_en: str

    def message(self, lang: str) -> str:
        """The message in ``lang`` ("ja" or "en")."""
        return self.message_ja if lang == "ja" else self.message_en


@dataclass(eq=False)
class KoeError(Exception):
    """Root of every error Koe raises on purpose."""

    code: str
    message_ja: str
    message_en: str
    fields: list[FieldError] = field(default_factory=list)
    details: Mapping[str, Any] = field(default_factory=dict)
    status: ClassVar[int] = 400

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.code}: {self.message_en}")

    def message(self, lang: str) -> str:
        """The message in ``lang`` ("ja" or "en")."""
        return self.message_ja if lang == "ja" else self.message_en


class ValidationFailed(KoeError):
    """Input that does not validate; ``fields`` says where."""

    status = 422


class NotFound(KoeError):
    """The object does not exist, or belongs to another tenant (never say which)."""

    status = 404


class Conflict(KoeError):
    """The request clashes with existing state (duplicates, wrong lifecycle state)."""

    status = 409


class AuthenticationFailed(KoeError):
    """Missing, wrong, expired or revoked credentials."""

    status = 401


class PermissionDenied(KoeError):
    """Authenticated, but the role does not allow this."""

    status = 403


class Throttled(KoeError):
    """Too many attempts; retry later."""

    status = 429


class LicenseExceeded(KoeError):
    """A license limit (R2.2) refuses the request."""

    status = 409


class RestrictionActive(KoeError):
    """A contract restriction (suspension, pause, interruption: R3.6) refuses the request."""

    status = 403


def not_found(kind_ja: str, kind_en: str) -> NotFound:
    """A uniform 404 for ``kind`` that never reveals whether another tenant owns it."""
    return NotFound("not_found", f"{kind_ja}が見つかりません。", f"{kind_en} not found.")
