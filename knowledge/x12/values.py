"""Reading X12 element values exactly: amounts as Decimal, dates, and errors that say where."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from knowledge.errors import FileFormatError
from knowledge.x12.segments import Segment

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
_ONE = Decimal("1")
_THOUSANDTH = Decimal("0.001")
#: X12 amounts (type R) have at most 18 digits; in dollars and cents that also fits the ledger's
#: integer-cents columns (BIGINT) with room for sums.
MAX_AMOUNT = Decimal("9999999999999999.99")
_MIN_AMOUNT = -MAX_AMOUNT
#: Quantities (units, days) have at most 15 digits; they are stored with three places.
MAX_QUANTITY = Decimal("999999999999999")


class SegmentError(FileFormatError):
    """A value in a segment is wrong; the message names the segment number and its text."""

    def __init__(self, message: str, segment: Segment, *, path: str | None = None) -> None:
        super().__init__(message, path=path, position=segment.position)
        self.segment = segment
        self.detail = message


def amount(segment: Segment, index: int, *, required: bool = True) -> Decimal:
    """A monetary element (R type) as Decimal to the cent; '' is zero unless required."""
    elements = segment.elements  # read directly: a 10,000-claim 835 has 230,000 amounts
    text = elements[index].strip() if index < len(elements) else ""
    if not text:
        if required:
            raise SegmentError(f"{segment.tag}{index:02d} (an amount) is missing", segment)
        return ZERO
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SegmentError(f"{segment.tag}{index:02d} is not an amount: {text!r}", segment) from None
    # Nearly every amount is written with its cents and is well under the limit: it is already the value
    # `quantize` would return (finite, two places), so the checks below and the quantize are skipped. Below
    # 10**16 with two places is exactly within MAX_AMOUNT. Parsed twice per 835 (read-through, posting).
    if value.same_quantum(CENT) and value.adjusted() < 16:
        return value
    if not value.is_finite() or not _at_most_cents(value):
        raise SegmentError(f"{segment.tag}{index:02d} is not an amount in dollars and cents: {text!r}", segment)
    if value > MAX_AMOUNT or value < _MIN_AMOUNT:
        raise SegmentError(
            f"{segment.tag}{index:02d} {text} is too large: an X12 amount has at most 18 digits "
            f"(the largest in dollars and cents is {MAX_AMOUNT})",
            segment,
        )
    return value.quantize(CENT, ROUND_HALF_UP)  # `types.money` (the value is a Decimal); positional: faster


def _at_most_cents(value: Decimal) -> bool:
    """At most two decimal places; cents and whole dollars (nearly every amount) are told without building
    the value's digit tuple."""
    return value.same_quantum(CENT) or value.same_quantum(_ONE) or value.as_tuple().exponent >= -2  # type: ignore[operator]


def optional_amount(segment: Segment, index: int) -> Decimal | None:
    return amount(segment, index) if segment[index].strip() else None


def quantity(segment: Segment, index: int) -> Decimal | None:
    elements = segment.elements
    text = elements[index].strip() if index < len(elements) else ""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SegmentError(f"{segment.tag}{index:02d} is not a number: {text!r}", segment) from None
    if not value.is_finite():
        raise SegmentError(f"{segment.tag}{index:02d} is not a number: {text!r}", segment)
    if abs(value) > MAX_QUANTITY:
        raise SegmentError(
            f"{segment.tag}{index:02d} {text} is too large: an X12 quantity has at most 15 digits", segment
        )
    return value.quantize(_THOUSANDTH)


def date8(segment: Segment, index: int, text: str | None = None) -> dt.date:
    """A CCYYMMDD date."""
    value = (segment[index] if text is None else text).strip()
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        # Eight digits are ISO 8601's basic form (Python 3.11+), read in C: three times as fast as slicing,
        # with the same ValueError for a month or day out of range (60,000 dates per large 835, read twice).
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SegmentError(f"{segment.tag}{index:02d} is not a CCYYMMDD date: {value!r}", segment) from None


def date_or_range(segment: Segment, qualifier_index: int, value_index: int) -> tuple[dt.date, dt.date]:
    """A DTP/DTM-style date (D8) or date range (RD8, CCYYMMDD-CCYYMMDD)."""
    qualifier = segment[qualifier_index]
    value = segment[value_index].strip()
    if qualifier == "RD8" or "-" in value:
        first, _, last = value.partition("-")
        return date8(segment, value_index, first), date8(segment, value_index, last or first)
    day = date8(segment, value_index)
    return day, day
