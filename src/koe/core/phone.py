"""Japanese phone numbers: any common written form in, E.164 stored, domestic form shown.

Input is normalised with NFKC (full-width digits and hyphens become ASCII), then
separators (hyphens, spaces, dots, brackets) are dropped. Domestic numbers start with
0 (trunk prefix) and have 10 digits (11 for 050/070/080/090/020 and 0120/0800 free-dial
forms); ``+81`` and ``81`` prefixes are accepted. Stored form is E.164 ``+81…``.
"""

from __future__ import annotations

import re
import unicodedata

from koe.core.errors import ValidationFailed

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―ー−().]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# 11-digit domestic prefixes: IP phone (050), mobile (070/080/090), M2M (020),
# and the 0120/0800 free-dial and 0570 navi-dial ranges that are 10 or 11 digits.
_ELEVEN_DIGIT = ("050", "070", "080", "090", "020", "0800")
_TEN_DIGIT_SPECIAL = ("0120", "0570", "0990")


def _invalid(raw: str) -> ValidationFailed:
    return ValidationFailed(
        "invalid_phone_number",
        f"電話番号の形式が正しくありません: {raw!r}",
        f"Not a valid phone number: {raw!r}",
    )


def clean(raw: str) -> str:
    """NFKC-normalise and drop separators; keeps a leading '+'."""
    text = unicodedata.normalize("NFKC", raw).strip()
    return _SEPARATORS.sub("", text)


def to_e164(raw: str) -> str:
    """Normalise a Japanese or international number written in any common form to E.164."""
    text = clean(raw)
    if not text:
        raise _invalid(raw)
    if text.startswith("+"):
        if not _E164.match(text):
            raise _invalid(raw)
        if text.startswith("+81") and text[3:4] == "0":
            raise _invalid(raw)
        return text
    if not text.isdigit():
        raise _invalid(raw)
    if text.startswith("81") and not text.startswith("0") and len(text) in (11, 12):
        text = "0" + text[2:]
    if not text.startswith("0") or text.startswith("00"):
        raise _invalid(raw)
    expected = 11 if text.startswith(_ELEVEN_DIGIT) else 10
    if text.startswith(_TEN_DIGIT_SPECIAL):
        expected = 10
    if len(text) != expected:
        raise _invalid(raw)
    return "+81" + text[1:]


def to_domestic(e164: str) -> str:
    """The domestic display form of an E.164 number (``+81312345678`` → ``03-1234-5678``)."""
    if not e164.startswith("+81"):
        return e164
    national = "0" + e164[3:]
    if national.startswith(("0120", "0570", "0990")) and len(national) == 10:
        return f"{national[:4]}-{national[4:7]}-{national[7:]}"
    if national.startswith("0800") and len(national) == 11:
        return f"{national[:4]}-{national[4:7]}-{national[7:]}"
    if len(national) == 11:
        return f"{national[:3]}-{national[3:7]}-{national[7:]}"
    if national.startswith(("03", "06")):
        return f"{national[:2]}-{national[2:6]}-{national[6:]}"
    return f"{national[:3]}-{national[3:6]}-{national[6:]}"
