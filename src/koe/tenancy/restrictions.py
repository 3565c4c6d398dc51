"""What a tenant may do right now, from its contract status and dated restrictions (R3.6–R3.9).

Restrictions are records with a start and an optional end; they may overlap (a pause during a
suspension, a scheduled cancellation on top of both). Nothing here is a single state field:
the answer is recomputed from the records for any instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from koe.core.domain import AddOn, ContractStatus, RestrictionKind

# Which restriction kinds stop which uses of the service.
_STOPS_CALLS = {
    RestrictionKind.SUSPENSION,
    RestrictionKind.PAUSE,
    RestrictionKind.INTERRUPTION,
    RestrictionKind.SCHEDULED_CANCELLATION,
}
_STOPS_AGENTS = _STOPS_CALLS


class RestrictionRow(Protocol):
    """A dated restriction (the store's TenantRestriction fits)."""

    @property
    def kind(self) -> RestrictionKind: ...
    @property
    def addon(self) -> AddOn | None: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime | None: ...
    @property
    def lifted_at(self) -> datetime | None: ...
    @property
    def reason(self) -> str: ...


class SubscriptionRow(Protocol):
    """An add-on subscription (the store's AddOnSubscription fits)."""

    @property
    def addon(self) -> AddOn: ...
    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class ActiveRestriction:
    """A restriction in force, for the reason shown to people."""

    kind: RestrictionKind
    addon: AddOn | None
    reason: str
    until: datetime | None


@dataclass(frozen=True, slots=True)
class Allowance:
    """What the tenant may do at one instant."""

    inbound_calls: bool
    outbound_calls: bool
    agent_login: bool
    admin_login: bool
    addons: frozenset[AddOn]
    active: tuple[ActiveRestriction, ...] = field(default=())

    def allows_addon(self, addon: AddOn) -> bool:
        """True if ``addon`` is subscribed and not suspended now."""
        return addon in self.addons


def _in_force(row: RestrictionRow, at: datetime) -> bool:
    if row.lifted_at is not None and row.lifted_at <= at:
        return False
    return row.starts_at <= at and (row.ends_at is None or at < row.ends_at)


def allowance(
    status: ContractStatus,
    restrictions: Iterable[RestrictionRow],
    subscriptions: Iterable[SubscriptionRow],
    at: datetime,
    today: date,
) -> Allowance:
    """Compute what is allowed at ``at`` (``today`` is the JST date of ``at``)."""
    live = status is ContractStatus.ACTIVE
    active = tuple(
        ActiveRestriction(r.kind, r.addon, r.reason, r.ends_at)
        for r in sorted(restrictions, key=lambda r: r.starts_at)
        if _in_force(r, at)
    )
    service_kinds = {r.kind for r in active if r.addon is None}
    calls = live and not (service_kinds & _STOPS_CALLS)
    agents = live and not (service_kinds & _STOPS_AGENTS)
    blocked_addons = {
        r.addon
        for r in active
        if r.addon is not None
        and r.kind in (RestrictionKind.ADDON_SUSPENSION, RestrictionKind.ADDON_CANCELLATION)
    }
    addons = frozenset(
        s.addon
        for s in subscriptions
        if calls
        and s.starts_on <= today
        and (s.ends_on is None or today <= s.ends_on)
        and s.addon not in blocked_addons
    )
    return Allowance(
        inbound_calls=calls,
        outbound_calls=calls,
        agent_login=agents,
        # Admins may still log in while restricted, to read notices and settle accounts.
        admin_login=status is not ContractStatus.ENDED,
        addons=addons,
        active=active,
    )
