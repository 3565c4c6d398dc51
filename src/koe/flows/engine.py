"""The flow engine: runs a number's inbound flow for each call (the ``InboundHandler``).

Call control hands every inbound call to :meth:`FlowEngine.handle`. The engine reads the
number's plan once (the flow at its current version, the IVR menus and calendars it uses,
the tenant's settings), answers, plays the recording notice when the tenant records calls,
and walks the flow's nodes until the call ends. Nodes (``koe.tenancy.flowdoc``):

- ``business_hours`` → ``open`` / ``closed`` (``holiday`` if given, else ``closed``).
- ``ivr_menu`` → plays the IVR's prompt, takes one digit; no input or an invalid one plays a
  notice and asks again up to ``retries`` times, then takes the ``default`` choice (for
  callers who press nothing, e.g. rotary phones). A choice is an action run like the node
  of that type: ``queue`` and ``transfer`` go on to the menu node's ``next`` when they give
  up; ``voicemail``, ``callback`` and ``hangup`` end the call; ``play`` and ``repeat`` come
  back to the menu.
- ``menu_route`` → with a ``prompt``, an inline one-digit menu (``routes``, ``timeout_seconds``,
  ``retries``); without, routes on a variable (``variable``, default the last input).
- ``play`` (``prompt``, ``barge_in``), ``gather`` (``variable``, ``min_digits``, ``max_digits``,
  ``terminator``, ``timeout_seconds``, ``inter_digit_seconds``, ``retries``, ``prompt``),
  ``set`` (``values``; ``language`` switches the prompts' language).
- ``queue`` (``queue``, ``priority``, ``skills`` {skill id: level}) → the ACD; an overflow goes
  to ``next`` (or, without one, to the queue's overflow target).
- ``voicemail`` (``mailbox``, ``max_seconds``, ``prompt``) → a WAV under
  ``<data_dir>/voicemail/<tenant>/<mailbox>/<call id>.wav``.
- ``callback`` (``queue``, ``priority``) → a kept callback in the queue, then ``next``.
- ``transfer`` (``number``, ``ring_seconds``) → bridged to an outside number, else ``next``.
- ``hangup`` (``prompt``, ``cause``).

Loops are bounded: every node visited (and every menu retry) is a step, and a call that
takes ``max_steps`` steps is ended with an apology. A number with no flow, or unknown to the
tenant, gets a clear announcement (ja, then en) and a CDR note.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koe.calls.session import CallGone, CallSession, RingOutcome
from koe.core.clock import Clock
from koe.core.errors import ValidationFailed
from koe.core.events import Event, EventBus
from koe.core.phone import to_e164
from koe.flows import events as fev
from koe.flows.acd import AcdService, QueueOutcome, QueueResult, wait_until_gone
from koe.flows.hours import HoursStatus
from koe.flows.plan import CallPlan, PlanSource
from koe.flows.prompts import Prompts
from koe.media.prompts import CATALOG
from koe.routing.model import TargetKind

log = logging.getLogger(__name__)

MAX_STEPS = 100
_MAILBOX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DIGITS = "0123456789*#"

# Q.850 causes.
NORMAL_CLEARING = 16
UNALLOCATED_NUMBER = 1
SERVICE_UNAVAILABLE = 63


class StepLimit(Exception):
    """The call took more steps than the flow allows (a loop)."""


@dataclass
class CallContext:
    """One call running through its flow."""

    session: CallSession
    plan: CallPlan
    language: str
    attributes: dict[str, str] = field(default_factory=dict)
    steps: int = 0
    outcome: str = "hangup"
    ended: bool = False


def _int(value: Any, default: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = int(value)
    except ValueError:
        return default
    return min(high, max(low, number))


def _seconds(value: Any, default: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return min(high, max(low, float(value)))


class FlowEngine:
    """Runs inbound calls through their tenant's flows (implements ``InboundHandler``)."""

    def __init__(
        self,
        plans: PlanSource,
        acd: AcdService,
        prompts: Prompts,
        *,
        clock: Clock,
        bus: EventBus,
        voicemail_dir: Path,
        max_steps: int = MAX_STEPS,
    ) -> None:
        self.plans = plans
        self.acd = acd
        self.prompts = prompts
        self.clock = clock
        self.bus = bus
        self.voicemail_dir = voicemail_dir
        self.max_steps = max_steps

    # ---- entry point ----

    async def handle(self, session: CallSession) -> None:
        """Run the call until it is bridged and over, or hung up."""
        tenant_id, call_id = session.tenant_id, session.call_id
        try:
            plan = await self.plans.plan(tenant_id, session.called)
        except Exception:
            # The store is unreachable: the caller still hears why, and the call ends.
            log.exception("flow plan unavailable tenant=%s call=%s", tenant_id, call_id)
            await self._unallocated(session, "store_unavailable")
            return
        if plan is None or plan.flow_id is None or not plan.document:
            await self._unallocated(session, "unknown_number" if plan is None else "no_flow")
            return
        ctx = CallContext(session, plan, plan.settings.language)
        session.note(flow=plan.flow_id, flow_version=str(plan.version))
        await self._publish(
            tenant_id,
            fev.FLOW_STARTED,
            {
                "call_id": call_id,
                "number": plan.number,
                "flow_id": plan.flow_id,
                "version": plan.version,
            },
        )
        log.info(
            "flow start tenant=%s call=%s flow=%s version=%d",
            tenant_id,
            call_id,
            plan.flow_id,
            plan.version,
        )
        try:
            await session.answer()
            if plan.settings.record_calls and plan.settings.recording_notice:
                await session.play(self._system(ctx, "recording_notice"), barge_in=False)
            await self._walk(ctx)
        except CallGone:
            if ctx.outcome == "hangup":
                ctx.outcome = "caller_gone"
            ctx.ended = True
        except StepLimit:
            log.warning(
                "flow step limit tenant=%s call=%s flow=%s steps=%d",
                tenant_id,
                call_id,
                plan.flow_id,
                ctx.steps,
            )
            ctx.outcome = "step_limit"
            try:
                session.note(flow_error="step_limit")
                await session.play(self._system(ctx, "service_unavailable"), barge_in=False)
            except CallGone:
                ctx.ended = True
        finally:
            if not ctx.ended:
                with suppress(CallGone):
                    await session.hangup(NORMAL_CLEARING)
            await self._publish(
                tenant_id,
                fev.FLOW_FINISHED,
                {
                    "call_id": call_id,
                    "flow_id": plan.flow_id,
                    "version": plan.version,
                    "steps": ctx.steps,
                    "outcome": ctx.outcome,
                },
            )
            log.info(
                "flow end tenant=%s call=%s outcome=%s steps=%d",
                tenant_id,
                call_id,
                ctx.outcome,
                ctx.steps,
            )

    async def _unallocated(self, session: CallSession, reason: str) -> None:
        """A number the tenant does not have (or with no flow): say so clearly, in ja and en."""
        log.info(
            "call to an unallocated number tenant=%s call=%s number=%s reason=%s",
            session.tenant_id,
            session.call_id,
            session.called,
            reason,
        )
        prompt = "unallocated" if reason == "unknown_number" else "service_unavailable"
        cause = UNALLOCATED_NUMBER if reason == "unknown_number" else SERVICE_UNAVAILABLE
        await self._publish(
            session.tenant_id,
            fev.NUMBER_UNALLOCATED,
            {"call_id": session.call_id, "number": session.called, "reason": reason},
        )
        try:
            session.note(unallocated=reason)
            await session.answer()
            for language in ("ja", "en"):
                await session.play(
                    self.prompts.system(session.tenant_id, prompt, language), barge_in=False
                )
            await session.hangup(cause)
        except CallGone:
            pass

    async def _publish(self, tenant_id: str, kind: str, data: dict[str, Any]) -> None:
        await self.bus.publish(Event(kind, tenant_id, self.clock.now(), data))

    # ---- walking the graph ----

    def _step(self, ctx: CallContext) -> None:
        ctx.steps += 1
        if ctx.steps > self.max_steps:
            raise StepLimit

    async def _walk(self, ctx: CallContext) -> None:
        nodes: Mapping[str, Any] = ctx.plan.document.get("nodes", {})
        current: str | None = ctx.plan.document.get("start")
        while current is not None:
            node = nodes.get(current)
            if not isinstance(node, Mapping):
                log.error(
                    "flow has no node %r tenant=%s call=%s",
                    current,
                    ctx.session.tenant_id,
                    ctx.session.call_id,
                )
                return
            self._step(ctx)
            current = await self._run(ctx, current, node)

    async def _run(self, ctx: CallContext, node_id: str, node: Mapping[str, Any]) -> str | None:
        """Run one node; the id of the next node, or None when the call is over."""
        kind = node.get("type")
        runner = {
            "business_hours": self._business_hours,
            "ivr_menu": self._ivr_menu,
            "menu_route": self._menu_route,
            "play": self._play,
            "gather": self._gather,
            "set": self._set,
            "queue": self._queue,
            "voicemail": self._voicemail,
            "callback": self._callback,
            "transfer": self._transfer,
            "hangup": self._hangup,
        }.get(str(kind))
        if runner is None:
            log.error("unknown node type %r tenant=%s", kind, ctx.session.tenant_id)
            return None
        return await runner(ctx, node_id, node)

    @staticmethod
    def _next(node: Mapping[str, Any]) -> str | None:
        nxt = node.get("next")
        return nxt if isinstance(nxt, str) else None

    def _system(self, ctx: CallContext, prompt_id: str) -> Path:
        return self.prompts.system(ctx.session.tenant_id, prompt_id, ctx.language)

    def _prompt(
        self, ctx: CallContext, spec: Any, own_id: str, fallback: str | None = None
    ) -> Path | None:
        return self.prompts.resolve(
            ctx.session.tenant_id, spec, ctx.language, own_id=own_id, fallback=fallback
        )

    def _node_prompt(self, ctx: CallContext, node_id: str, spec: Any) -> Path | None:
        fallback = node_id if node_id in CATALOG else None
        return self._prompt(ctx, spec, f"flow-{ctx.plan.flow_id}-{node_id}", fallback)

    # ---- nodes ----

    async def _business_hours(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any]
    ) -> str | None:
        calendar = ctx.plan.calendars.get(str(node.get("calendar")))
        if calendar is None:
            # Deleted after the flow was saved: take calls rather than turn callers away.
            log.error(
                "business hours %r missing tenant=%s call=%s",
                node.get("calendar"),
                ctx.session.tenant_id,
                ctx.session.call_id,
            )
            ctx.session.note(hours="unknown_calendar")
            return str(node["open"])
        check = calendar.check(self.clock.now())
        ctx.session.note(hours=check.status.value)
        ctx.attributes["hours"] = check.status.value
        if check.status is HoursStatus.OPEN:
            return str(node["open"])
        if check.status is HoursStatus.HOLIDAY and isinstance(node.get("holiday"), str):
            return str(node["holiday"])
        return str(node["closed"])

    async def _menu(
        self,
        ctx: CallContext,
        prompt: Path | None,
        keys: set[str],
        *,
        wait_s: float,
        retries: int,
    ) -> str | None:
        """Ask for one digit among ``keys``; None when the caller gives none that fits."""
        session = ctx.session
        for attempt in range(retries + 1):
            if attempt:
                self._step(ctx)
            digit = await session.play(prompt, barge_in=True) if prompt is not None else None
            if not digit:
                digit = await session.collect_digits(max_digits=1, first_digit_s=wait_s)
            digit = (digit or "")[:1]
            if digit in keys:
                return digit
            if attempt < retries:
                notice = "invalid_input" if digit else "no_input"
                await session.play(self._system(ctx, notice), barge_in=False)
        return None

    async def _ivr_menu(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any]
    ) -> str | None:
        ivr_id = str(node.get("ivr"))
        ivr = ctx.plan.ivrs.get(ivr_id)
        if ivr is None:
            log.error("IVR %r missing tenant=%s", ivr_id, ctx.session.tenant_id)
            return self._next(node)
        choices: Mapping[str, Any] = ivr.get("choices") or {}
        timeout = _seconds(ivr.get("timeout_seconds"), 5.0, 1.0, 60.0)
        retries = _int(ivr.get("retries"), 2, 0, 5)
        spec = ivr.get("prompt_id") or ivr.get("prompt")
        prompt = self._prompt(ctx, spec, f"ivr-{ivr_id}", fallback="welcome")
        while True:
            digit = await self._menu(ctx, prompt, set(choices), wait_s=timeout, retries=retries)
            choice = choices.get(digit) if digit is not None else ivr.get("default")
            ctx.session.note(ivr=ivr_id, ivr_choice=digit if digit is not None else "default")
            if digit is not None:
                ctx.attributes["last_input"] = digit
            if not isinstance(choice, Mapping):
                return self._next(node)
            action = choice.get("action")
            if action == "repeat":
                self._step(ctx)
                continue
            if action == "play":
                self._step(ctx)
                path = self._prompt(ctx, choice.get("prompt"), f"ivr-{ivr_id}-{digit}")
                if path is not None:
                    await ctx.session.play(path, barge_in=False)
                continue
            language = choice.get("language")
            if language in ("ja", "en"):
                ctx.language = str(language)
                ctx.attributes["language"] = ctx.language
            # Queues and transfers can give up (overflow, no answer): then the menu's next.
            # Voicemail, callback and hangup end the call.
            nxt = node.get("next") if action in ("queue", "transfer") else None
            synthetic = {**choice, "type": action, "next": nxt}
            return await self._run(ctx, f"{node_id}.{digit or 'default'}", synthetic)

    async def _menu_route(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any]
    ) -> str | None:
        routes: Mapping[str, Any] = node.get("routes") or {}
        if "prompt" in node:
            digit = await self._menu(
                ctx,
                self._node_prompt(ctx, node_id, node["prompt"]),
                set(routes),
                wait_s=_seconds(node.get("timeout_seconds"), 5.0, 1.0, 60.0),
                retries=_int(node.get("retries"), 2, 0, 5),
            )
            value = digit or ""
            ctx.attributes["last_input"] = value
        else:
            value = ctx.attributes.get(str(node.get("variable", "last_input")), "")
        target = routes.get(value)
        ctx.session.note(**{f"route_{node_id}": value or "default"})
        return str(target) if isinstance(target, str) else str(node["default"])

    async def _play(self, ctx: CallContext, node_id: str, node: Mapping[str, Any]) -> str | None:
        path = self._node_prompt(ctx, node_id, node.get("prompt"))
        if path is not None:
            digit = await ctx.session.play(path, barge_in=bool(node.get("barge_in", False)))
            if digit:
                ctx.attributes["last_input"] = digit
        return self._next(node)

    async def _gather(self, ctx: CallContext, node_id: str, node: Mapping[str, Any]) -> str | None:
        session = ctx.session
        max_digits = _int(node.get("max_digits"), 20, 1, 64)
        min_digits = _int(node.get("min_digits"), 1, 0, max_digits)
        terminator = node.get("terminator", "#")
        terminator = terminator if isinstance(terminator, str) and terminator in _DIGITS else "#"
        timeout = _seconds(node.get("timeout_seconds"), 5.0, 1.0, 60.0)
        inter = _seconds(node.get("inter_digit_seconds"), 3.0, 0.5, 30.0)
        retries = _int(node.get("retries"), 2, 0, 5)
        prompt = self._node_prompt(ctx, node_id, node["prompt"]) if "prompt" in node else None
        variable = str(node["variable"])
        digits = ""
        for attempt in range(retries + 1):
            if attempt:
                self._step(ctx)
            first = await session.play(prompt, barge_in=True) if prompt is not None else None
            digits = first or ""
            if digits != terminator and len(digits) < max_digits:
                digits += await session.collect_digits(
                    max_digits=max_digits - len(digits),
                    first_digit_s=inter if digits else timeout,
                    terminator=terminator,
                    inter_digit_s=inter,
                )
            digits = digits.split(terminator, 1)[0]
            if min_digits <= len(digits) <= max_digits and all(d in _DIGITS for d in digits):
                break
            if attempt < retries:
                notice = "invalid_input" if digits else "no_input"
                await session.play(self._system(ctx, notice), barge_in=False)
            digits = ""
        ctx.attributes[variable] = digits
        ctx.attributes["last_input"] = digits
        if node.get("note"):
            session.note(**{f"var_{variable}": digits})
        return self._next(node)

    async def _set(self, ctx: CallContext, node_id: str, node: Mapping[str, Any]) -> str | None:
        values = node.get("values")
        if isinstance(values, Mapping):
            for name, value in values.items():
                text = str(value)
                ctx.attributes[str(name)] = text
                if name == "language" and text in ("ja", "en"):
                    ctx.language = text
            ctx.session.note(**{f"attr_{k}": str(v) for k, v in values.items()})
        return self._next(node)

    def _priority(self, ctx: CallContext, node: Mapping[str, Any]) -> int:
        raw = node.get("priority", ctx.attributes.get("priority", 0))
        return _int(raw, 0, -1000, 1000)

    async def _queue(self, ctx: CallContext, node_id: str, node: Mapping[str, Any]) -> str | None:
        queue_id = str(node.get("queue"))
        skills_raw = node.get("skills")
        skills: dict[str, int] | None = None
        if isinstance(skills_raw, Mapping):
            skills = {str(k): _int(v, 1, 1, 10) for k, v in skills_raw.items()}
        elif isinstance(skills_raw, list):
            skills = {
                str(r["skill_id"]): _int(r.get("min_level", 1), 1, 1, 10)
                for r in skills_raw
                if isinstance(r, Mapping) and "skill_id" in r
            }
        result = await self.acd.queue_call(
            ctx.session,
            queue_id,
            priority=self._priority(ctx, node),
            skills=skills,
            language=ctx.language,
        )
        return await self._after_queue(ctx, node_id, node, result)

    async def _after_queue(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any], result: QueueResult
    ) -> str | None:
        outcome = result.outcome
        if outcome is QueueOutcome.ANSWERED:
            ctx.outcome = "answered"
            return None
        if outcome is QueueOutcome.ABANDONED:
            ctx.outcome = "abandoned"
            ctx.ended = True
            return None
        if outcome is QueueOutcome.CALLBACK:
            ctx.outcome = "callback"
            return None
        nxt = self._next(node)
        if outcome is QueueOutcome.UNAVAILABLE or nxt is not None or result.target is None:
            if nxt is None:
                await ctx.session.play(self._system(ctx, "lines_busy"), barge_in=False)
            return nxt
        target = result.target
        synthetic: dict[str, Any] = {"type": "hangup", "prompt": "goodbye"}
        if target.kind is TargetKind.VOICEMAIL:
            synthetic = {"type": "voicemail", "mailbox": target.ref or "main"}
        elif target.kind is TargetKind.CALLBACK:
            synthetic = {"type": "callback", "queue": target.ref or result.queue_id}
        elif target.kind is TargetKind.TRANSFER and target.ref:
            synthetic = {"type": "transfer", "number": target.ref}
        self._step(ctx)
        return await self._run(ctx, f"{node_id}.overflow", synthetic)

    async def _voicemail(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any]
    ) -> str | None:
        session = ctx.session
        mailbox = str(node.get("mailbox", "main"))
        if not _MAILBOX.match(mailbox):
            mailbox = "main"
        prompt = (
            self._node_prompt(ctx, node_id, node["prompt"]) if "prompt" in node else None
        ) or self._system(ctx, "voicemail")
        await session.play(prompt, barge_in=False)
        folder = self.voicemail_dir / session.tenant_id / mailbox
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{session.call_id}.wav"
        ctx.outcome = "voicemail"
        seconds = await session.record(
            path, max_seconds=_seconds(node.get("max_seconds"), 120.0, 5.0, 600.0)
        )
        session.note(voicemail=mailbox, voicemail_seconds=f"{seconds:.1f}")
        caller = session.caller
        await self._publish(
            session.tenant_id,
            fev.VOICEMAIL_RECORDED,
            {
                "call_id": session.call_id,
                "mailbox": mailbox,
                "path": str(path.relative_to(self.voicemail_dir)),
                "seconds": seconds,
                "caller": caller.number if caller.withheld is None else None,
            },
        )
        return self._next(node)

    async def _callback(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any]
    ) -> str | None:
        session = ctx.session
        queue_id = str(node.get("queue"))
        kept = await self.acd.request_callback(
            session, queue_id, priority=self._priority(ctx, node), language=ctx.language
        )
        if kept:
            ctx.outcome = "callback"
            session.note(callback="kept", queue=queue_id)
            await session.play(self._system(ctx, "callback_confirmed"), barge_in=False)
            return self._next(node)
        session.note(callback="unavailable")
        nxt = self._next(node)
        if nxt is None:
            await session.play(self._system(ctx, "lines_busy"), barge_in=False)
        return nxt

    async def _transfer(
        self, ctx: CallContext, node_id: str, node: Mapping[str, Any]
    ) -> str | None:
        session = ctx.session
        try:
            number = to_e164(str(node.get("number", "")))
        except ValidationFailed:
            log.error(
                "transfer to an unusable number %r tenant=%s call=%s",
                node.get("number"),
                session.tenant_id,
                session.call_id,
            )
            session.note(transfer="invalid_number")
            return self._next(node)
        await session.play(self._system(ctx, "transferring"), barge_in=False)
        result = await session.transfer_out(
            number, ring_s=_seconds(node.get("ring_seconds"), 30.0, 5.0, 120.0)
        )
        session.note(transfer=number, transfer_result=result.outcome.value)
        if result.outcome is RingOutcome.ANSWERED:
            ctx.outcome = "transferred"
            if result.ended is not None:
                await result.ended.wait()
            else:
                await wait_until_gone(session, self.acd.listen_seconds)
            return None
        if result.outcome is RingOutcome.CALLER_GONE:
            raise CallGone("caller_gone", "発信者が切断しました。", "The caller hung up.")
        nxt = self._next(node)
        if nxt is None:
            await session.play(self._system(ctx, "lines_busy"), barge_in=False)
        return nxt

    async def _hangup(self, ctx: CallContext, node_id: str, node: Mapping[str, Any]) -> str | None:
        if "prompt" in node:
            path = self._node_prompt(ctx, node_id, node["prompt"])
            if path is not None:
                await ctx.session.play(path, barge_in=False)
        cause = _int(node.get("cause"), NORMAL_CLEARING, 1, 127)
        ctx.ended = True
        await ctx.session.hangup(cause)
        return None
