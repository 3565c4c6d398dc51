"""Transactions (RFC 3261 §17) with the RFC 6026 fixes: INVITE and non-INVITE, client and server.

Timers run on ``loop.call_later`` (no task per transaction). Names follow the RFC:
``TIMER_T1``, Timer A…K, and RFC 6026's Timer L and M for the Accepted state.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from koe.sip.errors import SipTransactionError, SipTransportError
from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.transport import Destination, Flow, TransportLayer, response_destination

log = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7
TIMER_T1 = 0.5  # RTT estimate (§17.1.1.1)
TIMER_T2 = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
TIMER_T4 = 5.0  # maximum duration a message remains in the network
TIMER_100 = 0.2  # send 100 Trying if the TU has not answered an INVITE within 200 ms (§17.2.1)


@dataclass(frozen=True, slots=True)
class Timers:
    """T1/T2/T4 for one stack; tests and soak runs scale them down, production keeps defaults."""

    t1: float = TIMER_T1
    t2: float = TIMER_T2
    t4: float = TIMER_T4

    @property
    def b(self) -> float:
        """Timer B/F/H/J/L/M: 64*T1."""
        return 64 * self.t1

    @property
    def d(self) -> float:
        """Timer D: at least 32 s on unreliable transports (scaled with T1 here)."""
        return max(64 * self.t1, 32.0 * self.t1 / TIMER_T1)


def new_branch() -> str:
    """A fresh RFC 3261 branch id (§8.1.1.7)."""
    return MAGIC_COOKIE + secrets.token_hex(8)


class State(enum.Enum):
    """Transaction states of RFC 3261 §17 and RFC 6026 §7.1 (Accepted)."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    ACCEPTED = "Accepted"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class TransactionUser(Protocol):
    """What the transaction layer calls upward (the UA core)."""

    def on_request(self, request: SipRequest, tx: ServerTransaction) -> None:
        """A new request: a new server transaction."""

    def on_ack(self, ack: SipRequest, flow: Flow) -> None:
        """An ACK that matched no transaction: the ACK for a 2xx (§17.2.1, RFC 6026)."""

    def on_stray_response(self, response: SipResponse, flow: Flow) -> None:
        """A response that matched no client transaction (2xx retransmissions, §17.1.1.2)."""

    def on_server_terminated(self, tx: ServerTransaction) -> None:
        """A server transaction ended."""

    def on_forked_2xx(self, request: SipRequest, response: SipResponse) -> None:
        """A 2xx from another fork of an INVITE that already got one (§13.2.2.4)."""


def server_key(request: SipRequest) -> tuple[str, ...]:
    """The server transaction key (§17.2.3; RFC 2543 §17.2.3 fallback without the cookie)."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        # Call-ID and CSeq number too: clients that reuse a branch for a new request
        # (RFC 4475 §3.3.3 and §3.3.13 do) still get an answer.
        return (branch, via.sent_by, request.call_id, str(request.cseq.seq), method)
    return (
        "2543",
        request.uri_text,
        request.from_.tag or "",
        request.call_id,
        str(request.cseq.seq),
        str(via),
        method,
    )


class _Timed:
    """The timers of one transaction, all on ``loop.call_later`` (no task per transaction)."""

    __slots__ = ("_timers",)
    layer: TransactionLayer

    def __init__(self) -> None:
        self._timers: list[asyncio.TimerHandle] | None = None

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        handle = self.layer.loop.call_later(delay, callback)
        if self._timers is None:
            self._timers = [handle]
        else:
            self._timers.append(handle)

    def _cancel_timers(self) -> None:
        if self._timers:
            for handle in self._timers:
                handle.cancel()
        self._timers = None


class ServerTransaction(_Timed):
    """An INVITE or non-INVITE server transaction (§17.2.1, §17.2.2, RFC 6026)."""

    __slots__ = (
        "_dest",
        "_request",
        "_wire",
        "call_id",
        "cancelled",
        "final_status",
        "flow",
        "invite",
        "key",
        "last_response",
        "layer",
        "merge_key",
        "state",
        "to_tag",
    )

    def __init__(
        self, layer: TransactionLayer, request: SipRequest, flow: Flow, key: tuple[str, ...]
    ):
        self.layer = layer
        self._request: SipRequest | None = request
        self.call_id = request.call_id
        self.merge_key: tuple[str, str, int] | None = None
        self.final_status = 0
        self._wire = b""
        self._dest: Destination | None = None
        self.flow = flow
        self.key = key
        self.invite = request.method == "INVITE"
        self.state = State.PROCEEDING if self.invite else State.TRYING
        self.last_response: SipResponse | None = None
        self.to_tag: str | None = None
        self.cancelled = False
        super().__init__()

    @property
    def reliable(self) -> bool:
        """Whether the request came over a reliable (stream) transport."""
        return self.flow.transport != "UDP"

    def _auto_trying(self) -> None:
        if self.state is State.PROCEEDING and self.last_response is None and not self.final_status:
            self.respond(self.request_response(100))

    @property
    def request(self) -> SipRequest:
        """The request, until the final response: then only its bytes are kept."""
        if self._request is None:
            raise SipTransactionError(f"transaction {self.call_id} already has its final response")
        return self._request

    def request_response(self, status: int, reason: str | None = None) -> SipResponse:
        """A response to this transaction's request with the transaction's To tag."""
        return make_response(self.request, status, reason, self.to_tag if status > 100 else None)

    def respond(self, response: SipResponse) -> None:
        """Send a response from the TU and move the state machine (§17.2.1/§17.2.2)."""
        if self.state in (State.COMPLETED, State.CONFIRMED, State.TERMINATED):
            log.debug("sip response %d after final on %s ignored", response.status, self.key)
            return
        status = response.status
        if self.state is State.ACCEPTED:
            if 200 <= status < 300 and self._dest is not None:
                # RFC 6026 §7.1: the TU's 2xx retransmissions pass through.
                self.layer.counters.sent(response)
                self.layer.transport.send_data(bytes(response), self._dest, self.flow)
            return
        if status < 200:
            self.last_response = response
            self._send(response)
            if not self.invite:
                self.state = State.PROCEEDING
            return
        # Final: keep only the bytes and where they go. A completed transaction lives on
        # for Timer J/L (32 s on UDP): holding no message objects keeps memory and the
        # garbage collector's work small at 1,000 calls/s.
        self.final_status = status
        self.layer.pending -= 1
        self.last_response = None
        self._dest = self._destination(response)
        self._wire = bytes(response)
        self.layer.counters.sent(response)
        self._resend()
        self._request = None
        self._cancel_timers()
        t = self.layer.timers
        if self.invite and status < 300:
            self.state = State.ACCEPTED
            self.layer.expire_later(self)  # Timer L
        elif self.invite:
            self.state = State.COMPLETED
            if not self.reliable:
                self._later(t.t1, lambda: self._timer_g(t.t1))
            self._later(t.b, self._timer_h)
        elif self.reliable:
            self.state = State.COMPLETED
            self._later(0, self._terminate)  # Timer J is 0 on streams
        else:
            self.state = State.COMPLETED
            self.layer.expire_later(self)  # Timer J

    def _send(self, response: SipResponse) -> None:
        try:
            self.layer.transport.send(response, self._destination(response), self.flow)
        except SipTransportError as err:
            log.info("sip cannot send response call_id=%s: %s", self.call_id, err)

    def _resend(self) -> None:
        """Send the final response's bytes (again)."""
        if self._dest is None:
            return
        try:
            self.layer.transport.send_data(self._wire, self._dest, self.flow)
        except SipTransportError as err:
            log.info("sip cannot send response call_id=%s: %s", self.call_id, err)

    def _destination(self, response: SipResponse) -> Destination:
        if self.flow.transport == "UDP":
            via = self.request.top_via
            if via.rport is not None or self.layer.transport.force_rport:
                return self.flow.destination
            return response_destination(response)
        return self.flow.destination

    def _timer_g(self, interval: float) -> None:
        if self.state is not State.COMPLETED:
            return
        self.layer.counters_retransmit()
        self._resend()
        nxt = min(2 * interval, self.layer.timers.t2)
        self._later(nxt, lambda: self._timer_g(nxt))

    def _timer_h(self) -> None:
        if self.state is State.COMPLETED:
            log.info("sip no ACK (Timer H) call_id=%s", self.call_id)
            self.layer.counters.transaction_timeouts += 1
        self._terminate()

    def on_retransmission(self, request: SipRequest) -> None:
        """A retransmitted request: resend the last response (§17.2.1, §17.2.2)."""
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self.state = State.CONFIRMED
                self._cancel_timers()
                self._later(0 if self.reliable else self.layer.timers.t4, self._terminate)  # I
            return
        if self.state is State.ACCEPTED:
            return
        if self.final_status:
            self.layer.counters_retransmit()
            self._resend()
        elif self.last_response is not None:
            self.layer.counters_retransmit()
            self._send(self.last_response)

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        if not self.final_status:
            self.layer.pending -= 1
        self.state = State.TERMINATED
        self._cancel_timers()
        self.layer._server_done(self)


class ClientTransaction(_Timed):
    """An INVITE or non-INVITE client transaction (§17.1.1, §17.1.2, RFC 6026)."""

    __slots__ = (
        "accepted_tag",
        "branch",
        "dest",
        "final",
        "invite",
        "layer",
        "on_provisional",
        "request",
        "state",
    )

    def __init__(
        self,
        layer: TransactionLayer,
        request: SipRequest,
        dest: Destination,
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> None:
        self.layer = layer
        self.request = request
        self.dest = dest
        self.invite = request.method == "INVITE"
        self.branch = request.top_via.branch or ""
        self.state = State.CALLING if self.invite else State.TRYING
        self.final: asyncio.Future[SipResponse] = layer.loop.create_future()
        self.on_provisional = on_provisional
        self.accepted_tag: str | None = None
        super().__init__()

    @property
    def reliable(self) -> bool:
        """Whether the request goes over a reliable transport."""
        return self.dest.transport != "UDP"

    @property
    def key(self) -> tuple[str, str]:
        """The client transaction key (§17.1.3): branch and CSeq method."""
        return (self.branch, self.request.method)

    def start(self) -> None:
        """Send the request and arm Timers A/B or E/F."""
        t = self.layer.timers
        self._send(self.request)
        if not self.reliable:
            self._later(t.t1, lambda: self._retransmit(t.t1))
        self._later(t.b, self._timeout)

    def _send(self, msg: SipMessage) -> None:
        try:
            self.layer.transport.send(msg, self.dest)
        except SipTransportError as err:
            self._fail(503, f"transport error: {err.message_en}")

    def _retransmit(self, interval: float) -> None:
        if self.state not in (State.CALLING, State.TRYING, State.PROCEEDING):
            return
        if self.invite and self.state is State.PROCEEDING:
            return  # Timer A stops on a provisional response
        self.layer.counters_retransmit()
        self._send(self.request)
        nxt = 2 * interval if self.invite else min(2 * interval, self.layer.timers.t2)
        if self.state is State.PROCEEDING:
            nxt = self.layer.timers.t2
        self._later(nxt, lambda: self._retransmit(nxt))

    def _timeout(self) -> None:
        if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
            self.layer.counters.transaction_timeouts += 1
            log.info(
                "sip %s timed out (Timer B/F) call_id=%s", self.request.method, self.request.call_id
            )
            self._fail(408, "Request Timeout (Timer B/F)")
        elif self.state is State.ACCEPTED:
            self._terminate()

    def _fail(self, status: int, reason: str) -> None:
        """Report a locally generated final response to the TU (§8.1.3.1) and terminate."""
        if not self.final.done():
            self.final.set_result(make_response(self.request, status, reason, None))
        self._terminate()

    def on_response(self, response: SipResponse) -> None:
        """A response matched this transaction (§17.1.1.2, §17.1.2.2, RFC 6026 §7.2)."""
        status = response.status
        if self.state is State.TERMINATED:
            return
        if status < 200:
            if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
                self.state = State.PROCEEDING
                if self.on_provisional is not None:
                    self.on_provisional(response)
            return
        if self.invite:
            if 200 <= status < 300:
                if self.state is State.ACCEPTED:
                    if response.to.tag == self.accepted_tag:
                        self.layer.tu.on_stray_response(response, Flow("", ("", 0), ("", 0)))
                    else:
                        self.layer.tu.on_forked_2xx(self.request, response)
                    return
                self._cancel_timers()
                self.accepted_tag = response.to.tag
                self.state = State.ACCEPTED
                self._later(self.layer.timers.b, self._terminate)  # Timer M
                self._deliver(response)
                return
            if self.state is State.COMPLETED:
                self._send(self.ack_for(response))  # retransmitted final: ACK again
                return
            if self.state is State.ACCEPTED:
                return
            self._cancel_timers()
            self.state = State.COMPLETED
            self._send(self.ack_for(response))
            self._later(0 if self.reliable else self.layer.timers.d, self._terminate)  # Timer D
            self._deliver(response)
            return
        if self.state is State.COMPLETED:
            return
        self._cancel_timers()
        self.state = State.COMPLETED
        self._later(0 if self.reliable else self.layer.timers.t4, self._terminate)  # Timer K
        self._deliver(response)

    def _deliver(self, response: SipResponse) -> None:
        self.on_provisional = None  # no more provisionals; breaks the cycle with the TU
        if not self.final.done():
            self.final.set_result(response)

    def ack_for(self, response: SipResponse) -> SipRequest:
        """The ACK for a non-2xx final response (§17.1.1.3): same branch, same Route."""
        req = self.request
        ack = SipRequest("ACK", req.uri_text)
        h = ack.headers
        h.add("Via", req.headers.get("via") or "")
        for name in ("route",):
            for value in req.headers.get_all(name):
                h.add("Route", value)
        h.add("From", req.headers.get("from") or "")
        h.add("To", response.headers.get("to") or "")
        h.add("Call-ID", req.call_id)
        h.add("CSeq", f"{req.cseq.seq} ACK")
        h.add("Max-Forwards", "70")
        ack.set_body(b"")
        return ack

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        self._cancel_timers()
        if not self.final.done():
            self.final.set_result(make_response(self.request, 408, "Request Timeout", None))
        self.layer._client_done(self)


class TransactionLayer:
    """Matches messages to transactions (§17.1.3, §17.2.3) and owns every transaction timer."""

    def __init__(self, transport: TransportLayer, tu: TransactionUser, timers: Timers) -> None:
        self.transport = transport
        self.tu = tu
        self.timers = timers
        self.counters = transport.counters
        self.loop = asyncio.get_running_loop()
        self.server: dict[tuple[str, ...], ServerTransaction] = {}
        self.client: dict[tuple[str, str], ClientTransaction] = {}
        self._merge: dict[tuple[str, str, int], tuple[str, ...]] = {}
        self.pending = 0  # server transactions without a final response: the work in progress
        # Timers J and L all last 64*T1: one queue in deadline order and one timer for it,
        # instead of a TimerHandle per transaction (tens of thousands at 1,000 calls/s).
        self._expiry: deque[tuple[float, ServerTransaction]] = deque()
        self._expiry_handle: asyncio.TimerHandle | None = None

    def counters_retransmit(self) -> None:
        """Count one retransmission."""
        self.counters.retransmissions += 1

    def on_message(self, msg: SipMessage, flow: Flow) -> None:
        """Entry point from the transport layer."""
        if isinstance(msg, SipResponse):
            via = msg.top_via
            tx = self.client.get((via.branch or "", msg.cseq.method))
            if tx is None:
                self.tu.on_stray_response(msg, flow)
            else:
                tx.on_response(msg)
            return
        assert isinstance(msg, SipRequest)
        key = server_key(msg)
        stx = self.server.get(key)
        if msg.method == "ACK":
            if stx is not None and stx.state in (State.COMPLETED, State.CONFIRMED):
                stx.on_retransmission(msg)
            else:
                self.tu.on_ack(msg, flow)
            return
        if stx is not None:
            stx.on_retransmission(msg)
            return
        new = ServerTransaction(self, msg, flow, key)
        self.pending += 1
        from_tag = msg.from_.tag
        if msg.to.tag is None and from_tag is not None:
            merge_key = (from_tag, msg.call_id, msg.cseq.seq)
            other = self._merge.get(merge_key)
            if other is not None and other != key and other[-1] == key[-1]:
                # §8.2.2.2: the same request arrived along another path
                self.server[key] = new
                new.respond(new.request_response(482, "Loop Detected"))
                return
            self._merge[merge_key] = key
            new.merge_key = merge_key
        self.server[key] = new
        self.tu.on_request(msg, new)
        if new.invite and new.last_response is None:
            new._later(TIMER_100, new._auto_trying)  # only when the TU did not answer at once

    def expire_later(self, tx: ServerTransaction) -> None:
        """Terminate ``tx`` after 64*T1 (Timer J for non-INVITE, Timer L for INVITE)."""
        when = self.loop.time() + self.timers.b
        self._expiry.append((when, tx))
        if self._expiry_handle is None:
            self._expiry_handle = self.loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._expiry_handle = None
        now = self.loop.time()
        queue = self._expiry
        while queue and queue[0][0] <= now:
            queue.popleft()[1]._terminate()
        if queue:
            self._expiry_handle = self.loop.call_at(queue[0][0], self._expire)

    def find_invite(self, cancel: SipRequest) -> ServerTransaction | None:
        """The INVITE server transaction a CANCEL refers to (§9.2)."""
        key = server_key(cancel)
        return self.server.get((*key[:-1], "INVITE"))

    def _server_done(self, tx: ServerTransaction) -> None:
        if self.server.get(tx.key) is tx:
            del self.server[tx.key]
        if tx.merge_key is not None and self._merge.get(tx.merge_key) == tx.key:
            del self._merge[tx.merge_key]
        self.tu.on_server_terminated(tx)

    def start_client(
        self,
        request: SipRequest,
        dest: Destination,
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> ClientTransaction:
        """Create and start a client transaction for ``request`` (which carries its Via)."""
        tx = ClientTransaction(self, request, dest, on_provisional)
        self.client[tx.key] = tx
        tx.start()
        return tx

    def _client_done(self, tx: ClientTransaction) -> None:
        if self.client.get(tx.key) is tx:
            del self.client[tx.key]

    def stop(self) -> None:
        """Cancel every timer; transactions are dropped."""
        for stx in list(self.server.values()):
            stx._cancel_timers()
        for ctx in list(self.client.values()):
            ctx._cancel_timers()
            if not ctx.final.done():
                ctx.final.cancel()
        self.server.clear()
        self.client.clear()
        self._merge.clear()
        self.pending = 0
        if self._expiry_handle is not None:
            self._expiry_handle.cancel()
            self._expiry_handle = None
        self._expiry.clear()


def make_response(
    request: SipRequest, status: int, reason: str | None = None, to_tag: str | None = None
) -> SipResponse:
    """A response to ``request`` (§8.2.6.2): Via, From, To (+tag), Call-ID, CSeq copied."""
    response = SipResponse(status, reason)
    h = response.headers
    for value in request.headers.get_all("via"):
        h.add("Via", value)
    h.add("From", request.headers.get("from") or "")
    to = request.headers.get("to") or ""
    if to_tag is not None and request.to.tag is None:
        to = f"{to};tag={to_tag}"
    h.add("To", to)
    h.add("Call-ID", request.headers.get("call-id") or "")
    h.add("CSeq", request.headers.get("cseq") or "")
    if 100 < status < 300 and request.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
        for value in request.headers.get_all("record-route"):
            h.add("Record-Route", value)
    if status == 100 and request.headers.get("timestamp"):
        h.add("Timestamp", request.headers.get("timestamp") or "")
    response.set_body(b"")
    return response
