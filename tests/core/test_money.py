"""Money is integer yen; scaling cuts fractions (R4.2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from koe.core.money import Money


def test_scale_cuts_fraction() -> None:
    # 1,005 yen x 10 % = 100.5 yen of tax -> 100 yen (fraction cut, R4.2)
    assert Money(1005).scale(Decimal("0.10")) == Money(100)


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money(1.5)  # type: ignore[arg-type]


def test_arithmetic_and_display() -> None:
    assert Money(5000).times(3) + Money(500) - Money(1) == Money(15499)
    assert str(Money(1234567)) == "¥1,234,567"
