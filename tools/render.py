"""Formatting shared by the tools' renderers: money, quotes, passages, hidden patient fields."""

from __future__ import annotations

import re
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


_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


def quoted_lines(text: str, limit: int = 420) -> list[str]:
    """A passage for a quote block: its list items stay one per line (a playbook's checklist must not run
    together), other lines are joined into paragraphs, and the whole is cut at ``limit`` characters."""
    blocks: list[str] = []
    for raw in str(text).splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        if _BULLET.match(line) or not blocks or (_BULLET.match(blocks[-1]) and not raw[:1].isspace()):
            blocks.append(line)
        else:
            blocks[-1] = f"{blocks[-1]} {line}"
    kept: list[str] = []
    left = limit
    for block in blocks:
        if kept and left < 40:  # no room for a useful part of the next one: say there is more
            kept[-1] = kept[-1].rstrip("…") + " …"
            break
        kept.append(quote(block, max(left, 40)))
        left -= len(kept[-1]) + 1
    return kept or [""]


def passage_line(passage: Mapping[str, Any], cite: Mapping[str, int]) -> str:
    """The passage as a quote block (one "> " line per paragraph or list item), cited and caveated."""
    number = cite.get(passage.get("passage_id", ""))
    marker = f" [{number}]" if number else ""
    caveat = " (sample policy)" if passage.get("sample") else ""
    note = f" _{passage['note']}_" if passage.get("note") else ""
    lines = quoted_lines(passage.get("text", ""))
    lines[-1] = f"{lines[-1]}{marker}{caveat}{note}"
    return "\n".join(f"> {line}" for line in lines)
