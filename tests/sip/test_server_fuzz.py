"""Mutated messages sent to a running stack: it never logs an error and keeps answering."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from koe.sip.registrar import Registrar
from tests.sip.conftest import CAPTURES
from tests.sip.helpers import running
from tests.sip.test_rfc4475 import PROBE, _tcp, _udp, torture_server_handler

PIECES = [b"\r\n", b" ", b";", b",", b"<", b">", b'"', b"\\", b":", b"@", b"=", b"%", b"\x00"]
PIECES += [b";tag=x", b"Require: 100rel\r\n", b"Session-Expires: 1\r\n", b"Contact: *\r\n"]


def mutations(seed: int, count: int) -> list[bytes]:
    """``count`` mutated copies of the captured messages (deterministic)."""
    rng = random.Random(seed)
    seeds = [p.read_bytes() for p in sorted(CAPTURES.glob("*.sip"))]
    out = []
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            data[at : at + rng.randint(0, 6)] = rng.choice(PIECES)
        out.append(bytes(data))
    return out


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_mutated_messages_never_break_the_server(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="koe")
    send = _udp if transport == "UDP" else _tcp
    registrar = Registrar(lambda domain: "tenant-1")
    async with running(
        torture_server_handler(registrar), transports=(transport,), force_rport=True
    ) as stack:
        for n, payload in enumerate(mutations(7 if transport == "UDP" else 11, 200)):
            await asyncio.wait_for(send(stack, payload, 0.03), 2)  # survival, not answers
            if n % 10 == 0:
                probe = PROBE.format(t=transport, n=f"fz{n}").encode()
                assert await send(stack, probe) == [200]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors
