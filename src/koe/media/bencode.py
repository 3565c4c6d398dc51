"""Bencode, the encoding of rtpengine's ng control protocol (no I/O).

Strings are bytes on the wire; ``encode`` accepts str (UTF-8) and bytes, ints, lists and
dicts (keys sorted as the format requires). ``decode`` returns str for valid UTF-8 strings
and bytes otherwise. ``decode_stream`` splits concatenated values (the TCP ng push).
"""

from __future__ import annotations

from typing import Any

from koe.core.errors import KoeError


class BencodeError(KoeError):
    """Bytes that are not valid bencode."""

    status = 502


def _error(detail: str) -> BencodeError:
    return BencodeError(
        "bencode_invalid", f"bencode の形式が不正です: {detail}", f"Invalid bencode: {detail}"
    )


def encode(value: Any) -> bytes:
    """Encode ``value`` (str, bytes, int, bool, list, tuple, dict) as bencode."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: Any, out: bytearray) -> None:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        out += b"i%de" % value
    elif isinstance(value, str):
        raw = value.encode()
        out += b"%d:" % len(raw) + raw
    elif isinstance(value, bytes | bytearray):
        out += b"%d:" % len(value) + bytes(value)
    elif isinstance(value, list | tuple):
        out += b"l"
        for item in value:
            _encode(item, out)
        out += b"e"
    elif isinstance(value, dict):
        out += b"d"
        items = sorted(((k.encode() if isinstance(k, str) else k), v) for k, v in value.items())
        for key, item in items:
            out += b"%d:" % len(key) + key
            _encode(item, out)
        out += b"e"
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def _text(raw: bytes) -> str | bytes:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > 64:
        raise _error("nested too deeply")
    if pos >= len(data):
        raise _error("truncated")
    lead = data[pos : pos + 1]
    if lead == b"i":
        end = data.find(b"e", pos)
        if end < 0:
            raise _error("unterminated integer")
        try:
            return int(data[pos + 1 : end]), end + 1
        except ValueError as err:
            raise _error("bad integer") from err
    if lead == b"l":
        items: list[Any] = []
        pos += 1
        while data[pos : pos + 1] != b"e":
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return items, pos + 1
    if lead == b"d":
        result: dict[str, Any] = {}
        pos += 1
        while data[pos : pos + 1] != b"e":
            key, pos = _decode(data, pos, depth + 1)
            if not isinstance(key, str):
                raise _error("dictionary key is not text")
            result[key], pos = _decode(data, pos, depth + 1)
        return result, pos + 1
    if lead.isdigit():
        colon = data.find(b":", pos)
        if colon < 0:
            raise _error("string without length separator")
        try:
            length = int(data[pos:colon])
        except ValueError as err:
            raise _error("bad string length") from err
        end = colon + 1 + length
        if end > len(data):
            raise _error("truncated string")
        return _text(data[colon + 1 : end]), end
    raise _error(f"unexpected byte {lead!r} at {pos}")


def decode(data: bytes) -> Any:
    """Decode exactly one bencoded value."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise _error("trailing bytes")
    return value


def decode_stream(buffer: bytes) -> tuple[list[Any], bytes]:
    """Split concatenated values; returns the complete ones and the incomplete rest."""
    values: list[Any] = []
    pos = 0
    while pos < len(buffer):
        try:
            value, end = _decode(buffer, pos, 0)
        except BencodeError as err:
            if "truncated" in err.message_en or "unterminated" in err.message_en:
                break
            raise
        except IndexError:
            break
        values.append(value)
        pos = end
    return values, buffer[pos:]
