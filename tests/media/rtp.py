"""Helpers for media tests: a running rtpengine, RTP packets and SDP."""

from __future__ import annotations

import random
import socket
import struct

from koe.media.process import MediaInterface, RtpEngineConfig


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def engine_config(**overrides: object) -> RtpEngineConfig:
    """An rtpengine on loopback with a random port range (tests may run side by side)."""
    base = random.randrange(20000, 59000, 1000)
    config = RtpEngineConfig(
        ng_port=free_udp_port(),
        port_min=base,
        port_max=base + 999,
        interfaces=[MediaInterface("default", "127.0.0.1")],
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def sdp(port: int, *, session: int = 1, events: bool = True) -> bytes:
    lines = [
        "v=0",
        f"o=- {session} 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0" + (" 101" if events else ""),
        "a=rtpmap:0 PCMU/8000",
    ]
    if events:
        lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"]
    lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode()


def media_port(sdp_text: str) -> int:
    for line in sdp_text.splitlines():
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise AssertionError(f"no audio line in {sdp_text!r}")


def rtp_packet(
    seq: int, ts: int, ssrc: int, payload: bytes, pt: int = 0, marker: bool = False
) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts, ssrc) + (
        payload
    )


def dtmf_event(digit: int, end: bool, duration: int, volume: int = 10) -> bytes:
    """RFC 4733 telephone-event payload."""
    return struct.pack("!BBH", digit, (0x80 if end else 0) | volume, duration)
