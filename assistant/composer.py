"""Writing answers from tool results (the offline planner's voice).

Every fact and code in an answer is taken from a tool result of the turn, through the renderer of the
tool's descriptor; citations are numbered the same way the service numbers them (`citations.py`).
Patient fields that a channel may not show arrive here already hidden and are left out. A message that
asked several things gets every part answered, in the order asked, and any question the planner still
has comes last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.citations import citations_from_results
from tools.descriptor import ToolDescriptor
from tools.render import money, quote, shown

__all__ = ["compose", "money", "render_generic", "shown"]


def _error(data: Mapping[str, Any]) -> str | None:
    if "error" in data:
        return str(data.get("message") or data["error"])
    return None


def render_pending(data: Mapping[str, Any]) -> str:
    action = data["pending_action"]
    roles = ", ".join(action.get("required_roles", []))
    return (
        f"**Please confirm:** {action['summary']}\n\nNothing is written until someone confirms"
        + (f" (allowed: {roles})" if roles else "")
        + f". Action id: `{action['id']}`."
    )


def render_generic(data: Mapping[str, Any], cite: Mapping[str, int]) -> str:
    """A readable rendering of a tool result with no renderer: its scalar fields, and lists as bullets."""
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, list):
            if not value:
                continue
            lines.append(f"{key.replace('_', ' ').capitalize()}:")
            for item in value[:10]:
                if isinstance(item, dict):
                    parts = [f"{k}: {v}" for k, v in item.items() if not isinstance(v, dict | list) and shown(v)]
                    marker = f" [{cite[item['passage_id']]}]" if item.get("passage_id") in cite else ""
                    lines.append("- " + quote("; ".join(parts), 400) + marker)
                else:
                    lines.append(f"- {item}")
            if len(value) > 10:
                lines.append(f"- and {len(value) - 10} more")
        elif isinstance(value, dict):
            continue
        elif shown(value):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return "\n".join(lines) or "Done."


_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s")


def paragraphs_after_lists(text: str) -> str:
    """A blank line between a list and the plain line after it. Markdown reads an unindented line right after
    a bullet as more of that bullet ("...27 days left) Deadline passed on 29 claims"), so a renderer's summary
    line after its list would run into the last item."""
    out: list[str] = []
    in_list = False
    for line in text.split("\n"):
        if not line.strip():
            in_list = False
        elif _LIST_ITEM.match(line):
            in_list = True
        elif not line[0].isspace():  # an indented line continues the item
            if in_list and not line.startswith((">", "#", "|")):
                out.append("")
            in_list = False
        out.append(line)
    return "\n".join(out)


def compose(
    results: list[tuple[str, dict[str, Any]]],
    descriptors: Sequence[ToolDescriptor],
    *,
    questions: Sequence[str] = (),
) -> str:
    """The answer for a finished turn."""
    renderers = {d.name: d.render for d in descriptors}
    citations = citations_from_results(results)
    cite = {c.passage_id: c.number for c in citations if c.passage_id}
    parts: list[str] = []
    for name, data in results:
        if (message := _error(data)) is not None:
            parts.append(message)
        elif "pending_action" in data:
            parts.append(render_pending(data))
        else:
            parts.append(paragraphs_after_lists((renderers.get(name) or render_generic)(data, cite)))
    parts += list(questions)
    answer = "\n\n".join(part for part in parts if part)
    if citations:
        answer += "\n\nSources:\n" + "\n".join(
            f"[{c.number}] {c.title}" + (f" — {c.section}" if c.section else "") for c in citations
        )
    return answer
