"""The ACD over HTTP: agent states for AgentBar, queue figures and routing answers for Suite.

- ``/agent/*``: the caller acts on their own agent profile (login, ready, break, after-call
  work, heartbeat, logout); any tenant role with an agent profile.
- ``/acd/*``: supervisors read their tenant's agents, queues, calls, what-if and routing
  explanations; tenant admins also log an agent out.
- ``/flows/{id}/versions``, ``/flows/{id}/rollback`` and ``/queues/{id}/routing``: tenant
  admins manage flow versions and queue routing options. Bodies and queries are optional,
  so another tenant's flow or queue answers 404 before anything else.

Another tenant's agent, queue or call is simply not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from pydantic import Field

from koe.api.deps import Action, Caller, ObjectId, Scope, Svc, own_tenant
from koe.api.schemas import Input, Output
from koe.core.errors import not_found
from koe.flows.acd import AcdService
from koe.flows.errors import no_agent_profile
from koe.flows.service import FlowService
from koe.routing.errors import agent_not_logged_in
from koe.routing.explain import Decision, WhatIf
from koe.routing.metrics import IntervalFigures
from koe.routing.views import AgentView, CallView, QueueFigures


class AcdServices(Protocol):
    """What these routes need from the composition root (``koe.app.Koe`` fits)."""

    @property
    def acd(self) -> AcdService: ...
    @property
    def flows(self) -> FlowService: ...


def acd_services(svc: Svc) -> AcdServices:
    """The ACD and flow services of the app."""
    return cast(AcdServices, svc)


Acd = Annotated[AcdServices, Depends(acd_services)]
Reason = Annotated[str, Field(min_length=1, max_length=64)]
Skills = dict[
    Annotated[str, Field(min_length=1, max_length=64)], Annotated[int, Field(ge=1, le=10)]
]


# ---- bodies and answers ----


class LoginIn(Input):
    """Log in available (``ready``) or on break with a reason code."""

    ready: bool = True
    reason: Reason = "not_ready"


class BreakIn(Input):
    """Go on break (after the current call's work, if on a call)."""

    reason: Reason


class WrapUpIn(Input):
    """More after-call work."""

    seconds: Annotated[int, Field(ge=1, le=3600)]


class WhatIfIn(Input):
    """Who would get a call in ``queue_id`` (or any queue) with these extra skills now?"""

    queue_id: Annotated[str, Field(max_length=64)] | None = None
    skills: Skills = Field(default_factory=dict, max_length=50)
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0


class HeartbeatOut(Output):
    """The agent is still logged in."""

    ok: bool


class FlowVersionOut(Output):
    """A saved version of a call flow (``document`` only when one version is asked for)."""

    id: str
    flow_id: str
    version: int
    note: str
    created_at: datetime
    document: dict[str, Any] | None = None


# ---- the caller's own agent ----


async def _me(caller: Caller, svc: Svc) -> tuple[str, str]:
    """(tenant id, agent id) of the caller's own agent profile."""
    if caller.tenant_id is None:
        raise no_agent_profile()
    agent_id = await acd_services(svc).acd.agent_of_user(caller.tenant_id, caller.user_id)
    return caller.tenant_id, agent_id


Me = Annotated[tuple[str, str], Depends(_me)]
QueueId = Annotated[str, Path(max_length=64)]
CallId = Annotated[str, Path(max_length=128)]
TAGS: list[str | Any] = ["acd"]
ReadQueues = Annotated[Scope, Depends(own_tenant("queues", Action.READ))]
ReadAgents = Annotated[Scope, Depends(own_tenant("agents", Action.READ))]
ManageAgents = Annotated[Scope, Depends(own_tenant("agents", Action.WRITE))]
ReadFlows = Annotated[Scope, Depends(own_tenant("flows", Action.READ))]
ManageFlows = Annotated[Scope, Depends(own_tenant("flows", Action.WRITE))]
ManageQueues = Annotated[Scope, Depends(own_tenant("queues", Action.WRITE))]


def add_acd_routes(router: APIRouter) -> None:
    """Agent self-service, supervisor figures and admin management of the ACD."""

    @router.get("/agent/state", response_model=AgentView, tags=TAGS)
    async def my_state(me: Me, app: Acd) -> AgentView:
        """The caller's own ACD state (404 ``agent_not_logged_in`` when logged out)."""
        return await app.acd.agent(*me)

    @router.post("/agent/login", response_model=AgentView, tags=TAGS)
    async def login(body: LoginIn, me: Me, app: Acd) -> AgentView:
        """Take a seat, available or on break (409 ``license_seats_exceeded``: none free)."""
        return await app.acd.login(*me, ready=body.ready, reason=body.reason)

    @router.post("/agent/ready", response_model=AgentView, tags=TAGS)
    async def ready(me: Me, app: Acd) -> AgentView:
        """Ready for calls (from break, no-answer pause or after-call work)."""
        view = await app.acd.ready(*me)
        assert view is not None
        return view

    @router.post("/agent/break", response_model=AgentView, tags=TAGS)
    async def start_break(body: BreakIn, me: Me, app: Acd) -> AgentView:
        """Go on break with a reason code."""
        view = await app.acd.start_break(*me, body.reason)
        assert view is not None
        return view

    @router.post("/agent/wrap-up", response_model=AgentView, tags=TAGS)
    async def extend_wrap_up(body: WrapUpIn, me: Me, app: Acd) -> AgentView:
        """Extend after-call work (up to the queue's limit)."""
        view = await app.acd.extend_wrap_up(*me, body.seconds)
        assert view is not None
        return view

    @router.post("/agent/heartbeat", response_model=HeartbeatOut, tags=TAGS)
    async def heartbeat(me: Me, app: Acd) -> HeartbeatOut:
        """AgentBar is still there (every 10 s; silent for 30 s: out of the pool)."""
        if not await app.acd.heartbeat(*me):
            raise agent_not_logged_in(me[1])
        return HeartbeatOut(ok=True)

    @router.post("/agent/logout", status_code=status.HTTP_204_NO_CONTENT, tags=TAGS)
    async def logout(me: Me, app: Acd) -> Response:
        """Give the seat back (not during a call)."""
        await app.acd.logout(*me)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # ---- supervisors and admins ----

    @router.get("/acd/agents", response_model=list[AgentView], tags=TAGS)
    async def agents(scope: ReadAgents, app: Acd) -> list[AgentView]:
        """The tenant's logged-in agents and their states."""
        return await app.acd.agents(scope.tenant_id)

    @router.post(
        "/acd/agents/{object_id}/logout", status_code=status.HTTP_204_NO_CONTENT, tags=TAGS
    )
    async def force_logout(scope: ManageAgents, object_id: ObjectId, app: Acd) -> Response:
        """Take an agent out of the pool and free the seat (a call in progress ends for the ACD)."""
        await app.acd.agent(scope.tenant_id, object_id)  # 404 unless logged in here
        await app.acd.connection_lost(scope.tenant_id, object_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/acd/queues", response_model=list[QueueFigures], tags=TAGS)
    async def queues(scope: ReadQueues, app: Acd) -> list[QueueFigures]:
        """Real-time figures of every queue."""
        return await app.acd.all_realtime(scope.tenant_id)

    @router.get("/acd/queues/{queue_id}", response_model=QueueFigures, tags=TAGS)
    async def queue(scope: ReadQueues, queue_id: QueueId, app: Acd) -> QueueFigures:
        """Real-time figures of one queue: waiting, longest wait, agents by state, SL, EWT."""
        return await app.acd.realtime(scope.tenant_id, queue_id)

    @router.get("/acd/queues/{queue_id}/calls", response_model=list[CallView], tags=TAGS)
    async def queue_calls(scope: ReadQueues, queue_id: QueueId, app: Acd) -> list[CallView]:
        """The callers in a queue, in the order they will be served."""
        return await app.acd.calls(scope.tenant_id, queue_id)

    @router.get("/acd/queues/{queue_id}/intervals", response_model=list[IntervalFigures], tags=TAGS)
    async def queue_intervals(
        scope: ReadQueues, queue_id: QueueId, app: Acd
    ) -> list[IntervalFigures]:
        """15-minute intervals: offered, answered, abandoned, ASA, AHT, SL, occupancy."""
        return await app.acd.intervals(scope.tenant_id, queue_id)

    @router.post("/acd/what-if", response_model=WhatIf, tags=TAGS)
    async def what_if(body: WhatIfIn, scope: ReadQueues, app: Acd) -> WhatIf:
        """Who would get a call with these skills now? Changes nothing."""
        return await app.acd.what_if(
            scope.tenant_id, queue_id=body.queue_id, skills=body.skills, priority=body.priority
        )

    @router.get("/acd/calls/{call_id}/explain", response_model=list[Decision], tags=TAGS)
    async def explain(scope: ReadQueues, call_id: CallId, app: Acd) -> list[Decision]:
        """Why a (recent) call went where it went: eligible agents, the choice, the reason."""
        decisions = await app.acd.explain(scope.tenant_id, call_id)
        if not decisions:
            raise not_found("通話", "Call")
        return decisions

    # ---- flow versions and queue routing (tenant admins) ----

    @router.get("/flows/{object_id}/versions", response_model=list[FlowVersionOut], tags=TAGS)
    async def flow_versions(
        scope: ReadFlows,
        object_id: ObjectId,
        app: Acd,
        version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> list[FlowVersionOut]:
        """The flow's saved versions, newest first; ``?version=N``: that one, with its document."""
        if version is not None:
            one = await app.flows.version(scope.tenant_id, object_id, version)
            return [FlowVersionOut.model_validate(one)]
        rows = await app.flows.versions(scope.tenant_id, object_id)
        return [FlowVersionOut.model_validate(r) for r in rows]

    @router.post("/flows/{object_id}/rollback", tags=TAGS)
    async def rollback(
        scope: ManageFlows,
        object_id: ObjectId,
        app: Acd,
        version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> dict[str, Any]:
        """Make ``?version=N`` (default: the one before the current) current again, saved as a
        new version; calls in progress finish on the version they started with."""
        return await app.flows.rollback(scope.tenant_id, object_id, version)

    @router.put("/queues/{object_id}/routing", tags=TAGS)
    async def queue_routing(
        scope: ManageQueues,
        object_id: ObjectId,
        app: Acd,
        body: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> dict[str, Any]:
        """Set a queue's routing options: escalation, overflow, announcements, callback offer
        (docs/flows.md); an empty body clears them."""
        return await app.flows.set_queue_routing(scope.tenant_id, object_id, body or {})
