"""Column types that keep money exact.

SQLite has no fixed-point type (its NUMERIC affinity stores REAL), so amounts are stored as integer
hundredths in both databases: exact sums in SQL, and `Decimal` in Python. Floats are refused outright.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect
from sqlalchemy.types import TypeDecorator


class FixedPoint(TypeDecorator[Decimal]):
    """A decimal with a fixed number of places, stored as a scaled integer."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int = 2) -> None:
        super().__init__()
        self.places = places
        self._quantum = Decimal(1).scaleb(-places)
        self._factor = 10**places

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts must be Decimal or str, never float")
        amount = Decimal(value)
        scaled = amount.quantize(self._quantum, rounding=ROUND_HALF_UP) * self._factor
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        result: Decimal = (Decimal(int(value)) / self._factor).quantize(self._quantum)
        return result


class Money(FixedPoint):
    """US dollars and cents."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(2)


def money(value: Decimal | int | str) -> Decimal:
    """Normalise a value to dollars and cents."""
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


ZERO = Decimal("0.00")
