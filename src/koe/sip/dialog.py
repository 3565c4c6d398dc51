"""Dialogs (RFC 3261 §12–§15) with 100rel/PRACK (RFC 3262), UPDATE (RFC 3311),
REFER/NOTIFY (RFC 3515) and session timers (RFC 4028) refreshed actively on either side.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from koe.sip.auth import Credentials
from koe.sip.errors import SipParseError, SipTransportError
from koe.sip.headers import NameAddr, parse_name_addr
from koe.sip.message import SipRequest, SipResponse
from koe.sip.transaction import State, new_branch
from koe.sip.transport import DEFAULT_PORTS, Destination, Flow, bare_host, is_ip, via_value
from koe.sip.uri import SipUri, Uri, parse_uri

if TYPE_CHECKING:
    from koe.sip.ua import ClientInvite, IncomingRequest, SipStack

log = logging.getLogger(__name__)


def dialog_key(call_id: str, local_tag: str, remote_tag: str) -> tuple[str, str, str]:
    """The dialog id (RFC 3261 §12): Call-ID, local tag, remote tag."""
    return (call_id, local_tag, remote_tag)


class DialogState(enum.Enum):
    """Dialog states (RFC 3261 §12)."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def _session_expires(msg: SipRequest | SipResponse) -> tuple[int, str | None] | None:
    """``Session-Expires`` as (seconds, refresher) (RFC 4028 §4), or None."""
    value = msg.headers.get("session-expires")
    if value is None:
        return None
    number, _, params = value.partition(";")
    number = number.strip()
    if not number.isdigit():
        raise SipParseError(f"malformed Session-Expires {value!r}")
    refresher = None
    for part in params.split(";"):
        name, _, arg = part.partition("=")
        if name.strip().lower() == "refresher":
            refresher = arg.strip().lower()
    return int(number), refresher


class Dialog:
    """One dialog: its id, sequence numbers, route set and remote target, and its timers."""

    def __init__(
        self,
        stack: SipStack,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_uri: str,
        remote_uri: str,
        remote_target: Uri,
        route_set: list[str],
        local_seq: int,
        remote_seq: int | None,
        uac: bool,
        flow: Flow | None,
        invite: SipRequest,
    ) -> None:
        self.stack = stack
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        local = parse_name_addr(local_uri)
        self.local: NameAddr = local if local.tag else local.with_param("tag", local_tag)
        remote = parse_name_addr(remote_uri)
        self.remote: NameAddr = (
            remote if remote.tag or not remote_tag else remote.with_param("tag", remote_tag)
        )
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.uac = uac
        self.flow = flow
        self.invite = invite
        self.state = DialogState.EARLY
        self.handler: Callable[[IncomingRequest], Awaitable[None] | None] | None = None
        self.credentials: Credentials | None = None
        loop = asyncio.get_running_loop()
        self.acked: asyncio.Future[SipRequest] = loop.create_future()
        self.terminated: asyncio.Future[str] = loop.create_future()
        self.local_sdp: bytes = b""
        self.remote_sdp: bytes = invite.body if not uac else b""
        self.peer_allow: list[str] = []
        self.session_interval: int | None = None
        self.we_refresh = False
        self.refreshes = 0
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last_ack: SipRequest | None = None
        self._ack_dest: Destination | None = None
        self._rseq = 0
        self._prack_waiters: dict[int, asyncio.Future[SipRequest]] = {}
        self._last_remote_rseq = 0
        self._pracked = 0
        self._2xx: SipResponse | None = None
        self._offer_pending = False
        self._in_invite: IncomingRequest | None = None
        self._2xx_inreq: IncomingRequest | None = None

    # -- identity --------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the dialog has not been terminated."""
        return self.state is not DialogState.TERMINATED

    @property
    def key(self) -> tuple[str, str, str]:
        """The dialog id."""
        return dialog_key(self.call_id, self.local_tag, self.remote_tag)

    def __repr__(self) -> str:
        role = "UAC" if self.uac else "UAS"
        return f"<Dialog {role} {self.call_id} {self.state.value}>"

    @classmethod
    def from_uac_response(
        cls,
        stack: SipStack,
        request: SipRequest,
        response: SipResponse,
        call: ClientInvite | None,
    ) -> Dialog:
        """The UAC side of a dialog from a 1xx/2xx with a To tag (RFC 3261 §12.1.2)."""
        contacts = response.contacts
        target = contacts[0].uri if contacts else request.uri
        dialog = cls(
            stack,
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=request.headers.get("from") or "",
            remote_uri=response.headers.get("to") or "",
            remote_target=target,
            route_set=[str(r) for r in reversed(response.record_routes)],
            local_seq=request.cseq.seq,
            remote_seq=None,
            uac=True,
            flow=None,
            invite=request,
        )
        dialog.local_sdp = request.body
        dialog.credentials = call.credentials if call is not None else None
        dest = call.dest if call is not None else None
        dialog._ack_dest = dest
        if dest is not None and call is not None and stack.config.nat_fix:
            conn = stack.transport.connections.get((dest.transport, dest.host, dest.port))
            if conn is not None:
                dialog.flow = conn.flow  # keep using the phone's own connection
            elif call.explicit_dest:
                # The caller chose the address (a NAT-fixed binding): in-dialog requests go
                # there too, not to the private Contact.
                dialog.flow = Flow(dest.transport, ("", 0), (dest.host, dest.port))
        stack.dialogs[dialog.key] = dialog
        return dialog

    # -- UAC side ----------------------------------------------------------------------------

    def on_uac_provisional(self, response: SipResponse) -> None:
        """Reliable provisional responses get a PRACK (RFC 3262 §4)."""
        if response.body:
            self.remote_sdp = response.body
        if "100rel" not in response.options("require"):
            return
        rseq_text = response.headers.get("rseq") or ""
        if not rseq_text.isdigit():
            return
        rseq = int(rseq_text)
        if rseq <= self._last_remote_rseq:
            return
        self._last_remote_rseq = rseq
        cseq = response.cseq
        self.stack.spawn(self.request("PRACK", headers=[("RAck", f"{rseq} {cseq.seq} INVITE")]))

    def confirm_uac(self, response: SipResponse) -> None:
        """A 2xx confirmed the dialog: take target, route set and session timer (§12.1.2)."""
        contacts = response.contacts
        if contacts:
            self.remote_target = contacts[0].uri
        self.route_set = [str(r) for r in reversed(response.record_routes)]
        self.state = DialogState.CONFIRMED
        if response.body:
            self.remote_sdp = response.body
        self.peer_allow = [m.upper() for m in response.options("allow")]
        self._start_session_timer(response, requested=_session_expires(self.invite))

    def ack(self, body: bytes = b"", content_type: str = "application/sdp") -> None:
        """Send the ACK for the 2xx (§13.2.2.4); it carries the answer for a late offer."""
        cseq = self.invite.cseq.seq
        ack = self._build("ACK", cseq, body=body, content_type=content_type if body else None)
        if body:
            self.local_sdp = body
        self._last_ack = ack
        dest = self._known_destination()
        if dest is not None and (dest.transport == "UDP" or self._ack_dest == dest):
            self._ack_dest = dest
            self.stack.transport.send(ack, dest)  # now, so that it goes before any BYE
        else:
            self.stack.spawn(self._send_ack(ack))

    def _known_destination(self) -> Destination | None:
        """The in-dialog destination when no DNS lookup is needed, else None."""
        if self.route_set:
            uri: Uri = parse_name_addr(self.route_set[0]).uri
        elif self.flow is not None and self.stack.config.nat_fix:
            return self.flow.destination
        else:
            uri = self.remote_target
        if not isinstance(uri, SipUri) or not is_ip(uri.param("maddr") or uri.host):
            return None
        transport = (uri.transport or ("tls" if uri.secure else "udp")).upper()
        port = uri.port or DEFAULT_PORTS.get(transport, 5060)
        return Destination(transport, bare_host(uri.param("maddr") or uri.host), port)

    async def _send_ack(self, ack: SipRequest) -> None:
        try:
            dest = await self._destination()
            self._ack_dest = dest
            await self.stack.transport.send_async(ack, dest)
        except SipTransportError as err:
            log.info("sip ACK not sent call_id=%s: %s", self.call_id, err)

    def on_2xx_retransmission(self, response: SipResponse) -> None:
        """A retransmitted 2xx: send the same ACK again (§13.2.2.4)."""
        if self._last_ack is not None and self._ack_dest is not None:
            self.stack.transport.send(self._last_ack, self._ack_dest)

    # -- UAS side ----------------------------------------------------------------------------

    def prepare_uas_response(
        self, inreq: IncomingRequest, response: SipResponse, reliable: bool
    ) -> None:
        """Add 100rel and session-timer headers to a response we send (RFC 3262, RFC 4028)."""
        req = inreq.request
        status = response.status
        if response.body and req.method == "INVITE":
            self.local_sdp = response.body
        if 100 < status < 200 and req.method == "INVITE":
            wants = "100rel" in req.options("require") or (
                reliable and "100rel" in req.options("supported")
            )
            if wants:
                self._rseq += 1
                response.headers.add("Require", "100rel")
                response.headers.add("RSeq", str(self._rseq))
                self._retransmit_reliable(inreq, response, self._rseq, self.stack.config.timers.t1)
            return
        if 200 <= status < 300:
            se = _session_expires(req)
            if se is None:
                return
            interval, refresher = se
            if refresher is None:
                refresher = "uas" if not self.uac else "uac"
            response.headers.set("Session-Expires", f"{interval};refresher={refresher}")
            if "timer" in req.options("supported"):
                response.headers.add("Require", "timer")
            self.session_interval = interval
            self.we_refresh = refresher == ("uac" if self.uac else "uas")
            self._arm_session_timer()

    def _retransmit_reliable(
        self, inreq: IncomingRequest, response: SipResponse, rseq: int, interval: float
    ) -> None:
        """Retransmit a reliable provisional until PRACKed or 64*T1 (RFC 3262 §3)."""
        timers = self.stack.config.timers
        if interval > timers.b or inreq.tx.state is not State.PROCEEDING:
            return
        if rseq > self._last_acknowledged_rseq():
            if interval > timers.t1:
                inreq.tx.respond(response)

            def again() -> None:
                """The next retransmission, twice as late."""
                self._retransmit_reliable(inreq, response, rseq, interval * 2)

            self._timers[f"rel{rseq}"] = asyncio.get_running_loop().call_later(interval, again)

    def _last_acknowledged_rseq(self) -> int:
        return self._pracked

    def start_2xx(self, response: SipResponse, inreq: IncomingRequest) -> None:
        """Send a 2xx to INVITE and retransmit it until the ACK (§13.3.1.4)."""
        self.state = DialogState.CONFIRMED
        self._2xx = response
        self._2xx_inreq = inreq
        inreq.tx.respond(response)
        timers = self.stack.config.timers
        if inreq.flow.transport == "UDP":
            self._schedule_2xx(timers.t1, 0.0)
        else:
            # A stream does not lose the 2xx, and peers such as sipp reject copies on TCP:
            # only wait 64*T1 for the ACK there.
            self._schedule_2xx(timers.b, 0.0)

    def _schedule_2xx(self, interval: float, elapsed: float) -> None:
        loop = asyncio.get_running_loop()
        self._timers["2xx"] = loop.call_later(interval, self._retransmit_2xx, interval, elapsed)

    def _retransmit_2xx(self, interval: float, elapsed: float) -> None:
        timers = self.stack.config.timers
        elapsed += interval
        if self._2xx is None or self._2xx_inreq is None:
            return
        if elapsed >= timers.b:
            log.info("sip no ACK for 2xx call_id=%s; sending BYE", self.call_id)
            self.stack.counters.transaction_timeouts += 1
            self._2xx = None
            self.stack.spawn(self.bye())
            return
        self.stack.counters.retransmissions += 1
        tx = self._2xx_inreq.tx
        if tx.state is State.ACCEPTED:
            tx.respond(self._2xx)
        self._schedule_2xx(min(interval * 2, timers.t2), elapsed)

    def on_ack(self, ack: SipRequest) -> None:
        """The ACK for our 2xx arrived: stop retransmitting (§13.3.1.4)."""
        handle = self._timers.pop("2xx", None)
        if handle is not None:
            handle.cancel()
        self._2xx = None
        self._2xx_inreq = None
        if ack.body:
            self.remote_sdp = ack.body
        if not self.acked.done():
            self.acked.set_result(ack)

    def early_failed(self) -> None:
        """The INVITE got a final failure: the early dialog ends."""
        if self.state is DialogState.EARLY:
            self.terminate("rejected")

    # -- in-dialog requests -----------------------------------------------------------------

    def on_request(self, inreq: IncomingRequest) -> None:
        """A request inside this dialog (§12.2.2)."""
        req = inreq.request
        method = req.method
        seq = req.cseq.seq
        if self.remote_seq is not None and seq < self.remote_seq and method != "PRACK":
            inreq.respond(500, "CSeq out of order")
            return
        if self.remote_seq is None or seq > self.remote_seq:
            self.remote_seq = seq
        if self.stack.config.nat_fix and (inreq.flow.connection is not None or self.flow):
            self.flow = inreq.flow  # where the peer really is (RFC 5923 style reuse)
        if method == "PRACK":
            self._on_prack(inreq)
            return
        if method == "INVITE" and self._offer_pending:
            inreq.respond(491)  # glare: our own offer is outstanding (§14.2, RFC 3311 §5.2)
            return
        if method == "INVITE" and self._in_invite is not None and not self._in_invite.answered:
            inreq.respond(500, headers=[("Retry-After", "1")])  # §14.2: one re-INVITE at a time
            return
        if method == "INVITE":
            self._in_invite = inreq
        if method in ("INVITE", "UPDATE"):
            contacts = req.contacts
            if contacts:
                self.remote_target = contacts[0].uri  # target refresh (§12.2.2, RFC 3311)
            if req.body:
                self.remote_sdp = req.body
            if _session_expires(req) is not None:
                self.refreshes += 1
        if method == "BYE":
            inreq.respond(200)
            self.terminate("bye")
            return
        if self.handler is not None:
            self.stack._dispatch(self.handler, inreq)
            return
        self.default_request(inreq)

    def default_request(self, inreq: IncomingRequest) -> None:
        """Answers when call control set no handler: keep the session as it is."""
        method = inreq.request.method
        if method == "INVITE":
            body = self.local_sdp
            inreq.respond(200, body=body, content_type="application/sdp" if body else None)
        elif method == "UPDATE":
            body = self.local_sdp if inreq.request.body else b""
            inreq.respond(200, body=body, content_type="application/sdp" if body else None)
        elif method in ("INFO", "OPTIONS", "NOTIFY", "MESSAGE"):
            inreq.respond(200)
        elif method == "REFER":
            inreq.respond(603)
        else:
            inreq.respond(405, headers=[("Allow", "INVITE, ACK, BYE, OPTIONS, INFO, UPDATE")])

    def _on_prack(self, inreq: IncomingRequest) -> None:
        rack = (inreq.request.headers.get("rack") or "").split()
        if not rack or not rack[0].isdigit() or int(rack[0]) > self._rseq:
            inreq.respond(481)
            return
        rseq = int(rack[0])
        self._pracked = max(self._last_acknowledged_rseq(), rseq)
        handle = self._timers.pop(f"rel{rseq}", None)
        if handle is not None:
            handle.cancel()
        if inreq.request.body:
            self.remote_sdp = inreq.request.body
        inreq.respond(200)
        waiter = self._prack_waiters.pop(rseq, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(inreq.request)

    async def wait_prack(self, rseq: int | None = None) -> SipRequest:
        """Wait for the PRACK of reliable provisional ``rseq`` (default: the latest)."""
        rseq = rseq or self._rseq
        fut: asyncio.Future[SipRequest] = asyncio.get_running_loop().create_future()
        self._prack_waiters[rseq] = fut
        return await fut

    # -- sending in-dialog requests --------------------------------------------------------

    def _build(
        self,
        method: str,
        cseq: int,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        transport: str = "UDP",
    ) -> SipRequest:
        """A request within the dialog (§12.2.1.1): R-URI and Route from the route set."""
        routes = list(self.route_set)
        target: Uri = self.remote_target
        if routes:
            first = parse_name_addr(routes[0]).uri
            if isinstance(first, SipUri) and not first.has_param("lr"):
                target = first  # strict router (§12.2.1.1)
                routes = [*routes[1:], f"<{self.remote_target}>"]
        transport = self._transport()
        req = SipRequest(method, target)
        h = req.headers
        host, port = self.stack.transport.via_for(transport, self._peer_host())
        h.add("Via", via_value(transport, host, port, new_branch()))
        h.add("Max-Forwards", "70")
        for route in routes:
            h.add("Route", route)
        h.add("From", str(self.local))
        h.add("To", str(self.remote))
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "REFER", "NOTIFY"):
            h.add("Contact", self.stack.contact_for(self.flow, transport, self._peer_host()))
        for name, value in headers:
            h.add(name, value)
        req.set_body(body, content_type if body else None)
        return req

    def _transport(self) -> str:
        if self.flow is not None and not self.route_set:
            return self.flow.transport
        if self._ack_dest is not None:
            return self._ack_dest.transport
        uri = parse_name_addr(self.route_set[0]).uri if self.route_set else self.remote_target
        if isinstance(uri, SipUri):
            return (uri.transport or ("tls" if uri.secure else "udp")).upper()
        return "UDP"

    def _peer_host(self) -> str:
        if self.flow is not None:
            return self.flow.remote[0]
        return self._ack_dest.host if self._ack_dest is not None else ""

    async def _destination(self) -> Destination:
        """Where in-dialog requests go: the route set, else the target; NAT-fixed to the flow."""
        known = self._known_destination()
        if known is not None:
            return known  # for a phone behind NAT: its own address/connection (RFC 5626 style)
        if self.route_set:
            return await self.stack.resolve(parse_name_addr(self.route_set[0]).uri)
        return await self.stack.resolve(self.remote_target)

    async def request(
        self,
        method: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = "application/sdp",
    ) -> SipResponse:
        """Send a request in the dialog and return its final response (401/407 answered once)."""
        if self.state is DialogState.TERMINATED and method != "BYE":
            raise SipTransportError(f"dialog {self.call_id} is terminated")
        self.local_seq += 1
        offer = method == "INVITE" or (method == "UPDATE" and bool(body))
        if offer:
            self._offer_pending = True
        try:
            return await self._request(method, self.local_seq, headers, body, content_type)
        finally:
            if offer:
                self._offer_pending = False

    async def _request(
        self,
        method: str,
        seq: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        content_type: str | None,
    ) -> SipResponse:
        req = self._build(method, seq, headers=headers, body=body, content_type=content_type)
        if method == "INVITE" and body:
            self.local_sdp = body
        dest = await self._destination()
        response = await self.stack.send_request(req, dest, credentials=self.credentials)
        if response.cseq.seq > self.local_seq:
            self.local_seq = response.cseq.seq
        if method == "INVITE" and 200 <= response.status < 300:
            contacts = response.contacts
            if contacts:
                self.remote_target = contacts[0].uri
            if response.body:
                self.remote_sdp = response.body
            ack = self._build("ACK", response.cseq.seq)
            self._last_ack = ack
            await self.stack.transport.send_async(ack, dest)
        if method in ("INVITE", "UPDATE") and 200 <= response.status < 300:
            if response.body and method == "UPDATE":
                self.remote_sdp = response.body
            if _session_expires(response) is not None:
                self._start_session_timer(response, requested=None)
        if response.status in (408, 481) and method != "BYE":
            self.terminate(f"{response.status} to {method}")
        return response

    async def reinvite(self, sdp: bytes) -> SipResponse:
        """Target refresh / new offer with re-INVITE (§14.1), e.g. hold and unhold."""
        return await self.request("INVITE", body=sdp)

    async def update(self, sdp: bytes = b"") -> SipResponse:
        """UPDATE (RFC 3311), with or without a new offer."""
        return await self.request("UPDATE", body=sdp, content_type="application/sdp")

    async def info(self, body: bytes, content_type: str = "application/dtmf-relay") -> SipResponse:
        """INFO (RFC 6086), e.g. DTMF relay."""
        return await self.request("INFO", body=body, content_type=content_type)

    async def refer(self, target: str) -> SipResponse:
        """REFER with Refer-To (RFC 3515 §2.4.1) for a blind transfer."""
        return await self.request("REFER", headers=[("Refer-To", target)], content_type=None)

    async def notify_refer(self, status_line: str, final: bool) -> SipResponse:
        """NOTIFY with a sipfrag body reporting a REFER's progress (RFC 3515 §2.4.4)."""
        state = "terminated;reason=noresource" if final else "active;expires=60"
        return await self.request(
            "NOTIFY",
            headers=[("Event", "refer"), ("Subscription-State", state)],
            body=f"{status_line}\r\n".encode(),
            content_type="message/sipfrag;version=2.0",
        )

    async def bye(self) -> SipResponse | None:
        """End the dialog with BYE (§15.1.1)."""
        if self.state is DialogState.TERMINATED:
            return None
        self.stop_timers()
        try:
            response = await self.request("BYE", content_type=None)
        except SipTransportError as err:
            log.info("sip BYE not sent call_id=%s: %s", self.call_id, err)
            response = None
        self.terminate("local bye")
        return response

    # -- session timers (RFC 4028) ----------------------------------------------------------

    def _start_session_timer(
        self, response: SipResponse, requested: tuple[int, str | None] | None
    ) -> None:
        se = _session_expires(response)
        if se is None:
            if requested is None:
                return
            se = (requested[0], "uac" if self.uac else "uas")  # §7.2: peer lacks timer support
        interval, refresher = se
        self.session_interval = interval
        mine = "uac" if self.uac else "uas"
        self.we_refresh = (refresher or "uac") == mine
        self._arm_session_timer()

    def _arm_session_timer(self) -> None:
        interval = self.session_interval
        if interval is None or self.state is DialogState.TERMINATED:
            return
        loop = asyncio.get_running_loop()
        old = self._timers.pop("session", None)
        if old is not None:
            old.cancel()
        if self.we_refresh:
            self._timers["session"] = loop.call_later(interval / 2, self._refresh_due)
        else:
            grace = min(32.0, interval / 3)
            self._timers["session"] = loop.call_later(interval - grace, self._session_expired)

    def _refresh_due(self) -> None:
        self.stack.spawn(self.refresh_session())

    async def refresh_session(self) -> SipResponse | None:
        """Refresh the session (RFC 4028 §7.4/§9): UPDATE if the peer allows it, else re-INVITE."""
        if self.state is not DialogState.CONFIRMED or self.session_interval is None:
            return None
        role = "uac" if self.uac else "uas"
        se = [("Session-Expires", f"{self.session_interval};refresher={role}")]
        if "UPDATE" in self.peer_allow:
            response = await self.request("UPDATE", headers=se, content_type=None)
        else:
            response = await self.request("INVITE", headers=se, body=self.local_sdp)
        self.refreshes += 1
        if 200 <= response.status < 300:
            if _session_expires(response) is None:
                self._arm_session_timer()
        elif self.active:
            await self.bye()
        return response

    def _session_expired(self) -> None:
        log.info("sip session expired call_id=%s (RFC 4028 §10)", self.call_id)
        self.stack.spawn(self.bye())

    def note_remote_refresh(self) -> None:
        """The peer refreshed the session: restart our expiry timer."""
        self._arm_session_timer()

    # -- ending -----------------------------------------------------------------------------

    def stop_timers(self) -> None:
        """Cancel every timer of the dialog."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def terminate(self, reason: str) -> None:
        """Mark the dialog terminated and forget it."""
        if self.state is DialogState.TERMINATED:
            return
        self.state = DialogState.TERMINATED
        self.stop_timers()
        self.stack.forget_dialog(self)
        for waiter in self._prack_waiters.values():
            if not waiter.done():
                waiter.cancel()
        if not self.terminated.done():
            self.terminated.set_result(reason)
        if not self.acked.done():
            self.acked.cancel()


def sdp_direction(sdp: bytes) -> str:
    """The session's media direction attribute (RFC 3264 §5.1), ``sendrecv`` by default."""
    for line in sdp.decode("utf-8", "replace").splitlines():
        if line.strip() in ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv"):
            return line.strip()[2:]
    return "sendrecv"


def with_direction(sdp: bytes, direction: str) -> bytes:
    """``sdp`` with its direction attribute set (hold: sendonly; unhold: sendrecv)."""
    lines = [
        line
        for line in sdp.decode("utf-8", "replace").split("\r\n")
        if line not in ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv")
    ]
    while lines and lines[-1] == "":
        lines.pop()
    lines.append(f"a={direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


def parse_refer_to(request: SipRequest) -> NameAddr:
    """The Refer-To target of a REFER (RFC 3515 §2.1)."""
    value = request.headers.get("refer-to")
    if value is None:
        raise SipParseError("REFER without Refer-To")
    return parse_name_addr(value, "Refer-To")


def uri_of(text: str) -> Uri:
    """Parse a URI or name-addr text to a URI."""
    return parse_name_addr(text).uri if "<" in text else parse_uri(text)
