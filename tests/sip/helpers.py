"""Helpers for SIP tests: stacks on loopback with fast timers, a tiny UAS, polling."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

from koe.sip.transaction import Timers
from koe.sip.ua import IncomingRequest, RequestHandler, SipConfig, SipStack

FAST = Timers(t1=0.05, t2=0.4, t4=0.5)
SDP = (
    b"v=0\r\no=koe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    """A port that is free now on loopback (for peers we start as subprocesses)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running(
    handler: RequestHandler | None = None,
    *,
    transports: tuple[str, ...] = ("UDP",),
    host: str = "127.0.0.1",
    timers: Timers = FAST,
    **config: Any,
) -> AsyncIterator[SipStack]:
    """A started stack listening on ``transports`` at ``host`` (ephemeral ports); stopped after."""
    listen = [(t, host, 0) for t in transports]
    stack = SipStack(SipConfig(listen=listen, timers=timers, **config), handler)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


def uri_of(stack: SipStack, transport: str = "UDP", user: str = "koe") -> str:
    """A SIP URI reaching ``stack`` over ``transport``."""
    host, port = stack.local_address(transport)
    suffix = "" if transport == "UDP" else f";transport={transport.lower()}"
    scheme = "sips" if transport == "TLS" else "sip"
    return f"{scheme}:{user}@{host}:{port}{suffix}"


async def answer_invites(inreq: IncomingRequest) -> None:
    """A UAS handler: 180, then 200 with SDP; OPTIONS 200; others via the default."""
    if inreq.method == "INVITE":
        inreq.respond(180)
        inreq.respond(200, body=SDP)
    else:
        inreq.stack.default_handler(inreq)


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll ``predicate`` until true (bounded)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
