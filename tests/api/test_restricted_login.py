"""Restrictions change what the running system allows: agents and supervisors of a suspended,
paused, interrupted or ended tenant are refused with the restriction and its end (R3.6);
tenant admins still log in to read notices and settle accounts."""

from __future__ import annotations

from datetime import timedelta

import httpx

from koe.core.clock import FrozenClock
from koe.core.domain import Role
from tests.api.conftest import BASE, PASSWORD, Tenant, World

OPS = f"{BASE}/operator"


async def _tenant(world: World) -> Tenant:
    t = await world.tenant("acme")
    await world.user(t.id, "ag", Role.AGENT)
    await world.user(t.id, "sv", Role.SUPERVISOR)
    return t


async def _login(world: World, t: Tenant, login: str, lang: str = "ja") -> httpx.Response:
    return await world.http.post(
        f"{BASE}/auth/login",
        json={"tenant": t.code, "login": login, "password": PASSWORD},
        headers={"Accept-Language": lang},
    )


def _refused(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 403, response.text
    body: dict[str, object] = response.json()
    assert body["code"] == "tenant_restricted"
    return body


async def test_suspension_refuses_agents_with_reason_and_end_until_lifted(world: World) -> None:
    t = await _tenant(world)
    working = await world.actor(t.code, "ag")
    ops = await world.operator()
    suspended = await ops.post(
        f"{OPS}/tenants/{t.id}/suspensions",
        json={
            "reason": "breach",
            "starts_at": "2026-11-24T09:00:00+09:00",
            "ends_at": "2026-12-24T18:00:00+09:00",
            "detail": "第31条違反",
        },
    )
    assert suspended.status_code == 201, suspended.text

    ja = _refused(await world.login(t.code, "ag"))
    assert ja["message"] == (
        "サービスの提供停止(第16条)中のため、エージェント・スーパーバイザーはログインできません"
        "(期間: 2026-12-24 18:00(日本時間)まで)。テナント管理者はログインできます。"
    )
    assert ja["details"] == {"restriction": "suspension", "until": "2026-12-24T09:00:00+00:00"}
    assert _refused(await _login(world, t, "sv", "en"))["message"] == (
        "Agents and supervisors cannot log in during the suspension (Art. 16) of the service "
        "(until 2026-12-24 18:00 JST). Tenant admins can still log in."
    )
    # A session opened before the suspension is refused on its next request too.
    _refused(await working.get(f"{BASE}/auth/me"))
    # Tenant admins still log in, and see the notice with the reason and the period.
    admin = await world.actor(t.code, "admin", takeover=True)
    (notice,) = (await admin.get(f"{BASE}/notices")).json()
    assert notice["kind"] == "suspension" and "第31条違反" in notice["body_ja"]
    allowance = (await ops.get(f"{OPS}/tenants/{t.id}/allowance")).json()
    assert (allowance["agent_login"], allowance["admin_login"]) == (False, True)
    assert [a["kind"] for a in allowance["active"]] == ["suspension"]

    lifted = await ops.post(f"{OPS}/tenants/{t.id}/restrictions/{suspended.json()['id']}/lift")
    assert lifted.json()["lifted_at"] is not None
    assert (await world.login(t.code, "ag")).status_code == 200
    assert (await working.get(f"{BASE}/auth/me")).status_code == 200


async def test_until_paid_pause_interruption_and_end_of_contract(
    world: World, clock: FrozenClock
) -> None:
    t = await _tenant(world)
    ops = await world.operator()
    base = f"{OPS}/tenants/{t.id}"
    # A pause that has not started refuses nobody yet.
    pause = await ops.post(
        f"{base}/pauses",
        json={
            "reason": "maintenance",
            "starts_at": "2026-11-25T01:00:00+09:00",
            "ends_at": "2026-11-25T05:00:00+09:00",
        },
    )
    assert pause.status_code == 201, pause.text
    assert (await world.login(t.code, "ag")).status_code == 200
    clock.advance(timedelta(hours=16))  # 25 Nov 02:00 JST
    paused = _refused(await _login(world, t, "ag", "en"))
    assert "planned pause (Art. 17)" in str(paused["message"])
    clock.advance(timedelta(hours=3))  # 05:00: over
    assert (await world.login(t.code, "ag")).status_code == 200
    ops = await world.actor(None, "ops")  # sessions last 12 hours

    until_paid = await ops.post(
        f"{base}/suspensions",
        json={"reason": "unpaid", "starts_at": "2026-11-25T05:00:00+09:00", "until_paid": True},
    )
    assert until_paid.status_code == 201, until_paid.text
    interrupted = await ops.post(
        f"{base}/interruptions",
        json={"starts_at": "2026-11-25T05:00:00+09:00", "ends_at": "2026-11-30T00:00:00+09:00"},
    )
    assert interrupted.status_code == 201, interrupted.text
    # Two restrictions: the one that ends last (open-ended) says when logins resume.
    body = _refused(await world.login(t.code, "ag"))
    assert "料金等のお支払いが確認されるまで" in str(body["message"])
    assert body["details"] == {"restriction": "suspension", "until": None}
    await ops.post(f"{base}/restrictions/{until_paid.json()['id']}/lift")
    body = _refused(await world.login(t.code, "ag"))
    assert body["details"] == {"restriction": "interruption", "until": "2026-11-29T15:00:00+00:00"}
    await ops.post(f"{base}/restrictions/{interrupted.json()['id']}/lift")

    # A contract that has ended: the scheduled cancellation refuses agents from the next day.
    await ops.patch(
        f"{OPS}/tenants/{t.id}", json={"status": "active", "service_start_date": "2026-11-01"}
    )
    ended = await ops.post(
        f"{base}/termination", json={"ground": "breach", "effective_on": "2026-11-30"}
    )
    assert ended.status_code == 200, ended.text
    assert (await world.login(t.code, "ag")).status_code == 200
    clock.advance(timedelta(days=10))  # 25 Nov → 5 Dec
    body = _refused(await _login(world, t, "sv", "en"))
    assert "end of the contract (Art. 19, 20)" in str(body["message"])
