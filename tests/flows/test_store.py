"""The flow engine and the ACD on the real store (SQLite and PostgreSQL): the standard setup's
template IVR end to end, flow versions (live calls keep theirs, rollback), queue options."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher

from koe.app import Koe
from koe.core.clock import FrozenClock
from koe.core.domain import LicenseKind
from koe.core.errors import Conflict, NotFound, ValidationFailed
from koe.flows.repository import StoreDirectory, StorePlans
from koe.identity import passwords
from koe.routing.model import OverflowTarget, TargetKind
from koe.tenancy.standard import MAIN_FLOW, StandardSetup, provision_standard
from tests.flows.fakes import FakeSession, Phones

DID = "+81312345678"


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


async def advance(koe: Koe, clock: FrozenClock, seconds: float) -> None:
    clock.advance(timedelta(seconds=seconds))
    koe.acd.poke()
    for _ in range(5):
        await asyncio.sleep(0.005)


async def standard(koe: Koe) -> Any:
    return await provision_standard(
        koe.tenants,
        {
            "code": "koe-shoji",
            "company_name": "声商事株式会社",
            "representative_name": "代表 太郎",
            "address": "東京都千代田区1-1",
            "phone": "03-1234-5678",
        },
        setup=StandardSetup(numbers=["03-1234-5678", "03-1234-5679"]),
    )


async def test_standard_setup_call_reaches_the_agent_with_the_skill(koe: Koe) -> None:
    setup = await standard(koe)
    tenant_id = setup.tenant["id"]
    plan = await StorePlans(koe.db).plan(tenant_id, DID)
    assert plan is not None and plan.flow_name == MAIN_FLOW and plan.version == 1
    assert set(plan.ivrs) == {setup.ivrs[0]["id"]} and len(plan.calendars) == 1
    # agent01 has skill 2 (index 1) at 8, the others at 4; queue 2 needs level 1.
    agents = {a["login"]: a["id"] for a in setup.agents}
    for login in ("agent02", "agent01"):
        await koe.acd.login(tenant_id, agents[login])
    phones = Phones()
    session = FakeSession(tenant_id, DID, digits=["2"], phones=phones)
    task = asyncio.create_task(koe.inbound.handle(session))
    await until(lambda: bool(phones.talking))
    # Longest idle with the skill: agent02 logged in first.
    assert phones.rang == [(session.call_id, agents["agent02"])]
    assert session.notes["queue"] == setup.queues[1]["id"]
    phones.hang_up(agents["agent02"])
    await asyncio.wait_for(task, 3)
    assert session.log[-1] == ("hangup", "16")
    view = await koe.acd.agent(tenant_id, agents["agent02"])
    assert view.state == "wrap_up"


async def test_numbers_of_another_tenant_are_unallocated(koe: Koe) -> None:
    setup = await standard(koe)
    other = await koe.tenants.create(
        {
            "code": "other",
            "company_name": "他社",
            "representative_name": "他 花子",
            "address": "大阪府",
            "phone": "06-0000-0000",
        }
    )
    assert await StorePlans(koe.db).plan(other["id"], DID) is None
    session = FakeSession(other["id"], DID)
    await koe.inbound.handle(session)
    assert session.notes == {"unallocated": "unknown_number"} and session.cause == 1
    assert (await StorePlans(koe.db).plan(setup.tenant["id"], DID)) is not None


async def test_live_calls_finish_on_their_version_and_rollback(
    koe: Koe, clock: FrozenClock
) -> None:
    setup = await standard(koe)
    tenant_id = setup.tenant["id"]
    queue_id = setup.queues[0]["id"]
    await koe.flows.set_queue_routing(tenant_id, queue_id, {"overflow": {"kind": "hangup"}})

    def document(after: str) -> dict[str, Any]:
        return {
            "start": "q",
            "nodes": {
                "q": {"type": "queue", "queue": queue_id, "next": "after"},
                "after": {"type": "play", "prompt": after, "next": "end"},
                "end": {"type": "hangup"},
            },
        }

    flow = await koe.directory.create(
        tenant_id, "flows", {"name": "versioned", "document": document("goodbye")}
    )
    number = setup.numbers[0]
    await koe.directory.update(tenant_id, "numbers", number["id"], {"flow_id": flow["id"]})
    await koe.directory.update(tenant_id, "queues", queue_id, {"max_wait_seconds": 60})

    first = FakeSession(tenant_id, DID)
    task = asyncio.create_task(koe.inbound.handle(first))
    await until(lambda: first.music)
    changed = await koe.directory.update(
        tenant_id, "flows", flow["id"], {"document": document("comfort")}
    )
    assert changed["version"] == 2
    await advance(koe, clock, 60)  # the caller overflows and goes on in *their* version
    await asyncio.wait_for(task, 3)
    assert first.notes["flow_version"] == "1"
    assert first.played()[-1] == "ja/goodbye"

    second = FakeSession(tenant_id, DID)
    task = asyncio.create_task(koe.inbound.handle(second))
    await until(lambda: second.music)
    await advance(koe, clock, 60)
    await asyncio.wait_for(task, 3)
    assert second.notes["flow_version"] == "2" and second.played()[-1] == "ja/comfort"

    rolled = await koe.flows.rollback(tenant_id, flow["id"])  # to the previous version
    assert rolled["version"] == 3 and rolled["document"] == document("goodbye")
    versions = await koe.flows.versions(tenant_id, flow["id"])
    assert [(v["version"], v["note"]) for v in versions] == [
        (3, "rollback to version 1"),
        (2, ""),
        (1, ""),
    ]
    assert "document" not in versions[0]
    assert (await koe.flows.version(tenant_id, flow["id"], 2))["document"] == document("comfort")
    with pytest.raises(Conflict):
        await koe.flows.rollback(tenant_id, flow["id"], 3)
    with pytest.raises(NotFound):
        await koe.flows.version(tenant_id, flow["id"], 9)
    with pytest.raises(NotFound):
        await koe.flows.versions(setup.tenant["id"] + "x", flow["id"])


async def test_queue_options_and_directory_changes_reach_the_acd(
    koe: Koe, caplog: pytest.LogCaptureFixture
) -> None:
    setup = await standard(koe)
    tenant_id = setup.tenant["id"]
    queue_id = setup.queues[0]["id"]
    skill_id = setup.skills[0]["id"]
    with pytest.raises(ValidationFailed) as err:
        await koe.flows.set_queue_routing(tenant_id, queue_id, {"escalation": [{"after": 1}]})
    assert err.value.fields[0].field == "routing.escalation.0"
    with pytest.raises(ValidationFailed) as err:
        await koe.flows.set_queue_routing(tenant_id, queue_id, {"overflow": {"kind": "queue"}})
    assert err.value.fields[0].field == "routing.overflow"
    await koe.flows.set_queue_routing(
        tenant_id,
        queue_id,
        {
            "escalation": [{"after_seconds": 30, "drop_skills": [skill_id]}],
            "overflow": {"kind": "transfer", "ref": "+81311112222"},
            "ring_timeout_seconds": 15,
            "announce_position": False,
        },
    )
    directory = StoreDirectory(koe.db, koe.clock)
    config = await directory.queue(tenant_id, queue_id)
    assert config is not None
    assert config.ring_timeout_seconds == 15 and not config.announce_position
    assert config.overflow_target == OverflowTarget(TargetKind.TRANSFER, "+81311112222")
    assert config.escalation[0].drop_skills == (skill_id,)
    assert await directory.seat_limit(tenant_id) == 6
    assert await directory.queue(tenant_id, "nope") is None
    assert await directory.agent_skills(tenant_id, "nope") is None

    # The ACD follows the directory: a new queue, skill changes of a logged-in agent.
    agent = setup.agents[1]
    await koe.acd.login(tenant_id, agent["id"])
    new_queue = await koe.directory.create(
        tenant_id, "queues", {"name": "新規", "skills": [{"skill_id": skill_id, "min_level": 9}]}
    )
    await koe.acd.drain()
    assert new_queue["id"] in koe.acd.queue_ids(tenant_id)
    assert (await koe.acd.what_if(tenant_id, queue_id=new_queue["id"])).agent_id is None
    await koe.directory.update(
        tenant_id, "agents", agent["id"], {"skills": [{"skill_id": skill_id, "level": 9}]}
    )
    answer = await koe.acd.what_if(tenant_id, queue_id=new_queue["id"])
    assert answer.agent_id == agent["id"]
    await koe.directory.delete(tenant_id, "queues", new_queue["id"])
    assert new_queue["id"] not in koe.acd.queue_ids(tenant_id)

    # Options saved some other way that do not validate: the columns still work.
    await koe.directory.update(tenant_id, "queues", queue_id, {"routing": {"bogus": 1}})
    with caplog.at_level(logging.ERROR):
        config = await directory.queue(tenant_id, queue_id)
    assert config is not None and config.escalation == ()
    assert "queue routing options ignored" in caplog.text


async def test_seat_licenses_come_from_the_holdings(koe: Koe) -> None:
    setup = await standard(koe)
    tenant_id = setup.tenant["id"]
    await koe.tenants.add_license(tenant_id, LicenseKind.SEAT, 2)
    assert await StoreDirectory(koe.db, koe.clock).seat_limit(tenant_id) == 8
    user_id = setup.agents[0]["user_id"]
    assert await koe.acd.agent_of_user(tenant_id, user_id) == setup.agents[0]["id"]
    with pytest.raises(NotFound):
        await koe.acd.agent_of_user(tenant_id, "someone")
