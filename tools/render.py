"""Formatting shared by the tools' renderers: money, quotes, passages, hidden patient fields."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

#: What a patient field reads where the channel may not show it (set by the server's PHI guard).
HIDDEN = "[hidden here]"


def money(value: Any) -> str:
    """Dollars and cents for display, from the exact amount (never through a float)."""
    try:
        return f"${Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


def shown(value: Any) -> bool:
    return value not in (None, "", HIDDEN, [], {})


def quote(text: str, limit: int = 420) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def passage_line(passage: Mapping[str, Any], cite: Mapping[str, int]) -> str:
    number = cite.get(passage.get("passage_id", ""))
    marker = f" [{number}]" if number else ""
    caveat = " (sample policy)" if passage.get("sample") else ""
    note = f" _{passage['note']}_" if passage.get("note") else ""
    return f"> {quote(passage.get('text', ''))}{marker}{caveat}{note}"
