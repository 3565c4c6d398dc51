"""Bencode for the ng protocol: exact bytes, round trips, stream splitting, precise errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koe.media.bencode import BencodeError, decode, decode_stream, encode


def test_encode_sorts_keys_and_matches_known_bytes() -> None:
    assert encode({"command": "ping", "a": [1, "x"]}) == b"d1:ali1e1:xe7:command4:pinge"


def test_decode_returns_text_and_bytes() -> None:
    assert decode(b"d3:sdp5:v=0\r\n3:rawi-5ee") == {"sdp": "v=0\r\n", "raw": -5}
    assert decode(b"2:\xff\xfe") == b"\xff\xfe"


def test_stream_splits_concatenated_values_and_keeps_the_rest() -> None:
    values, rest = decode_stream(b"d1:ai1eed1:bi2eed1:c")
    assert values == [{"a": 1}, {"b": 2}]
    assert rest == b"d1:c"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"i12", "unterminated integer"),
        (b"5:ab", "truncated string"),
        (b"x", "unexpected byte"),
        (b"i1ei2e", "trailing bytes"),
        (b"di1ei2ee", "key is not text"),
    ],
)
def test_bad_input_is_a_precise_error(data: bytes, message: str) -> None:
    with pytest.raises(BencodeError, match=message):
        decode(data)


values = st.recursive(
    st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(values)
def test_round_trip(value: Any) -> None:
    assert decode(encode(value)) == value


@given(st.binary(max_size=64))
def test_decoder_raises_only_its_own_error(data: bytes) -> None:
    try:
        value = decode(data)
    except BencodeError:
        return
    assert isinstance(value, int | str | bytes | list | dict)
