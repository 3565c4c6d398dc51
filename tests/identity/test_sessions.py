"""AuthService on a real database: admin PCs, takeover order, throttling windows, sessions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from koe.app import Koe
from koe.core.clock import FrozenClock
from koe.core.domain import LicenseKind, Role
from koe.core.errors import (
    AuthenticationFailed,
    Conflict,
    LicenseExceeded,
    Throttled,
    ValidationFailed,
)
from koe.identity.sessions import LoginResult, token_hash
from koe.store.models import AuditEntry, AuthSession, LoginThrottle

PASSWORD = "correct horse battery"


async def _tenant(koe: Koe, code: str, admins: int) -> str:
    view = await koe.tenants.create(
        {
            "code": code,
            "company_name": code,
            "representative_name": "代表",
            "address": "東京都",
            "phone": "0300000000",
        }
    )
    if admins:
        await koe.tenants.add_license(view["id"], LicenseKind.ADMIN, admins)
    await koe.directory.create(
        view["id"],
        "users",
        {"login": "admin", "name": "管理者", "role": "tenant_admin", "password": PASSWORD},
    )
    return str(view["id"])


async def _admin_login(koe: Koe, code: str, device: str, **kw: object) -> LoginResult:
    return await koe.auth.login(
        tenant_code=code,
        login="admin",
        password=PASSWORD,
        source="127.0.0.1",
        device_id=device,
        **kw,  # type: ignore[arg-type]
    )


async def test_no_admin_license_refuses_admin_logins(koe: Koe) -> None:
    await _tenant(koe, "no-admin", admins=0)
    with pytest.raises(LicenseExceeded) as refused:
        await _admin_login(koe, "no-admin", "device-0001", takeover=True)
    assert refused.value.code == "license_admin_none"


async def test_takeover_releases_the_least_recently_used_pc(koe: Koe, clock: FrozenClock) -> None:
    tenant_id = await _tenant(koe, "two-pcs", admins=2)
    first = await _admin_login(koe, "two-pcs", "pc-first-01")
    clock.advance(timedelta(minutes=5))
    second = await _admin_login(koe, "two-pcs", "pc-second-1")
    clock.advance(timedelta(minutes=5))
    await koe.auth.authenticate(first.token)  # the first PC is used again, the second is idle

    devices = await koe.auth.devices(tenant_id)
    assert devices.licenses == 2
    assert [(d.device_id, d.last_seen) for d in devices.devices] == [
        ("pc-first-01", clock.now()),
        ("pc-second-1", clock.now() - timedelta(minutes=5)),
    ]
    with pytest.raises(LicenseExceeded) as refused:
        await _admin_login(koe, "two-pcs", "pc-third-01")
    listed = refused.value.details["devices"]
    assert [d["device_id"] for d in listed] == ["pc-second-1", "pc-first-01"]

    third = await _admin_login(koe, "two-pcs", "pc-third-01", takeover=True)
    assert third.released_devices == ("pc-second-1",)
    with pytest.raises(AuthenticationFailed, match="session_revoked"):
        await koe.auth.authenticate(second.token)
    assert (await koe.auth.authenticate(first.token)).device_id == "pc-first-01"
    async with koe.db.transaction() as s:
        audit = await s.execute(select(AuditEntry).where(AuditEntry.target == "pc-third-01"))
        assert audit.scalar_one().detail == {"released": ["pc-second-1"]}


async def test_throttle_counts_within_a_window_and_unlocks(koe: Koe, clock: FrozenClock) -> None:
    await _tenant(koe, "window", admins=1)
    settings = koe.settings
    for _ in range(settings.login_max_failures):
        with pytest.raises(AuthenticationFailed):
            await koe.auth.login(
                tenant_code="window", login="ADMIN", password="wrong", source="10.0.0.1"
            )
    # The login key is case-insensitive, so "admin" is locked too.
    with pytest.raises(Throttled) as locked:
        await _admin_login(koe, "window", "device-0001")
    assert locked.value.details["retry_after"] == settings.login_lock_minutes * 60
    clock.advance(timedelta(minutes=settings.login_lock_minutes))
    result = await _admin_login(koe, "window", "device-0001")
    async with koe.db.transaction() as s:
        rows = {r.key: r for r in (await s.execute(select(LoginThrottle))).scalars()}
    assert rows["login:window:admin"].failures == 0  # a success clears the login's count
    assert rows["addr:10.0.0.1"].failures == settings.login_max_failures
    assert result.principal.role is Role.TENANT_ADMIN


async def test_sessions_store_hashes_and_expire(koe: Koe, clock: FrozenClock) -> None:
    await _tenant(koe, "expire", admins=1)
    result = await _admin_login(koe, "expire", "device-0001")
    async with koe.db.transaction() as s:
        row = (await s.execute(select(AuthSession))).scalar_one()
    assert row.token_hash == token_hash(result.token)
    assert result.principal.expires_at == clock.now() + timedelta(hours=koe.settings.session_hours)
    clock.set(result.principal.expires_at)
    with pytest.raises(AuthenticationFailed, match="session_expired"):
        await koe.auth.authenticate(result.token)


async def test_device_ids_and_operator_users_are_checked(koe: Koe) -> None:
    await _tenant(koe, "device-check", admins=1)
    with pytest.raises(ValidationFailed, match="device_id_required"):
        await _admin_login(koe, "device-check", "short")
    created = await koe.auth.add_operator_user("ops", "運営", PASSWORD, Role.OPERATOR_ADMIN)
    assert created["role"] == "operator_admin"
    with pytest.raises(Conflict, match="duplicate"):
        await koe.auth.add_operator_user("ops", "運営", PASSWORD)
    with pytest.raises(ValidationFailed, match="invalid_role"):
        await koe.auth.add_operator_user("ops2", "運営", PASSWORD, Role.AGENT)
    op = await koe.auth.login(tenant_code=None, login="ops", password=PASSWORD, source="::1")
    assert (op.principal.tenant_id, op.principal.is_operator) == (None, True)


async def test_concurrent_admin_logins_cannot_both_take_the_last_license(koe: Koe) -> None:
    await _tenant(koe, "race", admins=1)
    results = await asyncio.gather(
        *(_admin_login(koe, "race", f"racing-pc-{n:02d}") for n in range(4)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, LoginResult)]
    lost = [r for r in results if isinstance(r, LicenseExceeded)]
    assert (len(won), len(lost)) == (1, 3), results


async def test_finished_throttle_counters_are_pruned(koe: Koe, clock: FrozenClock) -> None:
    await _tenant(koe, "prune", admins=1)
    for n in range(3):
        with pytest.raises(AuthenticationFailed):
            await koe.auth.login(
                tenant_code="prune", login=f"ghost{n}", password="x", source="10.0.0.9"
            )
    clock.advance(timedelta(minutes=koe.settings.login_lock_minutes, seconds=1))
    with pytest.raises(AuthenticationFailed):
        await koe.auth.login(tenant_code="prune", login="late", password="x", source="10.0.0.8")
    async with koe.db.transaction() as s:
        keys = {r.key for r in (await s.execute(select(LoginThrottle))).scalars()}
    assert keys == {"login:prune:late", "addr:10.0.0.8"}
