"""Carrier trunks: outbound registration with refresh and back-off (RFC 3261 §10.2), OPTIONS
keep-alive of trunks and phones with up/down events, and the dialled number on registration trunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from koe.core.clock import Clock, SystemClock
from koe.core.events import Event
from koe.sip.auth import Credentials
from koe.sip.errors import SipError
from koe.sip.message import SipRequest, SipResponse
from koe.sip.transport import Destination
from koe.sip.ua import SipStack, new_tag
from koe.sip.uri import SipUri, parse_uri

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class TrunkRegistration:
    """Settings for registering Koe to a carrier's registrar."""

    name: str
    registrar: str  # e.g. "sip:ngn.example;transport=udp"
    aor: str  # e.g. "sip:0501234567@ngn.example"
    credentials: Credentials | None = None
    expires: int = 3600
    retry_min: float = 30.0
    retry_max: float = 600.0
    tenant_id: str | None = None


class OutboundRegistration:
    """Keeps one registration alive: refresh before expiry, exponential back-off on failure."""

    def __init__(
        self,
        stack: SipStack,
        config: TrunkRegistration,
        *,
        publish: Publish | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.stack = stack
        self.config = config
        self.publish = publish
        self.clock = clock or SystemClock()
        self.registered = False
        self.granted: int | None = None
        self.failures = 0
        self.last_response: SipResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._call_id = ""
        self._cseq = 0
        self._tag = new_tag()
        self.changed = asyncio.Event()

    async def start(self) -> None:
        """Start registering (the loop runs until ``stop``)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, unregister: bool = True) -> None:
        """Stop the loop; optionally remove the binding (Expires: 0)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if unregister and self.registered:
            with contextlib.suppress(SipError, OSError):
                await self.register_once(expires=0)

    async def _run(self) -> None:
        while True:
            try:
                response = await self.register_once(self.config.expires)
            except (SipError, OSError) as err:
                log.info("sip trunk %s registration error: %s", self.config.name, err)
                response = None
            if response is not None and 200 <= response.status < 300 and self.granted:
                self.failures = 0
                await asyncio.sleep(max(1.0, self.granted * 0.5))  # refresh halfway (§10.2.4)
                continue
            self.failures += 1
            delay = min(self.config.retry_max, self.config.retry_min * 2 ** (self.failures - 1))
            await asyncio.sleep(delay)

    async def register_once(self, expires: int) -> SipResponse:
        """Send one REGISTER (answering a challenge once) and record the outcome."""
        stack = self.stack
        registrar = parse_uri(self.config.registrar)
        dest = await stack.resolve(registrar)
        aor = self.config.aor
        if not self._call_id:
            self._call_id = f"reg-{new_tag()}{new_tag()}@koe"
        self._cseq += 1
        request = stack.build_request(
            "REGISTER",
            registrar,
            from_=f"<{aor}>;tag={self._tag}",
            to=f"<{aor}>",
            call_id=self._call_id,
            cseq=self._cseq,  # RFC 3261 §10.2.4: same Call-ID, CSeq rising
            transport=dest.transport,
            dest_host=dest.host,
            contact=stack.contact_for(None, dest.transport, dest.host),
            headers=[("Expires", str(expires))],
        )
        self._cseq += 1  # reserved for the authorized retry, even if this call is cancelled
        response = await stack.send_request(request, dest, credentials=self.config.credentials)
        if response.status == 423 and expires:
            min_expires = response.headers.get("min-expires") or ""
            if min_expires.isdigit():
                return await self.register_once(int(min_expires))
        self.last_response = response
        ok = 200 <= response.status < 300 and expires > 0
        self.granted = _granted(response, expires) if ok else None
        await self._set(ok)
        return response

    async def _set(self, registered: bool) -> None:
        if registered == self.registered:
            return
        self.registered = registered
        self.changed.set()
        self.changed = asyncio.Event()
        log.info("sip trunk %s registered=%s", self.config.name, registered)
        if self.publish is not None:
            kind = "sip.trunk.registered" if registered else "sip.trunk.unregistered"
            await self.publish(
                Event(kind, self.config.tenant_id, self.clock.now(), {"trunk": self.config.name})
            )


def _granted(response: SipResponse, asked: int) -> int:
    """Expiry the registrar granted: our Contact's expires, else Expires, else what we asked."""
    for contact in response.contacts:
        value = contact.param("expires")
        if value and value.isdigit():
            return int(value)
    return response.expires if response.expires is not None else asked


class OptionsKeepalive:
    """Pings peers (trunks, phones) with OPTIONS; publishes ``sip.peer.up``/``sip.peer.down``.

    Any response means the peer is alive (RFC 3261 §11); a timeout or transport error
    counts as a failure, and ``failures_to_down`` failures in a row mark it down.
    """

    def __init__(
        self,
        stack: SipStack,
        *,
        interval: float = 30.0,
        failures_to_down: int = 2,
        publish: Publish | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.stack = stack
        self.interval = interval
        self.failures_to_down = failures_to_down
        self.publish = publish
        self.clock = clock or SystemClock()
        self.targets: dict[str, tuple[str, str | None]] = {}
        self.destinations: dict[str, Destination] = {}
        self.up: dict[str, bool] = {}
        self._failures: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(
        self, name: str, uri: str, tenant_id: str | None = None, dest: Destination | None = None
    ) -> None:
        """Start watching peer ``name`` at ``uri`` (sent to ``dest``: a NAT-fixed flow)."""
        self.targets[name] = (uri, tenant_id)
        if dest is not None:
            self.destinations[name] = dest

    def unwatch(self, name: str) -> None:
        """Stop watching ``name``."""
        self.targets.pop(name, None)
        self.destinations.pop(name, None)
        self.up.pop(name, None)
        self._failures.pop(name, None)

    async def start(self) -> None:
        """Start the ping loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the ping loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.ping_all()
            await asyncio.sleep(self.interval)

    async def ping_all(self) -> None:
        """Ping every target once, concurrently."""
        names = list(self.targets)
        results = await asyncio.gather(*(self._ping(n) for n in names), return_exceptions=True)
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                log.info("sip keepalive %s failed: %s", name, result)

    async def _ping(self, name: str) -> None:
        uri_text, tenant = self.targets[name]
        stack = self.stack
        alive = False
        try:
            uri = parse_uri(uri_text)
            dest = self.destinations.get(name) or await stack.resolve(uri)
            host, _ = stack.local_address(dest.transport, dest.host)
            request: SipRequest = stack.build_request(
                "OPTIONS",
                uri,
                from_=f"<sip:keepalive@{host}>;tag={new_tag()}",
                to=f"<{uri_text}>" if isinstance(uri, SipUri) else uri_text,
                transport=dest.transport,
                dest_host=dest.host,
            )
            response = await stack.send_request(request, dest)
            alive = response.status != 408 and not (
                response.status == 503
                and response.headers.get("via")
                and response.reason.startswith("transport")
            )
        except (SipError, OSError) as err:
            log.info("sip keepalive %s: %s", name, err)
        if alive:
            self._failures[name] = 0
        else:
            self._failures[name] = self._failures.get(name, 0) + 1
        was = self.up.get(name)
        now_up = alive or (was is True and self._failures[name] < self.failures_to_down)
        if was is now_up:
            return
        self.up[name] = now_up
        log.info("sip peer %s is %s", name, "up" if now_up else "down")
        if self.publish is not None:
            kind = "sip.peer.up" if now_up else "sip.peer.down"
            await self.publish(
                Event(kind, tenant, self.clock.now(), {"peer": name, "uri": uri_text})
            )


def dialled_number(request: SipRequest, registration_trunk: bool) -> str | None:
    """The number the caller dialled: the To user on registration trunks, else the R-URI user."""
    uri = request.to.uri if registration_trunk else request.uri
    if isinstance(uri, SipUri):
        return uri.user
    return getattr(uri, "number", None)
