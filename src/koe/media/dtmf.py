"""DTMF reports from rtpengine (``--dtmf-log-dest``: one JSON datagram per digit).

Digits may reach Koe three ways for one key press (RFC 4733 events relayed by rtpengine,
SIP INFO, in-band tones turned into events); ``DtmfDeduplicator`` keeps one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DIGITS = "0123456789*#ABCD"


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One key press on one call leg."""

    call_id: str
    tag: str
    digit: str
    at: float  # loop time, seconds
    source: str  # "rfc4733", "info" or "inband"


def parse_report(data: bytes, at: float) -> DtmfDigit | None:
    """A digit from one rtpengine JSON report, or None if it is not one."""
    try:
        report = json.loads(data)
        event = int(report["event"])
        call_id = str(report["callid"])
        tag = str(report.get("source_tag", ""))
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= event < len(DIGITS):
        return None
    return DtmfDigit(call_id, tag, DIGITS[event], at, "rfc4733")


class DtmfDeduplicator:
    """Drops a digit seen on the same leg from another source within ``window`` seconds."""

    def __init__(self, window: float = 0.3) -> None:
        self.window = window
        self._last: dict[tuple[str, str], DtmfDigit] = {}

    def accept(self, digit: DtmfDigit) -> bool:
        """True if ``digit`` is a new key press, False if it repeats one just seen."""
        key = (digit.call_id, digit.tag)
        last = self._last.get(key)
        duplicate = (
            last is not None
            and last.digit == digit.digit
            and last.source != digit.source
            and digit.at - last.at <= self.window
        )
        if not duplicate:
            self._last[key] = digit
        return not duplicate

    def forget(self, call_id: str) -> None:
        """Drop the state of an ended call."""
        for key in [k for k in self._last if k[0] == call_id]:
            del self._last[key]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, listener: DtmfListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.listener._on_datagram(data)


class DtmfListener:
    """Receives rtpengine's DTMF reports on a UDP port and hands digits to ``on_digit``."""

    def __init__(self, host: str, port: int, on_digit: Callable[[DtmfDigit], None]) -> None:
        self.address = (host, port)
        self.on_digit = on_digit
        self.dedup = DtmfDeduplicator()
        self._transport: asyncio.DatagramTransport | None = None
        self.malformed = 0

    @property
    def bound(self) -> tuple[str, int]:
        """The address actually bound (port 0 picks a free one)."""
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    async def start(self) -> None:
        """Bind the UDP socket."""
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=self.address
        )

    async def stop(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _on_datagram(self, data: bytes) -> None:
        digit = parse_report(data, asyncio.get_running_loop().time())
        if digit is None:
            self.malformed += 1
            log.warning("unreadable DTMF report: %r", data[:200])
            return
        self.deliver(digit)

    def deliver(self, digit: DtmfDigit) -> None:
        """Pass a digit on unless it duplicates one just seen (SIP INFO digits come here too)."""
        if self.dedup.accept(digit):
            self.on_digit(digit)
