"""License rules (R2.1, R2.2) with worked examples."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koe.core.domain import LicenseKind
from koe.core.errors import LicenseExceeded
from koe.licensing.counters import ConcurrencyCounter
from koe.licensing.rules import (
    DeviceInUse,
    Holdings,
    check_named_users,
    decide_admin_login,
    holdings_on,
)


@dataclass
class Row:
    kind: LicenseKind
    quantity: int
    effective_from: date
    effective_to: date | None = None


def test_holdings_sum_rows_in_force_on_the_day() -> None:
    rows = [
        Row(LicenseKind.SEAT, 6, date(2026, 11, 1)),
        Row(LicenseKind.SEAT, 2, date(2026, 12, 1)),  # not yet
        Row(LicenseKind.ADDITIONAL_USER, 1, date(2026, 10, 1), date(2026, 10, 31)),  # ended
        Row(LicenseKind.LINE, 5, date(2026, 11, 1)),
    ]
    held = holdings_on(rows, date(2026, 11, 24))
    assert held == Holdings(line=5, seat=6, admin=0, additional_user=0)
    assert holdings_on(rows, date(2026, 12, 1)).seat == 8
    assert holdings_on(rows, date(2026, 10, 31)).additional_user == 1  # end date inclusive


def test_six_seats_allow_six_named_users_not_seven() -> None:
    # R2.1: named users allowed = seats (6) + additional users (0) = 6.
    held = Holdings(seat=6)
    check_named_users(held, current=5)
    with pytest.raises(LicenseExceeded) as info:
        check_named_users(held, current=6)
    assert info.value.code == "license_users_exceeded"
    assert "6" in info.value.message_en
    check_named_users(Holdings(seat=6, additional_user=1), current=6)  # bought one more


@given(
    seat=st.integers(0, 50),
    extra=st.integers(0, 50),
    current=st.integers(0, 120),
    adding=st.integers(1, 20),
)
def test_named_user_rule_is_exactly_seats_plus_additional(
    seat: int, extra: int, current: int, adding: int
) -> None:
    held = Holdings(seat=seat, additional_user=extra)
    if current + adding <= seat + extra:
        check_named_users(held, current, adding)
    else:
        with pytest.raises(LicenseExceeded):
            check_named_users(held, current, adding)


T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def _device(name: str, minutes_ago: int) -> DeviceInUse:
    at = T0 - timedelta(minutes=minutes_ago)
    return DeviceInUse(device_id=name, label=f"PC {name}", since=at, last_seen=at)


def test_admin_device_within_licenses_is_allowed() -> None:
    assert decide_admin_login(2, [_device("a", 5)], "b", takeover=False).release == ()


def test_same_device_may_log_in_again() -> None:
    assert decide_admin_login(1, [_device("a", 5)], "a", takeover=False).release == ()


def test_extra_device_is_refused_with_the_devices_listed() -> None:
    with pytest.raises(LicenseExceeded) as info:
        decide_admin_login(1, [_device("a", 5)], "b", takeover=False)
    assert info.value.code == "license_admin_devices_in_use"
    assert info.value.details["devices"][0]["device_id"] == "a"
    assert "PC a" in info.value.message_ja


def test_takeover_releases_the_least_recently_used_device() -> None:
    in_use = [_device("new", 1), _device("old", 60)]
    decision = decide_admin_login(2, in_use, "third", takeover=True)
    assert decision.release == ("old",)


def test_no_admin_license_at_all_is_refused_even_with_takeover() -> None:
    with pytest.raises(LicenseExceeded) as info:
        decide_admin_login(0, [], "a", takeover=True)
    assert info.value.code == "license_admin_none"


def test_concurrency_counter_limits_and_releases() -> None:
    lines = ConcurrencyCounter("line")
    assert lines.try_acquire("t1", "call-1", 2)
    assert lines.try_acquire("t1", "call-1", 2)  # idempotent per key
    assert lines.try_acquire("t1", "call-2", 2)
    assert not lines.try_acquire("t1", "call-3", 2)
    assert lines.try_acquire("t2", "call-9", 1)  # tenants are counted apart
    lines.release("t1", "call-1")
    assert lines.try_acquire("t1", "call-3", 2)
    lines.rebuild("t1", {"a"})
    assert lines.in_use("t1") == 1
