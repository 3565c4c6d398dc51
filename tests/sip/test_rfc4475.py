"""RFC 4475 torture messages sent to a running Koe stack, scored against expected.tsv.

Each message goes as one UDP datagram, and (rows whose transport is ``any``) as the
first bytes of a fresh TCP connection. After each one the server must still answer
a plain OPTIONS, and nothing may be logged at ERROR level.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import pytest

from koe.sip.message import SipMessage, SipResponse
from koe.sip.registrar import Registrar
from koe.sip.ua import IncomingRequest, SipStack
from tests.sip.conftest import checked_rfc4475, expected_rows
from tests.sip.helpers import running

WAIT = 0.4  # seconds to wait for a final response
PROBE = (
    "OPTIONS sip:koe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{t} 127.0.0.1:9;branch=z9hG4bK{n}\r\n"
    "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:koe@127.0.0.1>\r\nCall-ID: probe-{n}\r\n"
    "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


def torture_server_handler(registrar: Registrar):  # type: ignore[no-untyped-def]
    """What the torture server answers: registrar, 486 to INVITE, defaults otherwise."""

    def handle(inreq: IncomingRequest) -> None:
        if inreq.method == "REGISTER":
            registrar.handle(inreq)
        elif inreq.method == "INVITE":
            inreq.respond(486)
        else:
            inreq.stack.default_handler(inreq)

    return handle


def _finals(data: list[bytes]) -> list[int]:
    out = []
    for chunk in data:
        msg = SipMessage.parse(chunk)
        if isinstance(msg, SipResponse) and msg.status >= 200:
            out.append(msg.status)
    return out


async def _udp(stack: SipStack, payload: bytes, wait: float = WAIT) -> list[int]:
    loop = asyncio.get_running_loop()
    received: list[bytes] = []
    final = asyncio.Event()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            received.append(data)
            if _finals(received):
                final.set()

    host, port = stack.local_address("UDP")
    transport, _ = await loop.create_datagram_endpoint(
        Client, local_addr=("127.0.0.1", 0), family=socket.AF_INET
    )
    try:
        transport.sendto(payload, (host, port))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(final.wait(), wait)
    finally:
        transport.close()
    return _finals(received)


async def _tcp(stack: SipStack, payload: bytes, wait: float = WAIT) -> list[int]:
    host, port = stack.local_address("TCP")
    reader, writer = await asyncio.open_connection(host, port)
    chunks: list[bytes] = []
    try:
        writer.write(payload)
        await writer.drain()
        buf = b""
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        while loop.time() < end:
            try:
                data = await asyncio.wait_for(reader.read(65536), end - loop.time())
            except TimeoutError:
                break
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = int(SipMessage.parse(head + b"\r\n\r\n").headers.get("l") or 0)
                chunks.append(head + b"\r\n\r\n" + rest[:length])
                buf = rest[length:]
            if _finals(chunks):
                break
    finally:
        writer.close()
    return _finals(chunks)


def _acceptable(row: dict[str, str], finals: list[int]) -> bool:
    allowed = row["response"].split("|")
    if not finals:
        return "drop" in allowed
    status = finals[0]
    return str(status) in allowed or ("not400" in allowed and status != 400)


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_torture_messages_scored(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    folder = checked_rfc4475()
    registrar = Registrar(lambda domain: "tenant-1")
    caplog.set_level(logging.WARNING, logger="koe")
    send = _udp if transport == "UDP" else _tcp
    failures = []
    async with running(
        torture_server_handler(registrar), transports=(transport,), force_rport=True
    ) as stack:
        for n, row in enumerate(expected_rows()):
            if transport == "TCP" and row["transport"] != "any":
                continue  # stream behaviour of datagram-only rows: test_stream_framing_rows
            payload = (folder / f"{row['name']}.dat").read_bytes()
            finals = await send(stack, payload)
            if not _acceptable(row, finals):
                failures.append(f"{row['name']}: got {finals}, want {row['response']}")
            probe = PROBE.format(t=transport, n=n).encode()
            assert await send(stack, probe) == [200], f"server stopped after {row['name']}"
    assert not failures, "\n".join(failures)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert registrar.lookup("tenant-1", "sip:watson@example.com")


async def _stream_outcome(stack: SipStack, payload: bytes) -> tuple[list[int], bool]:
    """Send on a fresh TCP connection; return final statuses and whether the server closed.

    dblreq's INVITE body is 5 bytes longer than its Content-Length, so on a stream the
    leftover ``C`` starts a message without Content-Length: framing is lost and we close.
    """
    host, port = stack.local_address("TCP")
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(payload)
    data = b""
    closed = False
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 1.5)
            if not chunk:
                closed = True
                break
            data += chunk
    except TimeoutError:
        pass
    finally:
        writer.close()
    finals = [int(line.split()[1]) for line in data.split(b"\r\n") if line.startswith(b"SIP/2.0 ")]
    return [s for s in finals if s >= 200], closed


@pytest.mark.parametrize(
    ("name", "finals", "closed"),
    [
        ("ncl", [400], True),
        ("mcl01", [400], True),
        ("clerr", [], True),
        ("dblreq", [200, 486], True),
    ],
)
async def test_stream_framing_rows(name: str, finals: list[int], closed: bool) -> None:
    folder = checked_rfc4475()
    registrar = Registrar(lambda domain: "tenant-1")
    handler = torture_server_handler(registrar)
    idle = 0.4 if name == "clerr" else 30.0  # clerr: the server waits for the body, then gives up
    async with running(handler, transports=("TCP",), idle_timeout=idle) as stack:
        got = await _stream_outcome(stack, (folder / f"{name}.dat").read_bytes())
    assert got == (finals, closed)
