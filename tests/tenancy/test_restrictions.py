"""Allowed-right-now from overlapping dated restrictions (R3.6–R3.9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from koe.core.domain import AddOn, ContractStatus, RestrictionKind
from koe.tenancy.restrictions import allowance

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)


@dataclass
class R:
    kind: RestrictionKind
    starts_at: datetime
    ends_at: datetime | None = None
    addon: AddOn | None = None
    lifted_at: datetime | None = None
    reason: str = ""


@dataclass
class Sub:
    addon: AddOn
    starts_on: date
    ends_on: date | None = None


def H(hours: float) -> timedelta:  # noqa: N802
    return timedelta(hours=hours)


SUBS = [Sub(AddOn.RECORDING_DELIVERY, date(2026, 11, 1))]


def test_active_tenant_without_restrictions_may_do_everything() -> None:
    a = allowance(ContractStatus.ACTIVE, [], SUBS, NOW, TODAY)
    assert a.inbound_calls and a.outbound_calls and a.agent_login and a.admin_login
    assert a.allows_addon(AddOn.RECORDING_DELIVERY)
    assert not a.allows_addon(AddOn.TRANSCRIPTION)


def test_applied_or_ended_tenant_takes_no_calls() -> None:
    assert not allowance(ContractStatus.APPLIED, [], SUBS, NOW, TODAY).inbound_calls
    ended = allowance(ContractStatus.ENDED, [], SUBS, NOW, TODAY)
    assert not ended.inbound_calls and not ended.admin_login


def test_overlapping_suspension_and_pause() -> None:
    records = [
        R(RestrictionKind.SUSPENSION, NOW - H(10), NOW + H(2), reason="unpaid"),
        R(RestrictionKind.PAUSE, NOW + H(1), NOW + H(5), reason="maintenance"),
    ]
    during_both = allowance(ContractStatus.ACTIVE, records, SUBS, NOW + H(1.5), TODAY)
    assert not during_both.inbound_calls
    assert {r.kind for r in during_both.active} == {
        RestrictionKind.SUSPENSION,
        RestrictionKind.PAUSE,
    }
    # The suspension ends but the pause still holds.
    pause_only = allowance(ContractStatus.ACTIVE, records, SUBS, NOW + H(3), TODAY)
    assert not pause_only.agent_login
    assert [r.reason for r in pause_only.active] == ["maintenance"]
    assert allowance(ContractStatus.ACTIVE, records, SUBS, NOW + H(5), TODAY).inbound_calls


def test_admins_may_log_in_while_suspended() -> None:
    records = [R(RestrictionKind.SUSPENSION, NOW - H(1))]
    a = allowance(ContractStatus.ACTIVE, records, SUBS, NOW, TODAY)
    assert a.admin_login and not a.agent_login
    assert not a.allows_addon(AddOn.RECORDING_DELIVERY)


def test_lifted_restriction_no_longer_applies() -> None:
    records = [R(RestrictionKind.INTERRUPTION, NOW - H(5), None, lifted_at=NOW - H(1))]
    assert allowance(ContractStatus.ACTIVE, records, SUBS, NOW, TODAY).inbound_calls
    assert not allowance(ContractStatus.ACTIVE, records, SUBS, NOW - H(2), TODAY).inbound_calls


def test_addon_suspension_stops_only_that_addon() -> None:
    subs = [*SUBS, Sub(AddOn.TRANSCRIPTION, date(2026, 11, 1))]
    records = [R(RestrictionKind.ADDON_SUSPENSION, NOW - H(1), addon=AddOn.TRANSCRIPTION)]
    a = allowance(ContractStatus.ACTIVE, records, subs, NOW, TODAY)
    assert a.inbound_calls
    assert a.allows_addon(AddOn.RECORDING_DELIVERY)
    assert not a.allows_addon(AddOn.TRANSCRIPTION)


def test_scheduled_cancellation_takes_effect_at_its_start() -> None:
    end = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 2026-12-01 00:00 JST
    records = [R(RestrictionKind.SCHEDULED_CANCELLATION, end)]
    assert allowance(ContractStatus.ACTIVE, records, SUBS, end - H(1), TODAY).inbound_calls
    assert not allowance(ContractStatus.ACTIVE, records, SUBS, end, TODAY).inbound_calls
