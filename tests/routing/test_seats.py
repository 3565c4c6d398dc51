"""R2.2: concurrently logged-in agents ≤ seat licenses; the next login is refused clearly."""

from __future__ import annotations

import pytest

from koe.core.errors import LicenseExceeded, ValidationFailed
from koe.licensing.counters import ConcurrencyCounter
from tests.routing.conftest import Acd, T


def test_login_beyond_the_seats_is_refused_with_a_bilingual_reason(acd: Acd) -> None:
    acd.engine.set_seat_limit(T, 2)
    acd.login("a1")
    acd.login("a2", ready=False)
    with pytest.raises(LicenseExceeded) as err:
        acd.login("a3")
    e = err.value
    assert e.code == "license_seats_exceeded"
    assert e.status == 409
    assert e.details == {"allowed": 2, "in_use": 2}
    assert "All 2 seat licenses are in use" in e.message_en
    assert "シートライセンス(2)はすべて使用中です" in e.message_ja
    refused = [ev for ev in acd.engine.take_events() if ev.type == "agent.login_refused"]
    assert refused[-1].data == {
        "agent_id": "a3",
        "code": "license_seats_exceeded",
        "allowed": 2,
        "in_use": 2,
    }
    assert [v.agent_id for v in acd.engine.agents(T)] == ["a1", "a2"]


@pytest.mark.parametrize("leave", ["logout", "connection_lost"])
def test_leaving_frees_the_seat(acd: Acd, leave: str) -> None:
    acd.engine.set_seat_limit(T, 1)
    acd.login("a1")
    with pytest.raises(LicenseExceeded):
        acd.login("a2")
    acd.do(leave, "a1")
    acd.login("a2")
    assert acd.engine.seats.in_use(T) == 1


def test_presence_timeout_frees_the_seat() -> None:
    acd = Acd(presence_timeout=30.0)
    acd.engine.set_seat_limit(T, 1)
    acd.login("a1")
    acd.wait(30)
    acd.login("a2")
    assert [v.agent_id for v in acd.engine.agents(T)] == ["a2"]


def test_no_seat_license_at_all(acd: Acd) -> None:
    acd.engine.set_seat_limit(T, 0)
    with pytest.raises(LicenseExceeded) as err:
        acd.login("a1")
    assert err.value.code == "license_seats_exceeded"
    assert "no seat license" in err.value.message_en
    assert "シートライセンスがない" in err.value.message_ja


def test_a_tenant_never_configured_has_no_seats() -> None:
    acd = Acd()
    with pytest.raises(LicenseExceeded):
        acd.engine.login("tenant-2", "a1", {})


def test_seats_are_counted_per_tenant(acd: Acd) -> None:
    acd.engine.set_seat_limit(T, 1)
    acd.engine.set_seat_limit("tenant-2", 1)
    acd.login("a1")
    acd.engine.login("tenant-2", "a1", {})
    assert acd.engine.seats.in_use(T) == acd.engine.seats.in_use("tenant-2") == 1


def test_lowering_the_limit_keeps_logged_in_agents_and_refuses_new_ones(acd: Acd) -> None:
    acd.engine.set_seat_limit(T, 3)
    for a in ("a1", "a2", "a3"):
        acd.login(a)
    acd.engine.set_seat_limit(T, 1)
    assert len(acd.engine.agents(T)) == 3
    acd.do("logout", "a3")
    with pytest.raises(LicenseExceeded) as err:
        acd.login("a3")
    assert err.value.details == {"allowed": 1, "in_use": 2}


def test_the_counter_is_shared_with_licensing() -> None:
    from datetime import UTC, datetime

    from koe.core.clock import FrozenClock
    from koe.routing.engine import RoutingEngine

    seats = ConcurrencyCounter("seat")
    seats.rebuild(T, {"restored-agent"})
    engine = RoutingEngine(FrozenClock(datetime(2026, 1, 1, tzinfo=UTC)), seats=seats)
    engine.set_seat_limit(T, 1)
    with pytest.raises(LicenseExceeded):
        engine.login(T, "a1", {})
    seats.release(T, "restored-agent")
    engine.login(T, "a1", {})
    assert seats.in_use(T) == 1


def test_negative_seat_limit_is_invalid(acd: Acd) -> None:
    with pytest.raises(ValidationFailed):
        acd.engine.set_seat_limit(T, -1)
