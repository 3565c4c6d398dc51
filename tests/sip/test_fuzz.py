"""Fuzzing the parser: any input gives a message or a SipParseError, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from koe.sip.errors import SipParseError
from koe.sip.message import SipMessage, SipRequest
from tests.sip.conftest import CAPTURES

SEEDS = [p.read_bytes() for p in sorted(CAPTURES.glob("*.sip"))]
PIECES = [
    b"\r\n",
    b" ",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"\\",
    b":",
    b"@",
    b"=",
    b"%",
    b"\x00",
    b"\xff",
]


def _exercise(data: bytes) -> None:
    try:
        msg = SipMessage.parse(data)
        msg.validate()
        _ = msg.contacts, msg.routes, msg.record_routes, msg.expires, msg.content_type
        if isinstance(msg, SipRequest):
            _ = msg.uri
        SipMessage.parse(bytes(msg))
    except SipParseError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _exercise(data)


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 8), st.sampled_from(PIECES)), max_size=6
    ),
)
def test_mutated_captures(seed: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(seed)
    for pos, cut, piece in edits:
        at = pos % (len(data) + 1)
        data[at : at + cut] = piece
    _exercise(bytes(data))
    _exercise(bytes(data) + b"\r\n\r\n")
