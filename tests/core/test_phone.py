"""Phone number normalisation: any common Japanese form in, E.164 out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koe.core.errors import ValidationFailed
from koe.core.phone import to_domestic, to_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("03-1234-5678", "+81312345678"),
        ("０３－１２３４－５６７８", "+81312345678"),  # full-width digits and hyphens
        ("(03) 1234 5678", "+81312345678"),
        ("050-1234-5678", "+815012345678"),
        ("090ー1234ー5678", "+819012345678"),  # katakana long-vowel mark used as a dash
        ("+81 3 1234 5678", "+81312345678"),
        ("81312345678", "+81312345678"),
        ("0120-123-456", "+81120123456"),
        ("0570-123-456", "+81570123456"),
        ("+1 415 555 0100", "+14155550100"),
    ],
)
def test_to_e164_accepts_common_forms(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize(
    "raw", ["", "abc", "03-1234-567", "0312345678901", "+810312345678", "00312"]
)
def test_to_e164_rejects_with_code(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        to_e164(raw)
    assert info.value.code == "invalid_phone_number"


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+81312345678", "03-1234-5678"),
        ("+815012345678", "050-1234-5678"),
        ("+81120123456", "0120-123-456"),
        ("+81452345678", "045-234-5678"),
    ],
)
def test_to_domestic(e164: str, shown: str) -> None:
    assert to_domestic(e164) == shown


@given(st.text(max_size=30))
def test_to_e164_never_raises_anything_but_validation(raw: str) -> None:
    try:
        result = to_e164(raw)
    except ValidationFailed:
        return
    assert result.startswith("+")
    assert to_e164(result) == result
