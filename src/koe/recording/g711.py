"""G.711 μ-law and A-law decoding to 16-bit linear PCM (ITU-T G.711), by lookup table."""

from __future__ import annotations

import array


def _ulaw(byte: int) -> int:
    u = ~byte & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def _alaw(byte: int) -> int:
    a = byte ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    sample = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if sign else -sample


ULAW = array.array("h", (_ulaw(b) for b in range(256)))
ALAW = array.array("h", (_alaw(b) for b in range(256)))


def decode(payload: bytes, table: array.array[int]) -> array.array[int]:
    """Decode G.711 bytes with ``table`` (``ULAW`` or ``ALAW``)."""
    return array.array("h", (table[b] for b in payload))


def encode_ulaw(sample: int) -> int:
    """μ-law byte of a 16-bit sample (used by tests and tone generators)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = 7
    for exp in range(7, -1, -1):
        if magnitude & (0x80 << exp):
            exponent = exp
            break
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF
