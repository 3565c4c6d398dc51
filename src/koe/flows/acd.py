"""The ACD service: the node's routing engine, driven by calls and agents, acting on its say.

One ``RoutingEngine`` per node (a node owns whole tenants). This service loads each tenant's
queues and seat licenses from the store the first time the tenant is used, keeps them up to
date from directory events, runs the engine's timers in one owned task (``tick()`` at
``next_deadline()``), publishes the engine's events on the ``EventBus`` in order (one owned
publisher task), and carries out the actions the engine returns:

- ``Offer`` → ``session.ring_agent``; answered → ``answered()``, the caller talks to the agent
  until the bridge ends → ``call_ended()``; not answered → ``offer_failed()`` (the agent is
  paused, the caller keeps their place). A kept callback rings the agent through the
  ``CallbackDialer``, then dials the customer with ``transfer_out``.
- ``CancelOffer`` → stop ringing (cancel ``ring_agent``).
- ``Announce`` → play the entry or comfort prompt (and the callback offer) while the caller
  waits; music on hold resumes after it.
- ``Overflow`` → the caller leaves the queue; the flow engine takes them on (next node).
- ``AgentGone`` → the agent's leg dropped during the call: the caller's call ends.

A caller's time in the queue runs in the caller's own task (``queue_call``), which the
dispatcher feeds through a per-call inbox; the engine itself is only touched from the event
loop, between awaits, so every engine method runs whole.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from koe.calls.session import BridgeResult, CallGone, CallSession, RingOutcome
from koe.core.clock import Clock
from koe.core.errors import KoeError, NotFound
from koe.core.events import Event, EventBus
from koe.flows import events as fev
from koe.flows.callbacks import CallbackDialer, KeptCallback
from koe.flows.errors import no_agent_profile
from koe.flows.prompts import Prompts
from koe.licensing.counters import ConcurrencyCounter
from koe.routing.actions import Action, AgentGone, Announce, CancelOffer, Offer, Overflow
from koe.routing.engine import RoutingEngine
from koe.routing.explain import Decision, WhatIf
from koe.routing.metrics import IntervalFigures
from koe.routing.model import OverflowTarget, QueueConfig
from koe.routing.views import AgentView, CallView, QueueFigures

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""(tenant id, call id)."""


class AcdDirectory(Protocol):
    """Where the ACD reads a tenant's queues, seat licenses and agents' skills."""

    async def queues(self, tenant_id: str) -> list[QueueConfig]:
        """Every queue of the tenant as routing settings."""
        ...

    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None:
        """One queue's routing settings; None if the tenant has no such queue."""
        ...

    async def seat_limit(self, tenant_id: str) -> int:
        """Seat licenses in force today (R2.2)."""
        ...

    async def agent_skills(self, tenant_id: str, agent_id: str) -> dict[str, int] | None:
        """The agent's skills (skill id → level); None if the tenant has no such agent."""
        ...

    async def agent_of_user(self, tenant_id: str, user_id: str) -> str | None:
        """The agent profile of a user; None if they have none."""
        ...


class QueueOutcome(StrEnum):
    """How a caller's time in the queues ended."""

    ANSWERED = "answered"  # an agent took the call; the conversation is over
    ABANDONED = "abandoned"  # the caller hung up waiting or ringing
    CALLBACK = "callback"  # the caller asked for a callback and keeps their place
    OVERFLOW = "overflow"  # timeout, estimated wait or full queue: the flow goes on
    UNAVAILABLE = "unavailable"  # the queue does not exist (any more)


@dataclass(frozen=True, slots=True)
class QueueResult:
    """What came of ``queue_call``."""

    outcome: QueueOutcome
    queue_id: str
    wait_seconds: float
    agent_id: str | None = None
    target: OverflowTarget | None = None
    reason: str | None = None


def _dtmf_choice(digit: str | None) -> str:
    return (digit or "")[:1]


class AcdService:
    """The ACD of this node: agents' states, callers in queues, callbacks, figures.

    ``presence_timeout``: an agent without a heartbeat for this long leaves the pool (30 s).
    ``listen_seconds``: how long one digit wait lasts while a caller waits (it is renewed);
    ``max_sleep``: the longest the timer task sleeps before it looks at the clock again.
    """

    def __init__(
        self,
        clock: Clock,
        bus: EventBus,
        directory: AcdDirectory,
        prompts: Prompts,
        *,
        seats: ConcurrencyCounter | None = None,
        presence_timeout: float | None = 30.0,
        dialer: CallbackDialer | None = None,
        callback_attempts: int = 3,
        callback_ring_seconds: float = 30.0,
        listen_seconds: float = 30.0,
        max_sleep: float = 1.0,
    ) -> None:
        self.clock = clock
        self.bus = bus
        self.directory = directory
        self.prompts = prompts
        self.dialer = dialer
        self.callback_attempts = callback_attempts
        self.callback_ring_seconds = callback_ring_seconds
        self.listen_seconds = listen_seconds
        self.max_sleep = max_sleep
        self.engine = RoutingEngine(clock, seats=seats, presence_timeout=presence_timeout)
        self._loaded: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._queue_ids: dict[str, set[str]] = {}
        self._inboxes: dict[Key, asyncio.Queue[Action]] = {}
        self._callbacks: dict[Key, KeptCallback] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._outbox: asyncio.Queue[Event] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._stopped = False

    # ---- lifecycle ----

    async def start(self) -> None:
        """Start the timer and publisher tasks (also done on first use until ``stop``)."""
        self._stopped = False
        self._launch()

    def _launch(self) -> None:
        if self._stopped:
            return
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_loop(), name="acd-ticker")
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_loop(), name="acd-publisher")

    async def stop(self) -> None:
        """Stop the tasks started by ``start`` (and running callbacks); publish what is left."""
        self._stopped = True
        owned = [t for t in (self._ticker, self._publisher) if t is not None]
        owned += list(self._tasks)
        for task in owned:
            task.cancel()
        for task in owned:
            await cancel_and_wait(task)
        self._ticker = self._publisher = None
        self._tasks.clear()
        while not self._outbox.empty():
            await self.bus.publish(self._outbox.get_nowait())
            self._outbox.task_done()

    def poke(self) -> None:
        """Wake the timer task: a deadline may have moved (or a test moved the clock)."""
        self._wake.set()

    async def drain(self) -> None:
        """Wait until every event so far is published."""
        if self._publisher is None:
            while not self._outbox.empty():
                await self.bus.publish(self._outbox.get_nowait())
                self._outbox.task_done()
            return
        await self._outbox.join()

    async def _tick_loop(self) -> None:
        while True:
            self._wake.clear()
            delay = self.max_sleep
            try:
                deadline = self.engine.next_deadline()
                now = self.clock.now()
                if deadline is not None and deadline <= now:
                    self._act(self.engine.tick())
                    continue
                if deadline is not None:
                    delay = min(delay, (deadline - now).total_seconds())
            except Exception:
                log.exception("ACD timers failed")
            # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation.
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _publish_loop(self) -> None:
        while True:
            event = await self._outbox.get()
            try:
                await self.bus.publish(event)
            finally:
                self._outbox.task_done()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- tenants and queues ----

    async def ensure_tenant(self, tenant_id: str) -> None:
        """Load the tenant's queues and seat licenses into the engine, once."""
        self._launch()
        if tenant_id in self._loaded:
            return
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            if tenant_id in self._loaded:
                return
            configs = await self.directory.queues(tenant_id)
            self.engine.set_seat_limit(tenant_id, await self.directory.seat_limit(tenant_id))
            for config in configs:
                self._configure(tenant_id, config)
            self._loaded.add(tenant_id)
            log.info("ACD loaded tenant=%s queues=%d", tenant_id, len(configs))

    def _configure(self, tenant_id: str, config: QueueConfig) -> None:
        self._act(self.engine.configure_queue(tenant_id, config))
        self._queue_ids.setdefault(tenant_id, set()).add(config.queue_id)

    async def reload_queue(self, tenant_id: str, queue_id: str) -> None:
        """Re-read one queue (changed or deleted in the directory)."""
        if tenant_id not in self._loaded:
            return
        config = await self.directory.queue(tenant_id, queue_id)
        if config is not None:
            self._configure(tenant_id, config)
            return
        if queue_id in self._queue_ids.get(tenant_id, set()):
            try:
                self.engine.remove_queue(tenant_id, queue_id)
            except KoeError as err:
                log.warning(
                    "queue not removed from the ACD tenant=%s queue=%s: %s",
                    tenant_id,
                    queue_id,
                    err.code,
                )
                return
            self._queue_ids[tenant_id].discard(queue_id)
            self._flush()

    async def on_event(self, event: Event) -> None:
        """Directory changes that matter to the ACD (subscribe on the bus)."""
        tenant_id = event.tenant_id
        if tenant_id is None or tenant_id not in self._loaded:
            return
        kind = event.type
        if kind.startswith("queues."):
            queue_id = event.data.get("id")
            if isinstance(queue_id, str):
                await self.reload_queue(tenant_id, queue_id)
        elif kind == "settings.changed":
            for config in await self.directory.queues(tenant_id):
                self._configure(tenant_id, config)
        elif kind == "licenses.changed":
            self.engine.set_seat_limit(tenant_id, await self.directory.seat_limit(tenant_id))
        elif kind == "agents.updated":
            agent_id = event.data.get("id")
            if isinstance(agent_id, str) and self._logged_in(tenant_id, agent_id):
                skills = await self.directory.agent_skills(tenant_id, agent_id)
                if skills is not None:
                    self._act(self.engine.update_skills(tenant_id, agent_id, skills))
        elif kind == "agents.deleted":
            agent_id = event.data.get("id")
            if isinstance(agent_id, str):
                self._act(self.engine.connection_lost(tenant_id, agent_id))

    def queue_ids(self, tenant_id: str) -> list[str]:
        """The tenant's queues the engine knows."""
        return sorted(self._queue_ids.get(tenant_id, ()))

    # ---- agents (AgentBar, Suite) ----

    def _logged_in(self, tenant_id: str, agent_id: str) -> bool:
        try:
            self.engine.agent(tenant_id, agent_id)
        except NotFound:
            return False
        return True

    async def login(
        self, tenant_id: str, agent_id: str, *, ready: bool = True, reason: str = "not_ready"
    ) -> AgentView:
        """Log the agent in (available, or on break with ``reason``); refused past the seats.

        Logging in again while logged in (a reloaded AgentBar) counts as a heartbeat.
        """
        await self.ensure_tenant(tenant_id)
        skills = await self.directory.agent_skills(tenant_id, agent_id)
        if skills is None:
            raise no_agent_profile()
        if self._logged_in(tenant_id, agent_id):
            self.engine.heartbeat(tenant_id, agent_id)
            return self.engine.agent(tenant_id, agent_id)
        self.engine.set_seat_limit(tenant_id, await self.directory.seat_limit(tenant_id))
        try:
            actions = self.engine.login(tenant_id, agent_id, skills, ready=ready, reason=reason)
        finally:
            self._flush()  # a refusal is an event too
        self._act(actions)
        return self.engine.agent(tenant_id, agent_id)

    async def _agent_do(
        self, tenant_id: str, agent_id: str, op: Callable[[], list[Action]]
    ) -> AgentView | None:
        await self.ensure_tenant(tenant_id)
        try:
            actions = op()
        finally:
            self._flush()
        self._act(actions)
        return (
            self.engine.agent(tenant_id, agent_id) if self._logged_in(tenant_id, agent_id) else None
        )

    async def ready(self, tenant_id: str, agent_id: str) -> AgentView | None:
        """The agent is ready for calls (from break, no-answer pause or after-call work)."""
        return await self._agent_do(
            tenant_id, agent_id, lambda: self.engine.ready(tenant_id, agent_id)
        )

    async def start_break(self, tenant_id: str, agent_id: str, reason: str) -> AgentView | None:
        """Break with a reason code (after the current call's work if on a call)."""
        return await self._agent_do(
            tenant_id, agent_id, lambda: self.engine.start_break(tenant_id, agent_id, reason)
        )

    async def extend_wrap_up(
        self, tenant_id: str, agent_id: str, seconds: float
    ) -> AgentView | None:
        """More after-call work, up to the queue's limit."""
        return await self._agent_do(
            tenant_id, agent_id, lambda: self.engine.extend_wrap_up(tenant_id, agent_id, seconds)
        )

    async def logout(self, tenant_id: str, agent_id: str) -> None:
        """Log out (not during a call); frees the seat."""
        await self._agent_do(tenant_id, agent_id, lambda: self.engine.logout(tenant_id, agent_id))

    async def connection_lost(self, tenant_id: str, agent_id: str) -> None:
        """The agent's browser or phone is gone: out of the pool, seat freed."""
        await self._agent_do(
            tenant_id, agent_id, lambda: self.engine.connection_lost(tenant_id, agent_id)
        )

    async def agent_of_user(self, tenant_id: str, user_id: str) -> str:
        """The caller's own agent id (agents act on themselves); ``agent_profile_missing``."""
        agent_id = await self.directory.agent_of_user(tenant_id, user_id)
        if agent_id is None:
            raise no_agent_profile()
        return agent_id

    async def heartbeat(self, tenant_id: str, agent_id: str) -> bool:
        """The agent's client is still there; False if the agent is not logged in."""
        await self.ensure_tenant(tenant_id)
        return self.engine.heartbeat(tenant_id, agent_id)

    async def agent(self, tenant_id: str, agent_id: str) -> AgentView:
        """A logged-in agent's state (``agent_not_logged_in`` otherwise)."""
        await self.ensure_tenant(tenant_id)
        return self.engine.agent(tenant_id, agent_id)

    async def agents(self, tenant_id: str) -> list[AgentView]:
        """The tenant's logged-in agents."""
        await self.ensure_tenant(tenant_id)
        return self.engine.agents(tenant_id)

    # ---- figures and explanations ----

    async def realtime(self, tenant_id: str, queue_id: str) -> QueueFigures:
        """A queue's real-time figures."""
        await self.ensure_tenant(tenant_id)
        return self.engine.realtime(tenant_id, queue_id)

    async def all_realtime(self, tenant_id: str) -> list[QueueFigures]:
        """Every queue's real-time figures."""
        await self.ensure_tenant(tenant_id)
        return [self.engine.realtime(tenant_id, q) for q in self.queue_ids(tenant_id)]

    async def intervals(self, tenant_id: str, queue_id: str) -> list[IntervalFigures]:
        """The queue's 15-minute intervals kept in memory (the current one included)."""
        await self.ensure_tenant(tenant_id)
        return self.engine.intervals(tenant_id, queue_id=queue_id)

    async def calls(self, tenant_id: str, queue_id: str) -> list[CallView]:
        """The callers in a queue, in serving order."""
        await self.ensure_tenant(tenant_id)
        return self.engine.calls(tenant_id, queue_id)

    async def what_if(
        self,
        tenant_id: str,
        *,
        queue_id: str | None = None,
        skills: Mapping[str, int] | None = None,
        priority: int = 0,
    ) -> WhatIf:
        """Who would get a call with these skills now? Changes nothing."""
        await self.ensure_tenant(tenant_id)
        return self.engine.what_if(tenant_id, queue_id=queue_id, skills=skills, priority=priority)

    async def explain(self, tenant_id: str, call_id: str) -> list[Decision]:
        """The routing decisions of a (recent) call."""
        await self.ensure_tenant(tenant_id)
        return self.engine.explain(tenant_id, call_id)

    # ---- actions and events ----

    def _flush(self) -> None:
        for event in self.engine.take_events():
            self._outbox.put_nowait(event)

    def _publish(self, tenant_id: str, kind: str, data: dict[str, Any]) -> None:
        self._outbox.put_nowait(Event(kind, tenant_id, self.clock.now(), data))

    def _act(self, actions: list[Action]) -> None:
        """Hand each action to the call it concerns; then queue the engine's events."""
        for action in actions:
            key = (action.tenant_id, action.call_id)
            inbox = self._inboxes.get(key)
            if isinstance(action, Offer) and action.callback:
                self._start_callback(action)  # nobody is on the line: dial
            elif inbox is not None:
                inbox.put_nowait(action)
            elif isinstance(action, Offer):
                # Nobody is on the line for this call any more: take it out of the ACD.
                log.warning(
                    "offer for a call with no caller tenant=%s call=%s",
                    action.tenant_id,
                    action.call_id,
                )
                self._release(action.tenant_id, action.call_id)
        self._flush()
        self._wake.set()

    def _release(self, tenant_id: str, call_id: str) -> None:
        """Whatever state the call is in with the ACD, end it (no-op if it is gone)."""
        try:
            view = self.engine.call(tenant_id, call_id)
        except NotFound:
            return
        try:
            if view.state in ("waiting", "offered"):
                self._act(self.engine.abandon(tenant_id, call_id))
            elif view.state == "connected":
                self._act(self.engine.call_ended(tenant_id, call_id))
        except KoeError:
            log.exception("ACD release failed tenant=%s call=%s", tenant_id, call_id)

    def _offered_to(self, tenant_id: str, call_id: str, agent_id: str) -> bool:
        try:
            view = self.engine.call(tenant_id, call_id)
        except NotFound:
            return False
        return view.state == "offered" and view.agent_id == agent_id

    def _connected(self, tenant_id: str, call_id: str) -> bool:
        try:
            return self.engine.call(tenant_id, call_id).state == "connected"
        except NotFound:
            return False

    # ---- callers in queues ----

    def can_call_back(self, session: CallSession) -> bool:
        """Callbacks need a dialer and a number to call (never a withheld one)."""
        caller = session.caller
        return self.dialer is not None and bool(caller.number) and caller.withheld is None

    async def queue_call(
        self,
        session: CallSession,
        queue_id: str,
        *,
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        language: str = "ja",
    ) -> QueueResult:
        """Put the caller in ``queue_id`` and hold them there until the ACD is done with them.

        Returns when the answered conversation is over, the caller hung up, asked for a
        callback (their place is kept), or overflowed (the flow goes on with them).
        """
        tenant_id, call_id = session.tenant_id, session.call_id
        await self.ensure_tenant(tenant_id)
        key = (tenant_id, call_id)
        inbox: asyncio.Queue[Action] = asyncio.Queue()
        self._inboxes[key] = inbox
        waiter = _Waiter(self, session, inbox, queue_id, language)
        try:
            actions = self.engine.enqueue(
                tenant_id, call_id, queue_id, priority=priority, skills=skills
            )
        except KoeError as err:
            self._unregister(key, inbox)
            self._flush()
            log.warning(
                "caller not queued tenant=%s call=%s queue=%s: %s",
                tenant_id,
                call_id,
                queue_id,
                err.code,
            )
            return QueueResult(QueueOutcome.UNAVAILABLE, queue_id, 0.0, reason=err.code)
        try:
            session.note(queue=queue_id)
            self._act(actions)
            return await waiter.run()
        finally:
            self._unregister(key, inbox)
            if not waiter.kept:
                self._release(tenant_id, call_id)

    def _unregister(self, key: Key, inbox: asyncio.Queue[Action]) -> None:
        if self._inboxes.get(key) is inbox:
            del self._inboxes[key]

    def keep_callback(self, callback: KeptCallback) -> None:
        """Remember whom to call back for a kept callback (its place is in the engine)."""
        self._callbacks[(callback.tenant_id, callback.callback_id)] = callback
        self._publish(
            callback.tenant_id,
            fev.CALLBACK_KEPT,
            {"call_id": callback.callback_id, "queue_id": callback.queue_id},
        )

    async def request_callback(
        self,
        session: CallSession,
        queue_id: str,
        *,
        priority: int = 0,
        language: str = "ja",
    ) -> bool:
        """A callback request from the flow: the caller takes a place in ``queue_id``."""
        if not self.can_call_back(session):
            return False
        tenant_id, call_id = session.tenant_id, session.call_id
        await self.ensure_tenant(tenant_id)
        number = session.caller.number
        assert number is not None
        kept = KeptCallback(tenant_id, call_id, queue_id, number, language, priority)
        self._callbacks[(tenant_id, call_id)] = kept
        try:
            actions = self.engine.enqueue(
                tenant_id, call_id, queue_id, priority=priority, callback=True
            )
        except KoeError as err:
            self._callbacks.pop((tenant_id, call_id), None)
            log.warning(
                "callback not queued tenant=%s call=%s queue=%s: %s",
                tenant_id,
                call_id,
                queue_id,
                err.code,
            )
            return False
        self.keep_callback(kept)
        self._act(actions)
        return True

    def callbacks(self, tenant_id: str) -> list[KeptCallback]:
        """The tenant's kept callbacks."""
        return [c for (t, _), c in self._callbacks.items() if t == tenant_id]

    # ---- callbacks ----

    def _start_callback(self, offer: Offer) -> None:
        key = (offer.tenant_id, offer.call_id)
        kept = self._callbacks.get(key)
        if kept is None or self.dialer is None:
            log.warning(
                "kept callback cannot be dialled tenant=%s call=%s", offer.tenant_id, offer.call_id
            )
            self._callbacks.pop(key, None)
            self._publish(
                offer.tenant_id,
                fev.CALLBACK_FAILED,
                {
                    "call_id": offer.call_id,
                    "queue_id": offer.queue_id,
                    "agent_id": offer.agent_id,
                    "reason": "no_dialer" if self.dialer is None else "unknown_callback",
                    "attempts": 0,
                    "retrying": False,
                },
            )
            self._release(offer.tenant_id, offer.call_id)
            return
        inbox: asyncio.Queue[Action] = asyncio.Queue()
        self._inboxes[key] = inbox
        self._spawn(
            self._run_callback(offer, kept, self.dialer, inbox), f"callback-{offer.call_id}"
        )

    async def _run_callback(
        self,
        offer: Offer,
        kept: KeptCallback,
        dialer: CallbackDialer,
        inbox: asyncio.Queue[Action],
    ) -> None:
        tenant_id, call_id, agent_id = offer.tenant_id, offer.call_id, offer.agent_id
        ringing = True
        try:
            ring = asyncio.create_task(
                dialer.call_agent(
                    tenant_id, agent_id, callback_id=call_id, ring_s=offer.ring_timeout_seconds
                )
            )
            if await _ring_or_cancel(ring, inbox, agent_id):
                return  # the engine took the offer back; the callback keeps its place
            ringing = False
            try:
                outcome, agent_session = ring.result()
            except (CallGone, KoeError):
                outcome, agent_session = RingOutcome.FAILED, None
            if outcome is not RingOutcome.ANSWERED or agent_session is None:
                if self._offered_to(tenant_id, call_id, agent_id):
                    self._act(self.engine.offer_failed(tenant_id, call_id, outcome.value))
                return
            if not self._offered_to(tenant_id, call_id, agent_id):
                with suppress(CallGone):
                    await agent_session.hangup()
                return
            self._act(self.engine.answered(tenant_id, call_id))
            kept.attempts += 1
            reached = await self._dial_customer(agent_session, kept, agent_id, inbox)
            self._unregister((tenant_id, call_id), inbox)
            if self._connected(tenant_id, call_id):
                self._act(self.engine.call_ended(tenant_id, call_id))
            self._callback_done(kept, agent_id, reached)
        finally:
            self._unregister((tenant_id, call_id), inbox)
            if ringing and self._offered_to(tenant_id, call_id, agent_id):
                # Stopped while ringing (the service stops): back to its place.
                with suppress(KoeError):
                    self._act(self.engine.offer_failed(tenant_id, call_id, "cancelled"))

    async def _dial_customer(
        self,
        agent_session: CallSession,
        kept: KeptCallback,
        agent_id: str,
        inbox: asyncio.Queue[Action],
    ) -> bool:
        """The agent is on the line: dial the customer and bridge; True if they answered."""
        reached = False
        try:
            agent_session.note(queue=kept.queue_id, agent=agent_id, callback_for=kept.callback_id)
            result = await agent_session.transfer_out(
                kept.number, ring_s=self.callback_ring_seconds
            )
            if result.outcome is RingOutcome.ANSWERED:
                reached = True
                await _bridge_over(result, inbox)
        except CallGone:
            pass
        with suppress(CallGone):
            await agent_session.hangup()
        return reached

    def _callback_done(self, kept: KeptCallback, agent_id: str, reached: bool) -> None:
        key = (kept.tenant_id, kept.callback_id)
        if reached:
            self._callbacks.pop(key, None)
            self._publish(
                kept.tenant_id,
                fev.CALLBACK_COMPLETED,
                {"call_id": kept.callback_id, "queue_id": kept.queue_id, "agent_id": agent_id},
            )
            return
        retrying = kept.attempts < self.callback_attempts
        self._publish(
            kept.tenant_id,
            fev.CALLBACK_FAILED,
            {
                "call_id": kept.callback_id,
                "queue_id": kept.queue_id,
                "agent_id": agent_id,
                "reason": "customer_not_reached",
                "attempts": kept.attempts,
                "retrying": retrying,
            },
        )
        if not retrying:
            self._callbacks.pop(key, None)
            return
        try:
            actions = self.engine.enqueue(
                kept.tenant_id,
                kept.callback_id,
                kept.queue_id,
                priority=kept.priority,
                callback=True,
            )
        except KoeError as err:
            log.warning(
                "callback not re-queued tenant=%s call=%s: %s",
                kept.tenant_id,
                kept.callback_id,
                err.code,
            )
            self._callbacks.pop(key, None)
            return
        self._act(actions)


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it; what it raised on the way out is dropped.

    The caller's own cancellation is never swallowed.
    """
    if task is None:
        return
    if not task.done():
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except (CallGone, KoeError):
        pass


async def _next_action(inbox: asyncio.Queue[Action], *tasks: asyncio.Task[Any]) -> Action | None:
    """The next action for the call, or None when one of ``tasks`` finished first."""
    getter = asyncio.create_task(inbox.get())
    try:
        await asyncio.wait({getter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        action = await _taken(getter)
    return action


async def _taken(getter: asyncio.Task[Action]) -> Action | None:
    """The action ``getter`` took from the inbox, or None (it is cancelled if still waiting)."""
    await cancel_and_wait(getter)
    if getter.cancelled():
        return None
    return getter.result()


async def _ring_or_cancel(
    ring: asyncio.Task[Any], inbox: asyncio.Queue[Action], agent_id: str
) -> bool:
    """Wait for the ringing to end; True if a ``CancelOffer`` stopped it first."""
    try:
        while not ring.done():
            action = await _next_action(inbox, ring)
            if isinstance(action, CancelOffer) and action.agent_id == agent_id:
                if ring.done():
                    return False  # it ended as the offer was taken back: its result counts
                await cancel_and_wait(ring)
                return True
            if action is not None:
                log.debug("ignored while ringing: %r", action)
        return False
    except BaseException:
        await cancel_and_wait(ring)
        raise


async def _bridge_over(result: BridgeResult, inbox: asyncio.Queue[Action]) -> AgentGone | None:
    """Wait until the bridged conversation ends; the ``AgentGone`` if the agent dropped first."""
    ended = result.ended
    if ended is None:
        return None
    done_wait = asyncio.create_task(ended.wait())
    try:
        while not done_wait.done():
            action = await _next_action(inbox, done_wait)
            if isinstance(action, AgentGone):
                return action
        return None
    finally:
        await cancel_and_wait(done_wait)


class _Waiter:
    """One caller's time in the queues, in the caller's task."""

    def __init__(
        self,
        acd: AcdService,
        session: CallSession,
        inbox: asyncio.Queue[Action],
        queue_id: str,
        language: str,
    ) -> None:
        self.acd = acd
        self.session = session
        self.inbox = inbox
        self.queue_id = queue_id
        self.language = language
        self.kept = False
        self.callback_offered = False
        self.started = acd.clock.now()
        self.tenant_id = session.tenant_id
        self.call_id = session.call_id

    def _waited(self) -> float:
        return (self.acd.clock.now() - self.started).total_seconds()

    def _result(self, outcome: QueueOutcome, **kw: Any) -> QueueResult:
        return QueueResult(outcome, self.queue_id, self._waited(), **kw)

    def _abandoned(self) -> QueueResult:
        acd = self.acd
        acd._release(self.tenant_id, self.call_id)
        with suppress(CallGone):
            self.session.note(abandoned="true", wait_seconds=f"{self._waited():.1f}")
        log.info("caller abandoned tenant=%s call=%s", self.tenant_id, self.call_id)
        return self._result(QueueOutcome.ABANDONED)

    async def run(self) -> QueueResult:
        """Wait in the queue: music, announcements, ringing agents, until an outcome."""
        # One media operation at a time: a digit listener (it also notices the caller
        # hanging up) or an announcement; an offer or overflow cuts either short.
        op: asyncio.Task[str | None] | None = None
        music = False
        try:
            while True:
                if op is None:
                    if not music:
                        await self.session.start_music(self.acd.prompts.music(self.tenant_id))
                        music = True
                    op = asyncio.create_task(self._listen())
                action = await _next_action(self.inbox, op)
                if op.done():
                    finished, op = op, None
                    digit = finished.result()  # CallGone: the caller hung up
                    if _dtmf_choice(digit) == "1" and self.callback_offered:
                        return await self._callback()
                if isinstance(action, Announce):
                    await cancel_and_wait(op)
                    music = False
                    op = asyncio.create_task(self._announce(action))
                elif isinstance(action, Offer):
                    await cancel_and_wait(op)
                    op = None
                    if not music:
                        await self.session.start_music(self.acd.prompts.music(self.tenant_id))
                        music = True
                    result = await self._ring(action)
                    if result is not None:
                        return result
                elif isinstance(action, Overflow):
                    await cancel_and_wait(op)
                    op = None
                    with suppress(CallGone):
                        await self.session.stop_media()
                        self.session.note(
                            overflow=str(action.target),
                            overflow_reason=action.reason,
                            wait_seconds=f"{self._waited():.1f}",
                        )
                    return self._result(
                        QueueOutcome.OVERFLOW, target=action.target, reason=action.reason
                    )
        except CallGone:
            return self._abandoned()
        finally:
            await cancel_and_wait(op)

    async def _listen(self) -> str | None:
        return await self.session.collect_digits(
            max_digits=1, first_digit_s=self.acd.listen_seconds
        )

    async def _announce(self, action: Announce) -> str | None:
        """Play the entry or comfort message; the digit the caller pressed during it, if any."""
        acd, tenant, lang = self.acd, self.tenant_id, self.language
        await self.session.stop_media()
        paths = [
            acd.prompts.system(tenant, "please_wait" if action.kind == "entry" else "comfort", lang)
        ]
        if action.position is not None:
            found = acd.prompts.find(tenant, f"position_{action.position}", lang)
            if found is not None:
                paths.append(found)
        if action.ewt_seconds is not None:
            minutes = max(1, math.ceil(action.ewt_seconds / 60))
            found = acd.prompts.find(tenant, f"ewt_{minutes}min", lang)
            if found is not None:
                paths.append(found)
        for path in paths:
            await self.session.play(path, barge_in=False)
        if action.offer_callback and acd.can_call_back(self.session):
            self.callback_offered = True
            return await self.session.play(
                acd.prompts.system(tenant, "callback_offer", lang), barge_in=True
            )
        return None

    async def _callback(self) -> QueueResult:
        """The caller pressed 1 for a callback: they hang up and keep their place."""
        acd, tenant, call_id = self.acd, self.tenant_id, self.call_id
        number = self.session.caller.number
        try:
            actions = acd.engine.request_callback(tenant, call_id)
        except KoeError as err:
            log.warning("callback refused tenant=%s call=%s: %s", tenant, call_id, err.code)
            return self._abandoned()
        self.kept = True
        acd._unregister((tenant, call_id), self.inbox)  # offers now go to the dialer
        assert number is not None
        acd.keep_callback(KeptCallback(tenant, call_id, self.queue_id, number, self.language))
        acd._act(actions)
        with suppress(CallGone):
            self.session.note(callback="kept", wait_seconds=f"{self._waited():.1f}")
            await self.session.stop_media()
            await self.session.play(
                acd.prompts.system(tenant, "callback_confirmed", self.language), barge_in=False
            )
        return self._result(QueueOutcome.CALLBACK)

    async def _ring(self, offer: Offer) -> QueueResult | None:
        """Ring the offered agent; a result when the call is over, None to wait on."""
        acd, tenant, call_id, agent_id = self.acd, self.tenant_id, self.call_id, offer.agent_id
        ring = asyncio.create_task(
            self.session.ring_agent(agent_id, ring_s=offer.ring_timeout_seconds)
        )
        if await _ring_or_cancel(ring, self.inbox, agent_id):
            return None
        try:
            result = ring.result()
        except CallGone:
            return self._abandoned()
        outcome = result.outcome
        if outcome is RingOutcome.CALLER_GONE:
            return self._abandoned()
        if outcome is not RingOutcome.ANSWERED:
            if acd._offered_to(tenant, call_id, agent_id):
                acd._act(acd.engine.offer_failed(tenant, call_id, outcome.value))
            return None
        if acd._offered_to(tenant, call_id, agent_id):
            acd._act(acd.engine.answered(tenant, call_id))
        else:
            # The ACD took the offer back as the phone answered: the conversation is real,
            # so the ACD lets go of the call (figures count it as abandoned).
            log.error(
                "agent answered a withdrawn offer tenant=%s call=%s agent=%s",
                tenant,
                call_id,
                agent_id,
            )
            acd._release(tenant, call_id)
        self.session.note(agent=agent_id, wait_seconds=f"{self._waited():.1f}")
        waited = self._waited()
        if result.ended is None:
            log.warning("bridge without an end event tenant=%s call=%s", tenant, call_id)
            await wait_until_gone(self.session, acd.listen_seconds)
            gone = None
        else:
            gone = await _bridge_over(result, self.inbox)
        if gone is not None:
            with suppress(CallGone):
                self.session.note(agent_lost="true")
        elif acd._connected(tenant, call_id):
            acd._act(acd.engine.call_ended(tenant, call_id))
        return QueueResult(QueueOutcome.ANSWERED, self.queue_id, waited, agent_id=agent_id)


async def wait_until_gone(session: CallSession, listen_seconds: float) -> None:
    """Wait for the caller to hang up (digits are ignored)."""
    with suppress(CallGone):
        while True:
            await session.collect_digits(max_digits=1, first_digit_s=listen_seconds)
