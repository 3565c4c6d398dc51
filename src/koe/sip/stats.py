"""Counters for observability: messages in/out by method and response class, retransmissions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from koe.sip.message import SipMessage, SipRequest, SipResponse


@dataclass
class SipCounters:
    """Plain counters a metrics exporter can read; no locking needed on one event loop."""

    messages_in: Counter[str] = field(default_factory=Counter)
    messages_out: Counter[str] = field(default_factory=Counter)
    retransmissions: int = 0
    transaction_timeouts: int = 0
    parse_errors: int = 0
    overload_rejections: int = 0

    @staticmethod
    def key(msg: SipMessage) -> str:
        """``INVITE`` for requests, ``2xx`` (etc.) for responses."""
        if isinstance(msg, SipRequest):
            return msg.method
        assert isinstance(msg, SipResponse)
        return f"{msg.status // 100}xx"

    def received(self, msg: SipMessage) -> None:
        """Count one received message."""
        self.messages_in[self.key(msg)] += 1

    def sent(self, msg: SipMessage) -> None:
        """Count one sent message."""
        self.messages_out[self.key(msg)] += 1

    def snapshot(self) -> dict[str, object]:
        """All counters as plain data."""
        return {
            "messages_in": dict(self.messages_in),
            "messages_out": dict(self.messages_out),
            "retransmissions": self.retransmissions,
            "transaction_timeouts": self.transaction_timeouts,
            "parse_errors": self.parse_errors,
            "overload_rejections": self.overload_rejections,
        }
