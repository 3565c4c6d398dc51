"""The ACD over HTTP: agents act on themselves, supervisors read their tenant, admins manage;
a tenant never sees another's agents, queues, calls or flow versions."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from koe.core.clock import FrozenClock
from koe.core.domain import Role
from tests.api.conftest import BASE, PASSWORD, Actor, Tenant, World
from tests.api.samples import HANGUP_FLOW
from tests.flows.fakes import FakeSession, Phones


async def setup_tenant(world: World, code: str, **kw: Any) -> tuple[Tenant, dict[str, Any]]:
    """A tenant with a skill, a queue needing it, two agents and a supervisor."""
    tenant = await world.tenant(code, **kw)
    admin = tenant.admin
    skill = (await admin.post(f"{BASE}/skills", json={"name": "support"})).json()
    queue = (
        await admin.post(
            f"{BASE}/queues",
            json={"name": "support", "skills": [{"skill_id": skill["id"], "min_level": 3}]},
        )
    ).json()
    agents = {}
    for i, login in enumerate(("ag1", "ag2")):
        response = await admin.post(
            f"{BASE}/agents",
            json={
                "login": login,
                "password": PASSWORD,
                "display_name": login,
                "extension": f"20{i}",
                "skills": [{"skill_id": skill["id"], "level": 5}],
            },
        )
        assert response.status_code == 201, response.text
        agents[login] = response.json()
    await world.user(tenant.id, "sv", Role.SUPERVISOR)
    return tenant, {"skill": skill, "queue": queue, "agents": agents}


async def test_agent_lifecycle_through_agentbar(world: World) -> None:
    tenant, made = await setup_tenant(world, "tenant-a")
    ag1 = await world.actor("tenant-a", "ag1")
    me = made["agents"]["ag1"]["id"]
    assert (await ag1.get(f"{BASE}/agent/state")).json()["code"] == "agent_not_logged_in"
    state = await ag1.post(f"{BASE}/agent/login", json={"ready": False, "reason": "brief"})
    assert state.status_code == 200, state.text
    assert state.json() | {"since": None} == {
        "agent_id": me,
        "state": "break",
        "since": None,
        "reason": "brief",
        "pending_break": None,
        "call_id": None,
        "skills": {made["skill"]["id"]: 5},
        "idle_since": None,
        "wrap_up_until": None,
    }
    assert (await ag1.post(f"{BASE}/agent/ready")).json()["state"] == "available"
    assert (await ag1.post(f"{BASE}/agent/heartbeat")).json() == {"ok": True}
    assert (await ag1.post(f"{BASE}/agent/break", json={"reason": "lunch"})).json()[
        "reason"
    ] == "lunch"
    refused = await ag1.post(f"{BASE}/agent/wrap-up", json={"seconds": 30})
    assert (refused.status_code, refused.json()["code"]) == (409, "agent_illegal_transition")
    bad = await ag1.post(f"{BASE}/agent/break", json={"reason": ""})
    assert bad.status_code == 422
    assert (await ag1.post(f"{BASE}/agent/logout")).status_code == 204
    gone = await ag1.post(f"{BASE}/agent/heartbeat")
    assert (gone.status_code, gone.json()["code"]) == (404, "agent_not_logged_in")
    # A user without an agent profile (the admin) cannot log in as an agent.
    none = await tenant.admin.post(f"{BASE}/agent/login", json={})
    assert (none.status_code, none.json()["code"]) == (404, "agent_profile_missing")


async def test_login_refused_past_the_seats_with_a_reason_in_both_languages(
    world: World,
) -> None:
    await setup_tenant(world, "tenant-a", seats=1, extra_users=2)
    ag1 = await world.actor("tenant-a", "ag1")
    ag2 = await world.actor("tenant-a", "ag2")
    assert (await ag1.post(f"{BASE}/agent/login", json={})).status_code == 200
    ja = await ag2.post(f"{BASE}/agent/login", json={})
    assert (ja.status_code, ja.json()["code"]) == (409, "license_seats_exceeded")
    assert "シートライセンス(1)はすべて使用中です" in ja.json()["message"]
    en = await ag2.post(f"{BASE}/agent/login", json={}, headers={"Accept-Language": "en"})
    assert "All 1 seat licenses are in use" in en.json()["message"]
    await ag1.post(f"{BASE}/agent/logout")
    assert (await ag2.post(f"{BASE}/agent/login", json={})).status_code == 200


async def test_silent_agentbar_leaves_the_pool_within_30_seconds(
    world: World, clock: FrozenClock
) -> None:
    tenant, _ = await setup_tenant(world, "tenant-a")
    ag1 = await world.actor("tenant-a", "ag1")
    await ag1.post(f"{BASE}/agent/login", json={})
    clock.advance(timedelta(seconds=20))
    assert (await ag1.post(f"{BASE}/agent/heartbeat")).status_code == 200
    clock.advance(timedelta(seconds=29))
    world.koe.acd.poke()
    await asyncio.sleep(0.02)
    assert (await ag1.get(f"{BASE}/agent/state")).json()["state"] == "available"
    clock.advance(timedelta(seconds=2))
    world.koe.acd.poke()
    for _ in range(50):
        if (await ag1.get(f"{BASE}/agent/state")).status_code == 404:
            break
        await asyncio.sleep(0.01)
    assert (await ag1.get(f"{BASE}/agent/state")).status_code == 404
    assert world.koe.acd.engine.seats.in_use(tenant.id) == 0


async def test_supervisor_reads_agents_admin_manages(world: World) -> None:
    tenant, made = await setup_tenant(world, "tenant-a")
    ag1 = await world.actor("tenant-a", "ag1")
    sv = await world.actor("tenant-a", "sv")
    await ag1.post(f"{BASE}/agent/login", json={})
    queue_id = made["queue"]["id"]
    me = made["agents"]["ag1"]["id"]

    agents = (await sv.get(f"{BASE}/acd/agents")).json()
    assert [a["agent_id"] for a in agents] == [me]
    figures = (await sv.get(f"{BASE}/acd/queues/{queue_id}")).json()
    assert figures["agents"]["available"] == 1 and figures["waiting"] == 0
    assert [q["queue_id"] for q in (await sv.get(f"{BASE}/acd/queues")).json()] == [queue_id]
    what = (await sv.post(f"{BASE}/acd/what-if", json={"queue_id": queue_id})).json()
    assert what["agent_id"] == me and [c["agent_id"] for c in what["eligible"]] == [me]
    higher = await sv.post(
        f"{BASE}/acd/what-if", json={"queue_id": queue_id, "skills": {made["skill"]["id"]: 9}}
    )
    assert higher.json()["agent_id"] is None
    assert (await sv.get(f"{BASE}/acd/queues/{queue_id}/calls")).json() == []
    intervals = await sv.get(f"{BASE}/acd/queues/{queue_id}/intervals")
    assert intervals.status_code == 200 and intervals.json() == []  # nothing happened yet

    # Supervisors do not manage; agents read nothing tenant-wide.
    refused = await sv.post(f"{BASE}/acd/agents/{me}/logout")
    assert refused.status_code == 403
    for url in ("/acd/agents", "/acd/queues", f"/acd/queues/{queue_id}"):
        assert (await ag1.get(f"{BASE}{url}")).status_code == 403
    assert (await ag1.post(f"{BASE}/acd/what-if", json={})).status_code == 403
    assert (await sv.get(f"{BASE}/flows/x/versions")).status_code == 403

    done = await tenant.admin.post(f"{BASE}/acd/agents/{me}/logout")
    assert done.status_code == 204
    assert (await ag1.get(f"{BASE}/agent/state")).status_code == 404


async def test_explain_a_call(world: World) -> None:
    tenant, made = await setup_tenant(world, "tenant-a")
    queue_id = made["queue"]["id"]
    flow = (
        await tenant.admin.post(
            f"{BASE}/flows",
            json={
                "name": "main",
                "document": {"start": "q", "nodes": {"q": {"type": "queue", "queue": queue_id}}},
            },
        )
    ).json()
    await tenant.admin.post(
        f"{BASE}/numbers", json={"number": "03-1234-5678", "flow_id": flow["id"]}
    )
    ag1 = await world.actor("tenant-a", "ag1")
    await ag1.post(f"{BASE}/agent/login", json={})
    phones = Phones()
    session = FakeSession(tenant.id, "+81312345678", phones=phones)
    task = asyncio.create_task(world.koe.inbound.handle(session))
    for _ in range(200):
        if phones.talking:
            break
        await asyncio.sleep(0.005)
    sv = await world.actor("tenant-a", "sv")
    (decision,) = (await sv.get(f"{BASE}/acd/calls/{session.call_id}/explain")).json()
    assert decision["outcome"] == "offered"
    assert decision["agent_id"] == made["agents"]["ag1"]["id"]
    assert decision["reason"].startswith("longest idle")
    state = (await ag1.get(f"{BASE}/agent/state")).json()
    assert (state["state"], state["call_id"]) == ("on_call", session.call_id)
    phones.hang_up(made["agents"]["ag1"]["id"])
    await asyncio.wait_for(task, 3)
    (interval,) = (await sv.get(f"{BASE}/acd/queues/{queue_id}/intervals")).json()
    assert (interval["offered"], interval["answered"], interval["answered_within_sl"]) == (1, 1, 1)
    missing = await sv.get(f"{BASE}/acd/calls/nope/explain")
    assert missing.status_code == 404


async def test_flow_versions_and_rollback(world: World) -> None:
    tenant, _ = await setup_tenant(world, "tenant-a")
    admin = tenant.admin
    flow = (await admin.post(f"{BASE}/flows", json={"name": "f", "document": HANGUP_FLOW})).json()
    v2 = {"start": "p", "nodes": {"p": {"type": "play", "prompt": "welcome", "next": "e"},
                                  "e": {"type": "hangup"}}}  # fmt: skip
    patched = await admin.patch(f"{BASE}/flows/{flow['id']}", json={"document": v2})
    assert patched.json()["version"] == 2
    versions = (await admin.get(f"{BASE}/flows/{flow['id']}/versions")).json()
    assert [(v["version"], v["document"]) for v in versions] == [(2, None), (1, None)]
    (one,) = (await admin.get(f"{BASE}/flows/{flow['id']}/versions?version=1")).json()
    assert one["document"] == HANGUP_FLOW
    rolled = await admin.post(f"{BASE}/flows/{flow['id']}/rollback?version=1")
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 3 and rolled.json()["document"] == HANGUP_FLOW
    again = await admin.post(f"{BASE}/flows/{flow['id']}/rollback?version=3")
    assert (again.status_code, again.json()["code"]) == (409, "flow_version_current")
    missing = await admin.get(f"{BASE}/flows/{flow['id']}/versions?version=7")
    assert (missing.status_code, missing.json()["code"]) == (404, "flow_version_not_found")


async def test_queue_routing_options(world: World) -> None:
    tenant, made = await setup_tenant(world, "tenant-a")
    url = f"{BASE}/queues/{made['queue']['id']}/routing"
    bad = await tenant.admin.put(url, json={"escalation": [{"after_seconds": 60, "x": 1}]})
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "routing.escalation.0"
    ok = await tenant.admin.put(
        url, json={"escalation": [{"after_seconds": 60, "lower_levels_by": 2}]}
    )
    assert ok.status_code == 200 and ok.json()["routing"]["escalation"][0]["lower_levels_by"] == 2
    cleared = await tenant.admin.put(url)
    assert cleared.json()["routing"] == {}
    sv = await world.actor("tenant-a", "sv")
    assert (await sv.put(url, json={})).status_code == 403


async def test_a_tenant_never_sees_another_tenants_acd(world: World) -> None:
    a, made_a = await setup_tenant(world, "tenant-a")
    b, made_b = await setup_tenant(world, "tenant-b")
    ag_a = await world.actor("tenant-a", "ag1")
    await ag_a.post(f"{BASE}/agent/login", json={})
    flow = (await a.admin.post(f"{BASE}/flows", json={"name": "f", "document": HANGUP_FLOW})).json()
    queue_a = made_a["queue"]["id"]
    agent_a = made_a["agents"]["ag1"]["id"]

    assert (await b.admin.get(f"{BASE}/acd/agents")).json() == []
    assert [q["queue_id"] for q in (await b.admin.get(f"{BASE}/acd/queues")).json()] == [
        made_b["queue"]["id"]
    ]
    for method, url in (
        ("get", f"/acd/queues/{queue_a}"),
        ("get", f"/acd/queues/{queue_a}/calls"),
        ("get", f"/acd/queues/{queue_a}/intervals"),
        ("post", f"/acd/agents/{agent_a}/logout"),
        ("get", f"/flows/{flow['id']}/versions"),
        ("get", f"/flows/{flow['id']}/versions?version=1"),
        ("post", f"/flows/{flow['id']}/rollback"),
        ("put", f"/queues/{queue_a}/routing"),
    ):
        response = await getattr(b.admin, method)(f"{BASE}{url}")
        assert response.status_code == 404, (url, response.text)
    what = await b.admin.post(f"{BASE}/acd/what-if", json={"queue_id": queue_a})
    assert what.status_code == 404
    anywhere = (await b.admin.post(f"{BASE}/acd/what-if", json={})).json()
    assert anywhere["agent_id"] is None and anywhere["eligible"] == []
    # A's agent is untouched.
    assert (await ag_a.get(f"{BASE}/agent/state")).json()["state"] == "available"
    assert isinstance(b, Tenant) and isinstance(ag_a, Actor)
