"""What the licenses a tenant holds allow (R2.1, R2.2).

- Named users (agents and supervisors) ≤ seats + additional users; admin-only accounts are
  covered by admin licenses (R2.1).
- Admin licenses count admin PCs (devices) in use; the (N+1)th device is refused with the
  list of devices in use and an offer to take over, which releases the oldest (R2.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from koe.core.domain import LicenseKind
from koe.core.errors import LicenseExceeded


class HoldingRow(Protocol):
    """A dated license holding (the store's LicenseHolding fits)."""

    @property
    def kind(self) -> LicenseKind: ...
    @property
    def quantity(self) -> int: ...
    @property
    def effective_from(self) -> date: ...
    @property
    def effective_to(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class Holdings:
    """License quantities in force on one day."""

    line: int = 0
    seat: int = 0
    admin: int = 0
    additional_user: int = 0

    @property
    def named_users(self) -> int:
        """Users allowed: one per seat license plus additional user licenses (R2.1)."""
        return self.seat + self.additional_user

    def of(self, kind: LicenseKind) -> int:
        """The quantity of ``kind``."""
        return int(getattr(self, kind.value))


def holdings_on(rows: Iterable[HoldingRow], day: date) -> Holdings:
    """Sum the holdings in force on ``day`` (``effective_to`` is inclusive)."""
    totals = dict.fromkeys(LicenseKind, 0)
    for row in rows:
        if row.effective_from <= day and (row.effective_to is None or day <= row.effective_to):
            totals[row.kind] += row.quantity
    return Holdings(**{k.value: v for k, v in totals.items()})


def check_named_users(holdings: Holdings, current: int, adding: int = 1) -> None:
    """Refuse adding ``adding`` named users when that would exceed seats + additional users."""
    allowed = holdings.named_users
    if current + adding > allowed:
        raise LicenseExceeded(
            "license_users_exceeded",
            f"ユーザー数の上限({allowed}名 = シート{holdings.seat} + 追加ユーザー"
            f"{holdings.additional_user})に達しています。追加ユーザーライセンスをご購入ください。",
            f"User limit reached: {allowed} named users allowed (seats {holdings.seat} + "
            f"additional users {holdings.additional_user}). Buy an additional user license.",
            details={"allowed": allowed, "in_use": current},
        )


@dataclass(frozen=True, slots=True)
class DeviceInUse:
    """An admin PC holding an admin license right now."""

    device_id: str
    label: str
    since: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class AdminLoginDecision:
    """Outcome of an admin login from ``device_id``: which devices to release, if any."""

    release: tuple[str, ...]


def decide_admin_login(
    admin_licenses: int, in_use: Sequence[DeviceInUse], device_id: str, *, takeover: bool
) -> AdminLoginDecision:
    """Allow, allow by releasing the oldest devices (takeover), or refuse with the list (R2.2).

    A device already in use may always log in again (same PC, new session). Never a lock-out:
    with ``takeover`` the least recently used devices are released to make room.
    """
    if any(d.device_id == device_id for d in in_use):
        return AdminLoginDecision(release=())
    if admin_licenses <= 0:
        raise LicenseExceeded(
            "license_admin_none",
            "管理機能ライセンスがありません。",
            "This tenant holds no admin license.",
        )
    if len(in_use) < admin_licenses:
        return AdminLoginDecision(release=())
    oldest_first = sorted(in_use, key=lambda d: (d.last_seen, d.since))
    excess = len(in_use) - admin_licenses + 1
    if takeover:
        return AdminLoginDecision(release=tuple(d.device_id for d in oldest_first[:excess]))
    listing = [
        {
            "device_id": d.device_id,
            "label": d.label,
            "since": d.since.isoformat(),
            "last_seen": d.last_seen.isoformat(),
        }
        for d in oldest_first
    ]
    names = "、".join(d.label or d.device_id for d in oldest_first)
    names_en = ", ".join(d.label or d.device_id for d in oldest_first)
    raise LicenseExceeded(
        "license_admin_devices_in_use",
        f"管理機能ライセンス({admin_licenses})はすべて使用中です: {names}。"
        "最も古い端末を解放して引き継ぐには takeover を指定してください。",
        f"All {admin_licenses} admin licenses are in use by: {names_en}. "
        "Log in with takeover to release the oldest device.",
        details={"devices": listing, "takeover": True},
    )
