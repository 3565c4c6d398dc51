"""SIP transports (RFC 3261 §18): UDP, TCP and TLS over IPv4 and IPv6.

Streams are framed by Content-Length (§18.3) with size limits; CRLF keep-alive
pings are answered with a pong (RFC 5626 §4.4.1); connections a phone opened are
reused for requests to it (RFC 5626/5923 style); incoming requests get
``received`` and ``rport`` (§18.2.1, RFC 3581) before the transaction layer sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from koe.sip.errors import SipParseError, SipTransportError
from koe.sip.headers import Via, format_params
from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.stats import SipCounters
from koe.sip.trace import MessageTrace

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"UDP": 5060, "TCP": 5060, "TLS": 5061, "WS": 80, "WSS": 443}
MAX_DATAGRAM = 65535
MAX_STREAM_MESSAGE = 65535  # bounded memory per connection
UDP_BUFFER = 4 * 1024 * 1024  # capped by net.core.rmem_max/wmem_max
_CONTENT_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$")
_CRLF_PING = b"\r\n\r\n"  # RFC 5626 §4.4.1 keep-alive ping; the pong is one CRLF


def format_host(host: str) -> str:
    """``host`` as written in a URI or Via: IPv6 literals in brackets (RFC 3261 §19.1.1)."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def bare_host(host: str) -> str:
    """``host`` without IPv6 brackets, as sockets want it."""
    return host[1:-1] if host.startswith("[") else host


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IP literal (v4, or v6 with or without brackets)."""
    try:
        ipaddress.ip_address(bare_host(host))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send a message: transport and address (RFC 3263 resolution done by caller)."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport.lower()}:{format_host(self.host)}:{self.port}"


@dataclass(slots=True, eq=False)
class Flow:
    """Where a message came from: the transport, both ends, and the connection on streams."""

    transport: str
    local: tuple[str, int]
    remote: tuple[str, int]
    connection: StreamConnection | None = None
    _destination: Destination | None = field(default=None, repr=False)

    @property
    def destination(self) -> Destination:
        """The remote end as a destination (reusing the connection when it is open)."""
        if self._destination is None:
            self._destination = Destination(self.transport, self.remote[0], self.remote[1])
        return self._destination


MessageHandler = Callable[[SipMessage, Flow], None]


def stamp_via(request: SipRequest, flow: Flow, force_rport: bool = False) -> None:
    """Add ``received`` and fill ``rport`` in the top Via (RFC 3261 §18.2.1, RFC 3581 §4)."""
    via = request.top_via
    source, port = flow.remote
    params = via.params
    changed = False
    if via.wants_rport or force_rport:
        params = tuple((k, str(port)) if k.lower() == "rport" else (k, v) for k, v in params)
        if not via.wants_rport:
            params = (*params, ("rport", str(port)))
        changed = True
    if bare_host(via.host) != source or changed:
        params = tuple(p for p in params if p[0].lower() != "received")
        params = (*params, ("received", source))
        changed = True
    if not changed:
        return
    new_via = Via(via.transport, via.host, via.port, params, via.protocol)
    first = request.headers.pop_first("via")
    del first
    request.headers.add("Via", str(new_via), first=True)


def response_destination(response: SipResponse) -> Destination:
    """Where a response goes when its connection is gone (RFC 3261 §18.2.2, RFC 3581 §4)."""
    via = response.top_via
    host = via.received or via.host
    port = via.rport or via.port or DEFAULT_PORTS.get(via.transport, 5060)
    if via.received is None and via.param("maddr"):
        host = via.param("maddr") or host
    return Destination(via.transport, bare_host(host), port)


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: Content-Length framing, size limit, CRLF keep-alive."""

    def __init__(self, layer: TransportLayer, transport_name: str, outbound: bool) -> None:
        self.layer = layer
        self.name = transport_name
        self.outbound = outbound
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.flow: Flow | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.last_activity = asyncio.get_running_loop().time()
        self.ping_sent: float | None = None
        self.pongs = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection for reuse."""
        self.transport = cast(asyncio.Transport, transport)
        local = transport.get_extra_info("sockname")[:2]
        remote = transport.get_extra_info("peername")[:2]
        self.flow = Flow(self.name, (local[0], local[1]), (remote[0], remote[1]), self)
        self.layer._connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self.layer._connection_closed(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Frame messages out of the byte stream (RFC 3261 §18.3)."""
        self.last_activity = asyncio.get_running_loop().time()
        self.buffer += data
        while self.buffer and self.transport is not None and not self.transport.is_closing():
            if not self._one_message():
                break
        if len(self.buffer) > self.layer.max_message_size:
            log.warning("sip stream message over %d bytes from %s", len(self.buffer), self.peer)
            self.close()

    @property
    def peer(self) -> str:
        """The remote address as text."""
        return f"{self.flow.remote}" if self.flow else "?"

    def _one_message(self) -> bool:
        buf = self.buffer
        if buf.startswith(b"\r\n"):
            if buf.startswith(_CRLF_PING):
                del buf[:4]
                self.send(b"\r\n")  # pong
                return True
            if len(buf) < 4 and _CRLF_PING.startswith(bytes(buf)):
                # Half a ping, or a pong (RFC 5626 §4.4.1): wait briefly, then drop it.
                if len(buf) == 2 and self.outbound:
                    del buf[:2]
                    self.ping_sent = None  # the pong (RFC 5626 §4.4.1)
                    self.pongs += 1
                    return True
                return False
            del buf[:2]
            return True
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buf[: end + 4])
        lengths = set(_CONTENT_LENGTH.findall(head))
        if len(lengths) != 1:
            why = "no Content-Length" if not lengths else "conflicting Content-Length headers"
            self._reject(head, why)
            return False
        text = lengths.pop()
        if not text.isdigit():
            self._reject(head, f"malformed Content-Length {text.decode('latin-1')!r}")
            return False
        total = end + 4 + int(text)
        if total > self.layer.max_message_size:
            self._reject(head, "message too large", 513)
            return False
        if len(buf) < total:
            return False
        data = bytes(buf[:total])
        del buf[:total]
        assert self.flow is not None
        self.layer._received(data, self.flow, stream=True)
        return True

    def _reject(self, head: bytes, why: str, status: int = 400) -> None:
        """Answer a request whose framing is broken, then close: the stream is lost (§18.3)."""
        assert self.flow is not None
        self.layer.counters.parse_errors += 1
        log.info("sip stream framing lost from %s: %s", self.peer, why)
        err = SipParseError(why, status)
        try:
            err.partial = SipMessage.parse(head, stream=False)
        except SipParseError as inner:
            err.partial = inner.partial
        self.layer._answer_parse_error(err, self.flow)
        self.close()

    def send(self, data: bytes) -> None:
        """Write bytes to the connection."""
        if self.transport is None or self.transport.is_closing():
            raise SipTransportError(f"connection to {self.peer} is closed")
        self.last_activity = asyncio.get_running_loop().time()
        self.transport.write(data)

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, layer: TransportLayer) -> None:
        self.layer = layer
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)
        self.flows: dict[tuple[str, int], Flow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the socket and its local address."""
        self.transport = cast(asyncio.DatagramTransport, transport)
        sockname = transport.get_extra_info("sockname")
        self.local = (sockname[0], sockname[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """One datagram is one message (RFC 3261 §18.3)."""
        if not data.strip(b"\r\n\x00 "):
            return  # NAT keep-alive (CRLF or empty datagram): nothing to answer over UDP
        remote = (addr[0], addr[1])
        flow = self.flows.get(remote)
        if flow is None:
            if len(self.flows) >= 10000:  # one Flow per peer, shared by its messages (bounded)
                self.flows.clear()
            flow = self.flows[remote] = Flow("UDP", self.local, remote)
        self.layer._received(data, flow, stream=False)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors and the like: logged, never fatal."""
        log.debug("sip udp error on %s: %s", self.local, exc)


@dataclass(slots=True)
class Listener:
    """One listening socket: its transport name and the address it is bound to."""

    transport: str
    host: str
    port: int
    server: asyncio.AbstractServer | None = None
    datagram: _Datagram | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def family_v6(self) -> bool:
        """Whether the listener is bound to an IPv6 address."""
        return ":" in self.host


class TransportLayer:
    """All listening sockets and stream connections of one SIP stack."""

    def __init__(
        self,
        on_message: MessageHandler,
        *,
        counters: SipCounters | None = None,
        trace: MessageTrace | None = None,
        force_rport: bool = False,
        max_message_size: int = MAX_STREAM_MESSAGE,
        max_connections: int = 10000,
        idle_timeout: float = 600.0,
        client_ssl_context: ssl.SSLContext | None = None,
        keepalive_interval: float = 0.0,
        pong_timeout: float = 10.0,
    ) -> None:
        self.on_message = on_message
        self.counters = counters or SipCounters()
        self.trace = trace
        self.force_rport = force_rport
        self.max_message_size = max_message_size
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.client_ssl_context = client_ssl_context
        self.keepalive_interval = keepalive_interval
        self.pong_timeout = pong_timeout
        self.listeners: list[Listener] = []
        self.connections: dict[tuple[str, str, int], StreamConnection] = {}
        self._all: set[StreamConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def listen(
        self, transport: str, host: str, port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> Listener:
        """Open a listening socket for ``transport`` (UDP, TCP or TLS) on ``host:port``."""
        loop = asyncio.get_running_loop()
        name = transport.upper()
        bind = bare_host(host)
        if name == "UDP":
            _, proto = await loop.create_datagram_endpoint(
                lambda: _Datagram(self), local_addr=(bind, port)
            )
            sock = proto.transport.get_extra_info("socket") if proto.transport else None
            if sock is not None:
                for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    with contextlib.suppress(OSError):  # bursts of calls must not overflow it
                        sock.setsockopt(socket.SOL_SOCKET, opt, UDP_BUFFER)
            listener = Listener(name, bind, proto.local[1], datagram=proto)
        elif name in ("TCP", "TLS"):
            if name == "TLS" and ssl_context is None:
                raise SipTransportError("TLS listener needs an SSL context")
            server = await loop.create_server(
                lambda: StreamConnection(self, name, outbound=False),
                bind,
                port,
                ssl=ssl_context if name == "TLS" else None,
                reuse_address=True,
            )
            bound = server.sockets[0].getsockname()
            listener = Listener(name, bind, bound[1], server=server, ssl_context=ssl_context)
        elif name in ("WS", "WSS"):
            from koe.sip.websocket import WebSocketConnection  # RFC 7118; imports this module

            if name == "WSS" and ssl_context is None:
                raise SipTransportError("WSS listener needs an SSL context")
            server = await loop.create_server(
                lambda: WebSocketConnection(self, name),
                bind,
                port,
                ssl=ssl_context if name == "WSS" else None,
                reuse_address=True,
            )
            bound = server.sockets[0].getsockname()
            listener = Listener(name, bind, bound[1], server=server, ssl_context=ssl_context)
        else:
            raise SipTransportError(f"unsupported transport {transport!r}")
        self.listeners.append(listener)
        if self._reaper is None:
            self._schedule_reaper()
        return listener

    async def stop(self) -> None:
        """Close listeners and connections; cancel and await every task this layer started."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for listener in self.listeners:
            if listener.server is not None:
                listener.server.close()
            if listener.datagram is not None and listener.datagram.transport is not None:
                listener.datagram.transport.close()
        conns = list(self._all)
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(conn.closed), 1.0)
        for listener in self.listeners:
            if listener.server is not None:
                await listener.server.wait_closed()
        self.listeners.clear()

    def _schedule_reaper(self) -> None:
        loop = asyncio.get_running_loop()
        every = min(self.idle_timeout / 4, 30.0)
        if self.keepalive_interval:
            every = min(every, self.keepalive_interval / 2)
        self._reaper = loop.call_later(every, self._reap)

    def _reap(self) -> None:
        """Close idle connections; ping our own connections (RFC 5626 §4.4.1 CRLF keep-alive)."""
        now = asyncio.get_running_loop().time()
        for conn in list(self._all):
            if conn.ping_sent is not None and now - conn.ping_sent > self.pong_timeout:
                log.info("sip no pong on %s: the flow failed", conn.peer)
                conn.close()
            elif now - conn.last_activity > self.idle_timeout:
                log.info("sip closing idle connection %s", conn.peer)
                conn.close()
            elif (
                conn.outbound
                and self.keepalive_interval
                and conn.ping_sent is None
                and now - conn.last_activity >= self.keepalive_interval
            ):
                with contextlib.suppress(SipTransportError):
                    conn.send(_CRLF_PING)
                    conn.ping_sent = now
        self._schedule_reaper()

    # -- connections --------------------------------------------------------------------------

    def _connection_opened(self, conn: StreamConnection) -> None:
        assert conn.flow is not None
        if len(self._all) >= self.max_connections:
            log.warning(
                "sip connection limit %d reached; refusing %s", self.max_connections, conn.peer
            )
            conn.close()
            return
        self._all.add(conn)
        host, port = conn.flow.remote
        self.connections[(conn.name, host, port)] = conn

    def _connection_closed(self, conn: StreamConnection) -> None:
        self._all.discard(conn)
        if conn.flow is not None:
            key = (conn.name, conn.flow.remote[0], conn.flow.remote[1])
            if self.connections.get(key) is conn:
                del self.connections[key]

    async def connect(self, dest: Destination) -> StreamConnection:
        """An open connection to ``dest``: reused if one exists (RFC 5923 style), else new."""
        key = (dest.transport, bare_host(dest.host), dest.port)
        conn = self.connections.get(key)
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            return conn
        if dest.transport in ("WS", "WSS"):
            raise SipTransportError(f"no open WebSocket connection to {dest}")
        loop = asyncio.get_running_loop()
        ctx = None
        if dest.transport == "TLS":
            ctx = self.client_ssl_context or ssl.create_default_context()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: StreamConnection(self, dest.transport, outbound=True),
                    key[1],
                    dest.port,
                    ssl=ctx,
                    server_hostname=key[1] if ctx is not None else None,
                ),
                timeout=10.0,
            )
        except (OSError, TimeoutError, ssl.SSLError) as err:
            raise SipTransportError(f"cannot connect to {dest}: {err}") from err
        return proto

    def listener_for(self, transport: str, host: str = "") -> Listener:
        """The listener used to send over ``transport`` toward ``host`` (matching IP family)."""
        v6 = ":" in bare_host(host)
        candidates = [lis for lis in self.listeners if lis.transport == transport]
        for lis in candidates:
            if lis.family_v6 == v6:
                return lis
        if candidates:
            return candidates[0]
        raise SipTransportError(f"no {transport} listener")

    def via_for(self, transport: str, host: str = "") -> tuple[str, int]:
        """The sent-by ``(host, port)`` to put in a Via for ``transport`` toward ``host``."""
        lis = self.listener_for(transport, host)
        return format_host(lis.host), lis.port

    # -- sending -------------------------------------------------------------------------------

    def send(self, msg: SipMessage, dest: Destination, flow: Flow | None = None) -> None:
        """Send now if possible (UDP or an open connection), else connect in an owned task."""
        self.counters.sent(msg)
        self.send_data(bytes(msg), dest, flow)

    def send_data(self, data: bytes, dest: Destination, flow: Flow | None = None) -> None:
        """Send serialized bytes (retransmissions reuse them); not counted as a new message."""
        if self.trace is not None:
            self.trace.write("out", str(dest), data)
        if dest.transport == "UDP":
            lis = self.listener_for("UDP", dest.host)
            assert lis.datagram is not None
            assert lis.datagram.transport is not None
            if bare_host(dest.host) == "255.255.255.255":
                raise SipTransportError("refusing to send to the broadcast address")
            lis.datagram.transport.sendto(data, (bare_host(dest.host), dest.port))
            return
        conn = flow.connection if flow is not None else None
        if conn is None or conn.transport is None or conn.transport.is_closing():
            conn = self.connections.get((dest.transport, bare_host(dest.host), dest.port))
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.send(data)
            return
        self._spawn(self._connect_and_send(dest, data))

    async def send_async(self, msg: SipMessage, dest: Destination) -> None:
        """Send, connecting first when needed; raises SipTransportError on failure."""
        if dest.transport != "UDP":
            await self.connect(dest)
        self.send(msg, dest)

    async def _connect_and_send(self, dest: Destination, data: bytes) -> None:
        try:
            conn = await self.connect(dest)
            conn.send(data)
        except SipTransportError as err:
            log.info("sip send failed: %s", err)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send_raw(self, data: bytes, flow: Flow) -> None:
        """Send bytes back along a flow (keep-alives, stateless answers)."""
        if flow.connection is not None:
            with contextlib.suppress(SipTransportError):
                flow.connection.send(data)
            return
        lis = self.listener_for("UDP", flow.remote[0])
        if lis.datagram is not None and lis.datagram.transport is not None:
            lis.datagram.transport.sendto(data, flow.remote)

    # -- receiving -----------------------------------------------------------------------------

    def _received(self, data: bytes, flow: Flow, *, stream: bool) -> None:
        if self.trace is not None:
            self.trace.write(
                "in", f"{flow.transport.lower()}:{flow.remote[0]}:{flow.remote[1]}", data
            )
        msg: SipMessage | None = None
        try:
            msg = SipMessage.parse(data, stream=stream)
            msg.validate()
            if isinstance(msg, SipRequest):
                stamp_via(msg, flow, self.force_rport)
        except SipParseError as err:
            if err.partial is None:
                err.partial = msg
            self.counters.parse_errors += 1
            call_id = msg.headers.get("call-id") if msg is not None else None
            log.info(
                "sip unparsable message from %s:%s call_id=%s: %s",
                flow.remote[0],
                flow.remote[1],
                call_id,
                err.reason,
            )
            self._answer_parse_error(err, flow)
            return
        self.counters.received(msg)
        self.on_message(msg, flow)

    def _answer_parse_error(self, err: SipParseError, flow: Flow) -> None:
        """Answer a broken request statelessly with the error's status; drop broken responses."""
        request = err.partial
        if not isinstance(request, SipRequest) or request.method == "ACK":
            return
        response = SipResponse(err.status_code, err_reason(err))
        for name in ("via", "from", "to", "call-id", "cseq"):
            for value in request.headers.get_all(name):
                response.headers.add(name.title() if name != "call-id" else "Call-ID", value)
        if not response.headers.get("via"):
            return
        text = err.reason[:120].replace('"', "'").replace("\\", "/")
        response.headers.add("Warning", f'399 koe "{text}"')
        response.set_body(b"")
        self.counters.sent(response)
        self.send_raw(bytes(response), flow)


def err_reason(err: SipParseError) -> str:
    """The reason phrase for a stateless error answer."""
    if err.status_code == 505:
        return "Version Not Supported"
    if err.status_code == 513:
        return "Message Too Large"
    return "Bad Request"


def via_value(transport: str, host: str, port: int, branch: str, rport: bool = True) -> str:
    """A Via value for a request we send (RFC 3261 §8.1.1.7, RFC 3581 §3)."""
    params: tuple[tuple[str, str | None], ...] = (("branch", branch),)
    if rport:
        params = (*params, ("rport", None))
    return f"SIP/2.0/{transport} {host}:{port}{format_params(params)}"
