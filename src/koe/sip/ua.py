"""The UA core (RFC 3261 §8, §9, §12–§15): checks requests, dispatches them, sends requests.

``SipStack`` ties transports, transactions and dialogs together. Call control gives
it one handler for out-of-dialog requests; each ``Dialog`` can carry its own handler
for in-dialog requests. Overload protection (503 + Retry-After) sits at the door.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koe.sip.auth import Credentials, answer_challenge
from koe.sip.dialog import Dialog, dialog_key
from koe.sip.errors import SipError, SipParseError, SipTransportError
from koe.sip.headers import parse_name_addr
from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.stats import SipCounters
from koe.sip.trace import MessageTrace
from koe.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    State,
    Timers,
    TransactionLayer,
    make_response,
    new_branch,
)
from koe.sip.transport import (
    DEFAULT_PORTS,
    Destination,
    Flow,
    TransportLayer,
    bare_host,
    is_ip,
    via_value,
)
from koe.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri

log = logging.getLogger(__name__)

SUPPORTED = ("100rel", "timer", "replaces", "path", "outbound", "norefersub")
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE, REGISTER"
ACCEPTED_BODIES = (
    "application/sdp",
    "multipart/mixed",
    "application/dtmf-relay",
    "message/sipfrag",
)

RequestHandler = Callable[["IncomingRequest"], Awaitable[None] | None]


def new_tag() -> str:
    """A fresh From/To tag (RFC 3261 §19.3)."""
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    """A fresh Call-ID (RFC 3261 §8.1.1.4)."""
    return f"{secrets.token_hex(10)}@{host}"


@dataclass
class SipConfig:
    """Server settings of one SIP stack."""

    listen: list[tuple[str, str, int]] = field(default_factory=lambda: [("UDP", "127.0.0.1", 5060)])
    tls_context: ssl.SSLContext | None = None
    client_ssl_context: ssl.SSLContext | None = None
    timers: Timers = field(default_factory=Timers)
    user_agent: str = "Koe"
    contact_user: str = "koe"
    force_rport: bool = False
    nat_fix: bool = True
    max_request_rate: float = 0.0  # new out-of-dialog requests per second; 0 = unlimited
    max_pending_requests: int = 5000  # requests received and not answered yet
    max_transactions: int = 500_000  # all live server transactions (memory bound)
    max_handler_tasks: int = 5000
    retry_after: int = 5
    session_expires: int = 1800
    min_se: int = 90
    trace_path: Path | None = None
    idle_timeout: float = 600.0
    crlf_keepalive: float = 0.0  # seconds between CRLF pings on our own TCP/TLS connections
    outbound_proxy: str | None = None


class IncomingRequest:
    """A received request as the TU sees it: respond, and learn of CANCEL."""

    __slots__ = ("_cancel_waiters", "dialog", "flow", "request", "stack", "tx")

    def __init__(self, stack: SipStack, request: SipRequest, tx: ServerTransaction) -> None:
        self.stack = stack
        self.request = request
        self.tx = tx
        self.flow = tx.flow
        self.dialog: Dialog | None = None
        self._cancel_waiters: list[asyncio.Future[None]] = []

    @property
    def method(self) -> str:
        """The request method."""
        return self.request.method

    @property
    def answered(self) -> bool:
        """Whether a final response has been sent."""
        return self.tx.final_status >= 200

    @property
    def cancelled(self) -> bool:
        """Whether a CANCEL arrived for this INVITE (§9.2)."""
        return self.tx.cancelled

    async def wait_cancelled(self) -> None:
        """Wait until the INVITE is cancelled."""
        if self.tx.cancelled:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._cancel_waiters.append(fut)
        await fut

    def _on_cancel(self) -> None:
        for fut in self._cancel_waiters:
            if not fut.done():
                fut.set_result(None)

    def response(
        self,
        status: int,
        reason: str | None = None,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipResponse:
        """Build (without sending) a response to this request."""
        if status > 100 and self.tx.to_tag is None and self.request.to.tag is None:
            self.tx.to_tag = new_tag()
        to_tag = self.tx.to_tag if status > 100 else None
        response = make_response(self.request, status, reason, to_tag)
        for name, value in headers:
            response.headers.add(name, value)
        if body:
            response.set_body(body, content_type or "application/sdp")
        return response

    def respond(
        self,
        status: int,
        reason: str | None = None,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        reliable: bool = False,
    ) -> SipResponse:
        """Send a response; for INVITE, 1xx/2xx make a dialog and 2xx repeat until ACK."""
        response = self.response(
            status, reason, headers=headers, body=body, content_type=content_type
        )
        self.send(response, reliable=reliable)
        return response

    def send(self, response: SipResponse, *, reliable: bool = False) -> None:
        """Send a prepared response through the transaction (and dialog, for INVITE)."""
        req = self.request
        status = response.status
        if self.answered:
            # e.g. a 200 after CANCEL already answered 487: too late, and not an error
            log.info(
                "sip %d to %s after its final response dropped call_id=%s",
                status,
                req.method,
                req.call_id,
            )
            return
        if req.method == "INVITE" and 100 < status < 300 and self.dialog is None:
            self.dialog = self.stack._uas_dialog(self, response)
        if 100 < status < 300 and req.method == "INVITE" and "contact" not in response.headers:
            response.headers.add("Contact", self.stack.contact_for(self.flow))
        if self.dialog is not None and req.method in ("INVITE", "UPDATE"):
            self.dialog.prepare_uas_response(self, response, reliable)
        if status >= 200:
            self.stack._incoming.pop(self.tx.key, None)  # no CANCEL can matter any more
        if 200 <= status < 300 and req.method == "INVITE" and self.dialog is not None:
            self.dialog.start_2xx(response, self)
            return
        self.tx.respond(response)
        if status >= 300 and req.method == "INVITE" and self.dialog is not None:
            self.dialog.early_failed()


@dataclass
class _RateLimiter:
    """Token bucket for new requests (overload protection)."""

    rate: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def allow(self) -> bool:
        """Take one token if there is one."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SipStack:
    """One SIP user agent: transports, transactions, dialogs and the request handler."""

    def __init__(self, config: SipConfig, handler: RequestHandler | None = None) -> None:
        self.config = config
        self.handler = handler
        self.counters = SipCounters()
        self.trace = MessageTrace(config.trace_path) if config.trace_path else None
        self.transport = TransportLayer(
            self._on_message,
            counters=self.counters,
            trace=self.trace,
            force_rport=config.force_rport,
            idle_timeout=config.idle_timeout,
            client_ssl_context=config.client_ssl_context,
            keepalive_interval=config.crlf_keepalive,
        )
        self.transactions: TransactionLayer | None = None
        self.dialogs: dict[tuple[str, str, str], Dialog] = {}
        self._incoming: dict[tuple[str, ...], IncomingRequest] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._limiter = _RateLimiter(config.max_request_rate, config.max_request_rate)
        self.ack_handler: Callable[[SipRequest, Flow], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the configured listeners."""
        if self.trace is not None:
            self.trace.open()
        self.transactions = TransactionLayer(self.transport, self, self.config.timers)
        for transport, host, port in self.config.listen:
            ctx = self.config.tls_context if transport.upper() in ("TLS", "WSS") else None
            await self.transport.listen(transport, host, port, ctx)

    async def stop(self) -> None:
        """Stop dialogs' timers, cancel handler tasks, close transports (mirror of start)."""
        for dialog in list(self.dialogs.values()):
            dialog.stop_timers()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.transactions is not None:
            self.transactions.stop()
        await self.transport.stop()
        if self.trace is not None:
            self.trace.close()

    def spawn(self, coro: Awaitable[Any], name: str = "sip") -> asyncio.Task[Any]:
        """Run ``coro`` as a task owned by the stack (cancelled and awaited in ``stop``)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, SipError):
            log.info("sip task ended: %s", exc)
        elif exc is not None:
            log.error("sip task failed", exc_info=exc)

    @property
    def layer(self) -> TransactionLayer:
        """The transaction layer (after ``start``)."""
        assert self.transactions is not None, "SipStack.start() first"
        return self.transactions

    def local_address(self, transport: str = "UDP", host: str = "") -> tuple[str, int]:
        """Our ``(host, port)`` for ``transport``."""
        return self.transport.via_for(transport.upper(), host)

    def contact_for(self, flow: Flow | None, transport: str = "UDP", host: str = "") -> str:
        """Our Contact value for a dialog over ``flow`` (or ``transport``)."""
        name = flow.transport if flow is not None else transport
        rhost = flow.remote[0] if flow is not None else host
        lhost, lport = self.transport.via_for(name, rhost)
        # sip: with transport=tls rather than sips: (RFC 5630 §3.1.3); phones such as
        # baresip cannot send in-dialog requests to a sips: Contact with a transport param.
        tparam = "" if name == "UDP" else f";transport={name.lower()}"
        return f"<sip:{self.config.contact_user}@{lhost}:{lport}{tparam}>"

    # -- incoming ----------------------------------------------------------------------------

    def _on_message(self, msg: SipMessage, flow: Flow) -> None:
        self.layer.on_message(msg, flow)

    def on_request(self, request: SipRequest, tx: ServerTransaction) -> None:
        """A new server transaction (TransactionUser)."""
        inreq = IncomingRequest(self, request, tx)
        method = request.method
        if method == "CANCEL":
            self._on_cancel(inreq)
            return
        to_tag = request.to.tag
        if to_tag is not None and method != "REGISTER":  # registrations are never in a dialog
            dialog = self.dialogs.get(dialog_key(request.call_id, to_tag, request.from_.tag or ""))
            if dialog is None:
                inreq.respond(481)
                return
            inreq.dialog = dialog
            if not self._check_request(inreq):
                return
            if method == "INVITE":
                self._incoming[tx.key] = inreq
            dialog.on_request(inreq)
            return
        if not self._admit(inreq) or not self._check_request(inreq):
            return
        if method == "INVITE":
            self._incoming[tx.key] = inreq
        self._dispatch(self.handler, inreq)

    def _admit(self, inreq: IncomingRequest) -> bool:
        """Overload protection: 503 + Retry-After above the configured limits (RFC 3261 §21.5.4)."""
        cfg = self.config
        layer = self.layer
        busy = (
            layer.pending > cfg.max_pending_requests
            or len(layer.server) > cfg.max_transactions
            or len(self._tasks) > cfg.max_handler_tasks
            or not self._limiter.allow()
        )
        if busy:
            self.counters.overload_rejections += 1
            inreq.respond(503, headers=[("Retry-After", str(cfg.retry_after))])
            return False
        return True

    def _check_request(self, inreq: IncomingRequest) -> bool:
        """The UAS checks of RFC 3261 §8.2.1–§8.2.3: scheme, extensions, body type."""
        req = inreq.request
        try:
            uri = req.uri
        except SipParseError:
            inreq.respond(400)
            return False
        if isinstance(uri, AbsoluteUri):
            inreq.respond(416)
            return False
        if req.method not in ("ACK", "CANCEL"):
            unknown = [tag for tag in req.options("require") if tag not in SUPPORTED]
            if unknown:
                inreq.respond(420, headers=[("Unsupported", ", ".join(unknown))])
                return False
        if req.body and req.method in ("INVITE", "UPDATE", "PRACK", "ACK"):
            ctype = req.content_type
            if ctype not in ACCEPTED_BODIES:
                inreq.respond(415, headers=[("Accept", "application/sdp")])
                return False
        accept = req.headers.get("accept")
        if req.method == "INVITE" and accept is not None:
            types = [t for a in accept.split(",") if (t := a.split(";")[0].strip().lower())]
            if types and "application/sdp" not in types and "*/*" not in types:
                inreq.respond(406)
                return False
        session_expires = req.headers.get("session-expires")
        if session_expires is not None and req.method in ("INVITE", "UPDATE"):
            value = session_expires.split(";")[0].strip()
            if not value.isdigit():
                inreq.respond(400)
                return False
            if int(value) < self.config.min_se:
                inreq.respond(422, headers=[("Min-SE", str(self.config.min_se))])
                return False
        return True

    def _dispatch(self, handler: RequestHandler | None, inreq: IncomingRequest) -> None:
        if handler is None:
            self.default_handler(inreq)
            return
        try:
            result = handler(inreq)
        except Exception:
            log.exception("sip handler failed call_id=%s", inreq.request.call_id)
            if not inreq.answered:
                inreq.respond(500)
            return
        if inspect.isawaitable(result):
            self.spawn(self._guard(result, inreq))

    async def _guard(self, result: Awaitable[None], inreq: IncomingRequest) -> None:
        try:
            await result
        except asyncio.CancelledError:
            if not inreq.answered and inreq.request.method != "ACK":
                inreq.respond(500)
            raise
        except Exception:
            log.exception("sip handler failed call_id=%s", inreq.request.call_id)
            if not inreq.answered:
                inreq.respond(500)

    def default_handler(self, inreq: IncomingRequest) -> None:
        """What a UA without a handler answers: 200 to OPTIONS, 501/405 to the rest."""
        method = inreq.request.method
        if method == "OPTIONS":
            inreq.respond(200, headers=[("Allow", ALLOW), ("Accept", "application/sdp")])
        elif method in ALLOW.replace(",", "").split():
            inreq.respond(405, headers=[("Allow", "OPTIONS")])
        else:
            inreq.respond(501)

    def _on_cancel(self, inreq: IncomingRequest) -> None:
        """CANCEL (§9.2): 200 to the CANCEL, 487 to the INVITE if it is still pending."""
        invite_tx = self.layer.find_invite(inreq.request)
        if invite_tx is None:
            inreq.respond(481)
            return
        inreq.respond(200)
        pending = self._incoming.get(invite_tx.key)
        if invite_tx.state is State.PROCEEDING:
            invite_tx.cancelled = True
            if pending is not None:
                pending.respond(487)
                pending._on_cancel()
            else:
                invite_tx.respond(invite_tx.request_response(487))

    def on_ack(self, ack: SipRequest, flow: Flow) -> None:
        """ACK for a 2xx: to its dialog (§13.3.1.4)."""
        tag = ack.to.tag
        dialog = self.dialogs.get(dialog_key(ack.call_id, tag or "", ack.from_.tag or ""))
        if dialog is not None:
            dialog.on_ack(ack)
        elif self.ack_handler is not None:
            self.ack_handler(ack, flow)

    def on_stray_response(self, response: SipResponse, flow: Flow) -> None:
        """A 2xx retransmission for a dialog we ACKed already: ACK again (§13.2.2.4)."""
        if response.status // 100 != 2 or response.cseq.method != "INVITE":
            return
        dialog = self.dialogs.get(
            dialog_key(response.call_id, response.from_.tag or "", response.to.tag or "")
        )
        if dialog is not None:
            dialog.on_2xx_retransmission(response)

    def on_forked_2xx(self, request: SipRequest, response: SipResponse) -> None:
        """Another fork answered too: ACK it, then BYE it (RFC 3261 §13.2.2.4)."""
        key = dialog_key(request.call_id, request.from_.tag or "", response.to.tag or "")
        if key in self.dialogs:
            self.dialogs[key].on_2xx_retransmission(response)
            return
        log.info("sip extra 2xx from a fork: ACK and BYE call_id=%s", request.call_id)
        dialog = Dialog.from_uac_response(self, request, response, None)
        dialog.confirm_uac(response)
        dialog.ack()
        self.spawn(dialog.bye())

    def on_server_terminated(self, tx: ServerTransaction) -> None:
        """Forget what we kept for the transaction."""
        self._incoming.pop(tx.key, None)

    # -- dialogs ---------------------------------------------------------------------------

    def _uas_dialog(self, inreq: IncomingRequest, response: SipResponse) -> Dialog:
        req = inreq.request
        tag = inreq.tx.to_tag or new_tag()
        inreq.tx.to_tag = tag
        contacts = req.contacts
        target = contacts[0].uri if contacts else req.from_.uri
        dialog = Dialog(
            self,
            call_id=req.call_id,
            local_tag=tag,
            remote_tag=req.from_.tag or "",
            local_uri=req.headers.get("to") or "",
            remote_uri=req.headers.get("from") or "",
            remote_target=target,
            route_set=[str(r) for r in req.record_routes],
            local_seq=0,
            remote_seq=req.cseq.seq,
            uac=False,
            flow=inreq.flow,
            invite=req,
        )
        dialog.peer_allow = [m.upper() for m in req.options("allow")]
        self.dialogs[dialog.key] = dialog
        return dialog

    def forget_dialog(self, dialog: Dialog) -> None:
        """Drop a terminated dialog."""
        if self.dialogs.get(dialog.key) is dialog:
            del self.dialogs[dialog.key]

    # -- outgoing --------------------------------------------------------------------------

    async def resolve(self, uri: Uri, flow: Flow | None = None) -> Destination:
        """Where to send a request for ``uri`` (RFC 3263 §4, without NAPTR/SRV lookups)."""
        if not isinstance(uri, SipUri):
            raise SipTransportError(f"cannot route a {uri.scheme} URI")
        transport = (uri.transport or ("tls" if uri.secure else "udp")).upper()
        if transport not in DEFAULT_PORTS:
            raise SipTransportError(f"unsupported transport {transport}")
        host = uri.param("maddr") or uri.host
        port = uri.port or DEFAULT_PORTS[transport]
        if not is_ip(host):
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=2)
            except OSError as err:
                raise SipTransportError(f"cannot resolve {host}: {err}") from err
            host = str(infos[0][4][0])
        return Destination(transport, bare_host(host), port)

    def build_request(
        self,
        method: str,
        uri: Uri | str,
        *,
        from_: str,
        to: str,
        call_id: str | None = None,
        cseq: int = 1,
        transport: str = "UDP",
        dest_host: str = "",
        routes: Iterable[str] = (),
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        contact: str | None = None,
    ) -> SipRequest:
        """A new request with the mandatory headers of RFC 3261 §8.1.1."""
        uri_obj = parse_uri(uri) if isinstance(uri, str) else uri
        req = SipRequest(method, uri_obj)
        host, port = self.transport.via_for(transport, dest_host)
        h = req.headers
        h.add("Via", via_value(transport, host, port, new_branch()))
        h.add("Max-Forwards", "70")
        for route in routes:
            h.add("Route", route)
        h.add("From", from_)
        h.add("To", to)
        h.add("Call-ID", call_id or new_call_id(host.strip("[]")))
        h.add("CSeq", f"{cseq} {method}")
        if contact is not None:
            h.add("Contact", contact)
        if self.config.user_agent:
            h.add("User-Agent", self.config.user_agent)
        for name, value in headers:
            h.add(name, value)
        req.set_body(body, content_type if body else None)
        return req

    def start_transaction(
        self,
        request: SipRequest,
        dest: Destination,
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> ClientTransaction:
        """Start a client transaction (the request's Via must match ``dest.transport``)."""
        return self.layer.start_client(request, dest, on_provisional)

    async def send_request(
        self,
        request: SipRequest,
        dest: Destination | None = None,
        *,
        credentials: Credentials | None = None,
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> SipResponse:
        """Send a non-INVITE request (or an INVITE without CANCEL) and answer 401/407 once."""
        if dest is None:
            dest = await self.route(request)
        if dest.transport != "UDP":
            await self.transport.connect(dest)
        tx = self.start_transaction(request, dest, on_provisional)
        response = await tx.final
        if response.status in (401, 407) and credentials is not None:
            retry = self.authorize(request, response, credentials)
            if retry is not None:
                if dest.transport != "UDP":
                    await self.transport.connect(dest)
                tx = self.start_transaction(retry, dest, on_provisional)
                response = await tx.final
        return response

    async def route(self, request: SipRequest) -> Destination:
        """Destination for a request: its first Route, else the outbound proxy, else the R-URI."""
        routes = request.routes
        if routes:
            return await self.resolve(routes[0].uri)
        if self.config.outbound_proxy:
            return await self.resolve(parse_uri(self.config.outbound_proxy))
        return await self.resolve(request.uri)

    def authorize(
        self, request: SipRequest, challenge: SipResponse, credentials: Credentials
    ) -> SipRequest | None:
        """A copy of ``request`` answering ``challenge`` (RFC 3261 §22.2), or None if we cannot.

        The copy has CSeq + 1 and a new branch; a request that already carried an answer
        for the same realm is not retried, so a wrong password never loops.
        """
        www = challenge.status == 401
        header = "WWW-Authenticate" if www else "Proxy-Authenticate"
        answer_name = "Authorization" if www else "Proxy-Authorization"
        values = challenge.headers.get_all(header)
        if not values:
            return None
        stale = any("stale=true" in v.lower().replace(" ", "") for v in values)
        if request.headers.get(answer_name) is not None and not stale:
            return None
        retry = SipRequest(request.method, request.uri_text, request.headers.copy(), request.body)
        cseq = request.cseq
        retry.headers.set("CSeq", f"{cseq.seq + 1} {cseq.method}")
        via = request.top_via
        retry.headers.pop_first("via")
        retry.headers.add("Via", str(via.with_param("branch", new_branch())), first=True)
        retry.headers.remove(answer_name)
        for value in _prefer_sha256(values):
            try:
                answer = answer_challenge(value, credentials, request.method, request.uri_text)
            except SipParseError:
                continue
            retry.headers.add(answer_name, answer)
            return retry
        return None

    def invite(
        self,
        uri: Uri | str,
        *,
        from_: str,
        to: str | None = None,
        body: bytes = b"",
        content_type: str = "application/sdp",
        headers: Iterable[tuple[str, str]] = (),
        credentials: Credentials | None = None,
        transport: str = "UDP",
        dest: Destination | None = None,
        session_expires: int | None = None,
        reliable: bool = False,
        routes: Iterable[str] = (),
    ) -> ClientInvite:
        """Prepare an outgoing INVITE (RFC 3261 §13.2); ``await call.send()`` runs it.

        ``routes`` is a preloaded route set, e.g. a binding's Path (RFC 3327 §5).
        """
        return ClientInvite(
            self,
            uri if isinstance(uri, (SipUri, TelUri, AbsoluteUri)) else parse_uri(uri),
            from_=from_,
            to=to,
            body=body,
            content_type=content_type,
            headers=list(headers),
            credentials=credentials,
            transport=transport.upper(),
            dest=dest,
            session_expires=session_expires,
            reliable=reliable,
            routes=list(routes),
        )


def _prefer_sha256(values: list[str]) -> list[str]:
    return sorted(values, key=lambda v: 0 if "sha-256" in v.lower() else 1)


class ClientInvite:
    """An outgoing INVITE: provisional responses, auth retry, CANCEL, ACK, the UAC dialog."""

    def __init__(
        self,
        stack: SipStack,
        uri: Uri,
        *,
        from_: str,
        to: str | None,
        body: bytes,
        content_type: str,
        headers: list[tuple[str, str]],
        credentials: Credentials | None,
        transport: str,
        dest: Destination | None,
        session_expires: int | None,
        reliable: bool,
        routes: list[str] | None = None,
    ) -> None:
        self.stack = stack
        self.routes = routes or []
        self.uri = uri
        self.from_ = parse_name_addr(from_).with_param("tag", new_tag())
        self.to = to or f"<{uri}>"
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.credentials = credentials
        self.transport = transport
        self.dest = dest
        self.explicit_dest = dest is not None
        self.session_expires = session_expires
        self.reliable = reliable
        self.request: SipRequest | None = None
        self.tx: ClientTransaction | None = None
        self.dialog: Dialog | None = None
        self.early: dict[str, Dialog] = {}
        self.provisional: list[SipResponse] = []
        self.on_provisional: Callable[[SipResponse], None] | None = None
        self._cancel_requested = False
        self.cancel_response: SipResponse | None = None
        self.call_id = ""

    async def send(self, *, auto_ack: bool = True) -> SipResponse:
        """Send the INVITE, retry once on 401/407, and return the final response.

        On 2xx the dialog is in ``self.dialog`` and the ACK is sent unless ``auto_ack`` is
        False (late offer: the caller sends ``dialog.ack(answer)``).
        """
        stack = self.stack
        if self.dest is not None:
            dest = self.dest
        elif self.routes:
            dest = await stack.resolve(parse_name_addr(self.routes[0]).uri)
        elif stack.config.outbound_proxy:
            dest = await stack.resolve(parse_uri(stack.config.outbound_proxy))
        else:
            dest = await stack.resolve(self.uri)
        self.dest = dest
        extra = list(self.headers)
        supported = "100rel, timer" if not self.reliable else "timer"
        extra.append(("Supported", supported))
        if self.reliable:
            extra.append(("Require", "100rel"))
        extra.append(("Allow", ALLOW))
        if self.session_expires:
            extra.append(("Session-Expires", str(self.session_expires)))
            extra.append(("Min-SE", str(stack.config.min_se)))
        request = stack.build_request(
            "INVITE",
            self.uri,
            from_=str(self.from_),
            to=self.to,
            transport=dest.transport,
            dest_host=dest.host,
            headers=extra,
            body=self.body,
            content_type=self.content_type,
            contact=stack.contact_for(None, dest.transport, dest.host),
            routes=self.routes,
        )
        self.call_id = request.call_id
        for _ in range(3):
            self.request = request
            if dest.transport != "UDP":
                await stack.transport.connect(dest)
            self.tx = stack.start_transaction(request, dest, self._provisional)
            response = await self.tx.final
            if response.status == 422 and self.session_expires:
                min_se = response.headers.get("min-se") or "1800"
                self.session_expires = int(min_se.split(";")[0].strip() or "1800")
                request = _retry_with(request, "Session-Expires", str(self.session_expires))
                continue
            if response.status in (401, 407) and self.credentials is not None:
                retry = stack.authorize(request, response, self.credentials)
                if retry is not None:
                    request = retry
                    continue
            break
        for early in list(self.early.values()):
            if early.remote_tag != (response.to.tag or "") or response.status >= 300:
                early.terminate("early dialog ended")
        if 200 <= response.status < 300:
            self.dialog = self._confirm(response)
            if auto_ack:
                self.dialog.ack()
        return response

    def _provisional(self, response: SipResponse) -> None:
        self.provisional.append(response)
        tag = response.to.tag
        if tag and response.status > 100 and tag not in self.early:
            assert self.request is not None
            self.early[tag] = Dialog.from_uac_response(self.stack, self.request, response, self)
        dialog = self.early.get(tag or "")
        if dialog is not None:
            dialog.on_uac_provisional(response)
        if self._cancel_requested:
            self.stack.spawn(self._send_cancel())
        if self.on_provisional is not None:
            self.on_provisional(response)

    def _confirm(self, response: SipResponse) -> Dialog:
        assert self.request is not None
        tag = response.to.tag or ""
        dialog = self.early.get(tag)
        if dialog is None:
            dialog = Dialog.from_uac_response(self.stack, self.request, response, self)
        dialog.confirm_uac(response)
        return dialog

    def cancel(self) -> None:
        """CANCEL the INVITE (§9.1): sent once a provisional response has arrived."""
        if self._cancel_requested:
            return
        self._cancel_requested = True
        if self.tx is not None and self.tx.state is State.PROCEEDING:
            self.stack.spawn(self._send_cancel())

    async def _send_cancel(self) -> None:
        if self.cancel_response is not None or self.tx is None or self.request is None:
            return
        req = self.request
        cancel = SipRequest("CANCEL", req.uri_text)
        h = cancel.headers
        h.add("Via", req.headers.get("via") or "")
        for route in req.headers.get_all("route"):
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        h.add("From", req.headers.get("from") or "")
        h.add("To", req.headers.get("to") or "")
        h.add("Call-ID", req.call_id)
        h.add("CSeq", f"{req.cseq.seq} CANCEL")
        cancel.set_body(b"")
        self.cancel_response = SipResponse(0, "pending")
        assert self.tx is not None
        tx = self.stack.start_transaction(cancel, self.tx.dest)
        self.cancel_response = await tx.final


def _retry_with(request: SipRequest, name: str, value: str) -> SipRequest:
    retry = SipRequest(request.method, request.uri_text, request.headers.copy(), request.body)
    cseq = request.cseq
    retry.headers.set("CSeq", f"{cseq.seq + 1} {cseq.method}")
    via = request.top_via
    retry.headers.pop_first("via")
    retry.headers.add("Via", str(via.with_param("branch", new_branch())), first=True)
    retry.headers.set(name, value)
    return retry
