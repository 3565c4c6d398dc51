from __future__ import annotations

from tests.api.conftest import BASE, World


async def test_smoke(world: World) -> None:
    a = await world.tenant("acme")
    r = await a.admin.get(f"{BASE}/auth/me")
    assert r.status_code == 200, r.text
    r = await a.admin.post(f"{BASE}/skills", json={"name": "sales"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = await a.admin.post(
        f"{BASE}/agents",
        json={
            "login": "a1",
            "password": "password1",
            "display_name": "A",
            "extension": "101",
            "skills": [{"skill_id": sid, "level": 3}],
        },
    )
    assert r.status_code == 201, r.text
    r = await a.admin.get(f"{BASE}/agents")
    assert r.status_code == 200, r.text
    print(r.json())
    r = await a.admin.get(f"{BASE}/users?role=agent")
    assert r.status_code == 200, r.text
    print(r.json())
    r = await world.http.get("/openapi.json")
    assert r.status_code == 200
