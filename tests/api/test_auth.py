"""Authentication: login, throttling, expiry, logout and revocation."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from koe.app import Koe
from koe.core.clock import FrozenClock
from koe.core.domain import Role
from koe.store.models import AuthSession
from tests.api.conftest import BASE, PASSWORD, World


async def test_login_stores_only_a_hash_of_the_token(world: World, koe: Koe) -> None:
    t = await world.tenant("hashing")
    async with koe.db.transaction() as s:
        rows = (await s.execute(select(AuthSession))).scalars().all()
    assert len(rows) == 1
    assert rows[0].token_hash != t.admin.token
    assert len(rows[0].token_hash) == 64
    assert t.admin.token not in repr([r.__dict__ for r in rows])


async def test_wrong_credentials_answer_the_same(world: World) -> None:
    await world.tenant("creds")
    for tenant, login, password in (
        ("creds", "admin", "wrong password"),
        ("creds", "nobody", PASSWORD),
        ("no-such-tenant", "admin", PASSWORD),
        (None, "admin", PASSWORD),  # a tenant user is not operator staff
    ):
        response = await world.login(tenant, login, password, device_id=world.device())
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_throttled_after_max_failures_even_with_the_right_password(
    world: World, koe: Koe, clock: FrozenClock
) -> None:
    t = await world.tenant("throttle")
    limit = koe.settings.login_max_failures
    for _ in range(limit):
        failed = await world.login(t.code, "admin", "not the password")
        assert failed.status_code == 401
    locked = await world.login(t.code, "admin", PASSWORD, device_id=world.device())
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_throttled"
    lock_seconds = koe.settings.login_lock_minutes * 60
    assert 0 < int(locked.headers["retry-after"]) <= lock_seconds
    # The session already open is not affected.
    assert (await t.admin.get(f"{BASE}/auth/me")).status_code == 200

    clock.advance(timedelta(minutes=koe.settings.login_lock_minutes, seconds=1))
    device = (await t.admin.get(f"{BASE}/auth/me")).json()["device_id"]
    assert (await world.login(t.code, "admin", PASSWORD, device_id=device)).status_code == 200


async def test_throttled_per_source_address(world: World, koe: Koe, api_app: FastAPI) -> None:
    t = await world.tenant("per-address")
    device = (await t.admin.get(f"{BASE}/auth/me")).json()["device_id"]
    per_login, per_address = (
        koe.settings.login_max_failures,
        koe.settings.login_max_failures_per_address,
    )
    assert per_address > per_login
    # An office behind one NAT address: a few people's typos do not lock the others out.
    for n in range(per_login):
        assert (await world.login(t.code, f"guess{n}", "x")).status_code == 401
    ok = await world.login(t.code, "admin", PASSWORD, device_id=device)
    assert ok.status_code == 200, ok.text
    # A guessing run from that address is locked once it reaches the address limit.
    for n in range(per_login, per_address):
        assert (await world.login(t.code, f"guess{n}", "x")).status_code == 401
    same_address = await world.login(t.code, "admin", PASSWORD, device_id=device)
    assert same_address.json()["code"] == "login_throttled"

    other = httpx.ASGITransport(app=api_app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=other, base_url="http://koe.test") as client:
        body = {"tenant": t.code, "login": "admin", "password": PASSWORD, "device_id": device}
        assert (await client.post(f"{BASE}/auth/login", json=body)).status_code == 200


async def test_failures_spread_over_time_do_not_lock(
    world: World, koe: Koe, clock: FrozenClock
) -> None:
    t = await world.tenant("slow-typo")
    device = (await t.admin.get(f"{BASE}/auth/me")).json()["device_id"]
    for attempt in range(koe.settings.login_max_failures * 2):
        assert (await world.login(t.code, "admin", "typo")).status_code == 401
        clock.advance(timedelta(minutes=koe.settings.login_lock_minutes / 2))
        if attempt % 2:  # a success resets the login's counter
            ok = await world.login(t.code, "admin", PASSWORD, device_id=device)
            assert ok.status_code == 200, ok.text


async def test_session_expires(world: World, koe: Koe, clock: FrozenClock) -> None:
    t = await world.tenant("expiry")
    clock.advance(timedelta(hours=koe.settings.session_hours) - timedelta(seconds=1))
    assert (await t.admin.get(f"{BASE}/auth/me")).status_code == 200
    clock.advance(timedelta(seconds=1))
    expired = await t.admin.get(f"{BASE}/auth/me")
    assert (expired.status_code, expired.json()["code"]) == (401, "session_expired")
    # An expired session no longer holds the admin license.
    assert (await world.login(t.code, "admin", device_id="fresh-pc-0001")).status_code == 200


async def test_logout_ends_only_this_session(world: World) -> None:
    t = await world.tenant("logout", admins=2)
    other = await world.actor(t.code, "admin")
    assert (await t.admin.post(f"{BASE}/auth/logout")).status_code == 204
    after = await t.admin.get(f"{BASE}/auth/me")
    assert (after.status_code, after.json()["code"]) == (401, "session_revoked")
    assert (await other.get(f"{BASE}/auth/me")).status_code == 200


async def test_missing_or_bad_tokens_are_401(world: World) -> None:
    for header in (
        "",
        "Bearer",
        "Bearer not-a-token",
        "Basic YWRtaW46cGFzcw==",
        "Bearer " + "x" * 500,
    ):
        headers = {"Authorization": header} if header else {}
        response = await world.http.get(f"{BASE}/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated", header


async def test_admin_revokes_a_users_sessions(world: World) -> None:
    t = await world.tenant("revoke")
    await world.user(t.id, "sv", Role.SUPERVISOR)
    sv = await world.actor(t.code, "sv")
    assert (await sv.get(f"{BASE}/agents")).status_code == 200
    revoked = await t.admin.delete(f"{BASE}/users/{sv.user_id}/sessions")
    assert revoked.json() == {"revoked_sessions": 1}
    assert (await sv.get(f"{BASE}/agents")).json()["code"] == "session_revoked"


async def test_deactivated_or_demoted_users_lose_their_sessions(world: World) -> None:
    t = await world.tenant("deactivate")
    await world.user(t.id, "sv", Role.SUPERVISOR)
    sv = await world.actor(t.code, "sv")
    await t.admin.patch(f"{BASE}/users/{sv.user_id}", json={"role": "agent"})
    assert (await sv.get(f"{BASE}/auth/me")).status_code == 401
    sv = await world.actor(t.code, "sv")
    await t.admin.patch(f"{BASE}/users/{sv.user_id}", json={"active": False})
    assert (await sv.get(f"{BASE}/auth/me")).status_code == 401
    assert (await world.login(t.code, "sv")).json()["code"] == "invalid_credentials"


async def test_password_change_ends_the_other_sessions(world: World) -> None:
    t = await world.tenant("password")
    await world.user(t.id, "ag", Role.AGENT)
    first = await world.actor(t.code, "ag")
    second = await world.actor(t.code, "ag")
    wrong = await first.post(
        f"{BASE}/auth/password",
        json={"current_password": "nope", "new_password": "a new long password"},
    )
    assert (wrong.status_code, wrong.json()["fields"][0]["field"]) == (422, "current_password")
    short = await first.post(
        f"{BASE}/auth/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.json()["fields"][0] == {
        "field": "new_password",
        "code": "too_short",
        "message": "8文字以上にしてください。",
    }
    changed = await first.post(
        f"{BASE}/auth/password",
        json={"current_password": PASSWORD, "new_password": "a new long password"},
    )
    assert changed.json() == {"revoked_sessions": 1}
    assert (await first.get(f"{BASE}/auth/me")).status_code == 200
    assert (await second.get(f"{BASE}/auth/me")).status_code == 401
    assert (await world.login(t.code, "ag")).status_code == 401
    assert (await world.login(t.code, "ag", "a new long password")).status_code == 200


async def test_admin_setting_a_password_ends_that_users_sessions(world: World) -> None:
    t = await world.tenant("reset")
    await world.user(t.id, "ag", Role.AGENT)
    agent = await world.actor(t.code, "ag")
    reset = await t.admin.patch(
        f"{BASE}/users/{agent.user_id}", json={"password": "reset by the admin"}
    )
    assert reset.status_code == 200
    assert (await agent.get(f"{BASE}/auth/me")).json()["code"] == "session_revoked"


async def test_me_shows_the_agent_profile(world: World) -> None:
    t = await world.tenant("who-am-i")
    body = {"login": "ag", "password": PASSWORD, "display_name": "受付 花子", "extension": "301"}
    await t.admin.post(f"{BASE}/agents", json=body)
    agent = await world.actor(t.code, "ag")
    me = (await agent.get(f"{BASE}/auth/me")).json()
    assert (me["role"], me["tenant_code"], me["agent"]["extension"]) == ("agent", "who-am-i", "301")
    assert "password_hash" not in me


async def test_operator_logs_in_without_a_tenant(world: World) -> None:
    ops = await world.operator("staff1", Role.OPERATOR_STAFF)
    me = (await ops.get(f"{BASE}/auth/me")).json()
    assert (me["role"], me["tenant_id"], me["login"]) == ("operator_staff", None, "staff1")
    # Operator logins are not tenant logins.
    assert (await world.login("any-tenant", "staff1")).status_code == 401
