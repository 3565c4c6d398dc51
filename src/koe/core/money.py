"""Money is an integer number of yen; fractions are cut (R4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An amount of Japanese yen, always a whole number."""

    yen: int

    def __post_init__(self) -> None:
        if not isinstance(self.yen, int) or isinstance(self.yen, bool):
            raise TypeError("Money holds an int number of yen")

    def __add__(self, other: Money) -> Money:
        return Money(self.yen + other.yen)

    def __sub__(self, other: Money) -> Money:
        return Money(self.yen - other.yen)

    def __neg__(self) -> Money:
        return Money(-self.yen)

    def times(self, quantity: int) -> Money:
        """This amount ``quantity`` times."""
        return Money(self.yen * quantity)

    def scale(self, rate: Decimal) -> Money:
        """This amount times ``rate``, fractions of a yen cut toward minus infinity (R4.2)."""
        return Money(int((Decimal(self.yen) * rate).to_integral_value(rounding=ROUND_FLOOR)))

    def __str__(self) -> str:
        return f"¥{self.yen:,}"


ZERO = Money(0)
