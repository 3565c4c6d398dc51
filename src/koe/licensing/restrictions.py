"""What a tenant may do right now, from its contract status and dated restrictions (R3.6–R3.9).

Restrictions are records with a start and an optional end; they may overlap (a pause during a
suspension, a scheduled cancellation on top of both). Nothing here is a single state field:
the answer is recomputed from the records for any instant. Pure rules, below
``koe.identity`` in the layer map, so that logins can be refused with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from koe.core.clock import JST
from koe.core.domain import AddOn, ContractStatus, RestrictionKind
from koe.core.errors import RestrictionActive

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


# How a restriction is named to the people it stops (ja, en).
_KIND_TEXT = {
    RestrictionKind.SUSPENSION: ("サービスの提供停止(第16条)", "suspension (Art. 16)"),
    RestrictionKind.PAUSE: ("サービスの提供休止(第17条)", "planned pause (Art. 17)"),
    RestrictionKind.INTERRUPTION: ("一時中断(第18条)", "temporary interruption (Art. 18)"),
    RestrictionKind.SCHEDULED_CANCELLATION: (
        "契約の終了(第19条・第20条)",
        "end of the contract (Art. 19, 20)",
    ),
}


def _until(restriction: ActiveRestriction) -> tuple[str, str]:
    if restriction.until is not None:
        at = f"{restriction.until.astimezone(JST):%Y-%m-%d %H:%M}"
        return f"{at}(日本時間)まで", f"until {at} JST"
    if restriction.kind is RestrictionKind.SCHEDULED_CANCELLATION:
        return "終了日以降", "from the end date on"
    if "until_paid" in restriction.reason:
        return "料金等のお支払いが確認されるまで", "until the fees are paid"
    return "終了日未定", "no end date set yet"


def agent_login_refusal(status: ContractStatus, allowed: Allowance) -> RestrictionActive | None:
    """Why agents and supervisors may not log in now (None: they may), naming the restriction
    in force that ends last and its end. Tenant admins are never refused here.

    A contract that is not yet active (applied) restricts nothing: its people prepare and
    train before the service starts, while calls are not routed (``inbound_calls`` is False).
    """
    if allowed.agent_login:
        return None
    stopping = [r for r in allowed.active if r.addon is None and r.kind in _STOPS_AGENTS]
    if not stopping:
        if status is not ContractStatus.ENDED:
            return None
        return RestrictionActive(
            "tenant_restricted",
            "契約が終了しているため、エージェント・スーパーバイザーはログインできません。",
            "The contract has ended: agents and supervisors cannot log in.",
            details={"restriction": "contract_ended", "until": None},
        )
    # The one that ends last (open-ended first) says when logins can resume.
    last = max(
        stopping, key=lambda r: (r.until is None, r.until or datetime.min.replace(tzinfo=JST))
    )
    label_ja, label_en = _KIND_TEXT[last.kind]
    until_ja, until_en = _until(last)
    return RestrictionActive(
        "tenant_restricted",
        f"{label_ja}中のため、エージェント・スーパーバイザーはログインできません"
        f"(期間: {until_ja})。テナント管理者はログインできます。",
        f"Agents and supervisors cannot log in during the {label_en} of the service "
        f"({until_en}). Tenant admins can still log in.",
        details={
            "restriction": last.kind.value,
            "until": None if last.until is None else last.until.isoformat(),
        },
    )
