"""Slack's side of the page: the agent's markdown as Block Kit, and Slack's text back as plain text.

Slack's `mrkdwn` is not markdown: bold is `*x*`, italics `_x_`, links `<url|text>`, and `&`, `<`, `>` must
be escaped in every text object (Slack turns `&amp;`, `&lt;`, `&gt;` back into characters; any other
entity would show raw). A section's text holds at most 3,000 characters and a message at most 50 blocks,
so long answers are cut between paragraphs, then lines, then words, never inside a link, an entity or a
code block. Nothing here talks to Slack or to the database: these are pure functions with unit tests.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from assistant.registry import default_tool_specs
from assistant.types import ActionResult, AgentReply, Card, Citation, PendingActionView

SECTION_LIMIT = 3000  # characters in one section's text object
MESSAGE_BLOCK_LIMIT = 50  # blocks in one message
FALLBACK_LIMIT = 3000  # the notification text that goes with the blocks
MAX_CODES_SHOWN = 12

CONFIRM_PREFIX = "confirm:"
CANCEL_PREFIX = "cancel:"
FEEDBACK_UP = "feedback:up"
FEEDBACK_DOWN = "feedback:down"

_FENCE = "```"
_PLACEHOLDER = "\x00{}\x00"
_PLACEHOLDER_RE = re.compile("\x00(\\d+)\x00")
_LINK_RE = re.compile(r"\[([^\]\n]+)\]\(([^()\s]+(?:\([^()\s]*\))?[^()\s]*)\)")
_AUTOLINK_RE = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_CODE_SPAN_RE = re.compile(r"`[^`\n]+`")
_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC_RE = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BULLET_RE = re.compile(r"^(\s*)[-*+]\s+")
_BOLD_MARK = "\x01"


@dataclass
class SlackMessage:
    """One message: the blocks, and the plain text Slack shows in notifications and old clients."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


# -- text ------------------------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Slack's three control characters, escaped (the only entities Slack decodes)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_url(url: str, base_url: str | None) -> str | None:
    url = html.unescape(url.strip())
    if url.startswith(("/", "#")) and base_url:
        url = base_url.rstrip("/") + ("/" if url.startswith("#") else "") + url
    if not url.startswith(("http://", "https://", "mailto:")):
        return None
    # `<`, `>`, `|` and spaces would end or split the link token; percent-encode them.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%~.-_")


def link(url: str, label: str, *, base_url: str | None = None) -> str:
    """`<url|label>`, or the escaped label alone when the URL is not one Slack can open."""
    safe = _safe_url(url, base_url)
    shown = escape(" ".join(label.split())).replace("|", "¦")
    if safe is None:
        return shown
    return f"<{safe}|{shown}>" if shown else f"<{safe}>"


def _inline(text: str, base_url: str | None) -> str:
    """One line outside code blocks: links and code spans kept whole, the rest escaped and restyled."""
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return _PLACEHOLDER.format(len(kept) - 1)

    text = _CODE_SPAN_RE.sub(lambda m: keep(escape(m.group(0))), text)
    text = _LINK_RE.sub(lambda m: keep(link(m.group(2), _strip_emphasis(m.group(1)), base_url=base_url)), text)
    text = _AUTOLINK_RE.sub(lambda m: keep(link(m.group(1), m.group(1))), text)
    text = escape(text)
    text = _BOLD_RE.sub(lambda m: _BOLD_MARK + (m.group(1) or m.group(2)) + _BOLD_MARK, text)
    text = _ITALIC_RE.sub(r"_\1_", text)
    text = _STRIKE_RE.sub(r"~\1~", text)
    text = text.replace(_BOLD_MARK, "*")
    return _PLACEHOLDER_RE.sub(lambda m: kept[int(m.group(1))], text)


def _strip_emphasis(text: str) -> str:
    return re.sub(r"(\*\*|__|\*|`)", "", text)


def to_mrkdwn(markdown: str, *, base_url: str | None = None) -> str:
    """The agent's markdown as Slack mrkdwn.

    HTML entities that came with quoted documents are decoded first, so `&amp;` shows as `&`, not as
    `&amp;amp;`. Relative links (`/#passage/...`) are made absolute with `base_url`.
    """
    lines: list[str] = []
    in_code = False
    for line in html.unescape(markdown.replace("\r\n", "\n")).split("\n"):
        if line.strip().startswith(_FENCE):
            in_code = not in_code
            lines.append(_FENCE + escape(line.strip()[3:]) if in_code else _FENCE)
            continue
        if in_code:
            lines.append(escape(line))
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            lines.append("*" + _inline(_strip_emphasis(heading.group(1)), base_url) + "*")
            continue
        bullet = _BULLET_RE.match(line)
        if bullet:
            line = bullet.group(1) + "• " + line[bullet.end() :]
        lines.append(_inline(line, base_url))
    if in_code:
        lines.append(_FENCE)
    return "\n".join(lines).strip()


def plain_text(text: str, limit: int = FALLBACK_LIMIT) -> str:
    """Mrkdwn reduced to one line for notifications: links as their labels, at most `limit` characters
    before escaping (Slack reads this text as mrkdwn too, so `&`, `<`, `>` stay escaped)."""
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<([^>]+)>", r"\1", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return escape(text)


def from_slack(text: str, *, bot_user_id: str | None = None) -> str:
    """What a person typed, from Slack's encoding: mentions of the bot removed, links as their text."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    text = re.sub(r"<@[A-Z0-9]+(?:\|([^>]+))?>", lambda m: "@" + (m.group(1) or "someone"), text)
    text = re.sub(r"<#[A-Z0-9]+(?:\|([^>]*))?>", lambda m: "#" + (m.group(1) or "channel"), text)
    text = re.sub(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<(?:mailto:)?([^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<([^>]+)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


# -- splitting ---------------------------------------------------------------------------------------------
def _cut_points(text: str) -> list[int]:
    """Indexes where `text` may be cut: spaces that are not inside a `<...>` token."""
    points: list[int] = []
    depth = 0
    for index, char in enumerate(text):
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif char == " " and depth == 0:
            points.append(index)
    return points


def _hard_cut(text: str, limit: int) -> tuple[str, str]:
    """Cut a word longer than the limit, but never inside an entity or a link token."""
    cut = limit
    amp = text.rfind("&", max(0, cut - 6), cut)
    if amp != -1 and ";" in text[amp : cut + 6] and text.find(";", amp) >= cut:
        cut = amp
    opening = text.rfind("<", 0, cut)
    if opening != -1 and text.find(">", opening) >= cut and opening > 0:
        cut = opening
    return text[:cut], text[cut:]


def _pieces(text: str, limit: int) -> list[str]:
    """`text` as pieces of at most `limit` characters, cut at the largest unit that fits."""
    if len(text) <= limit:
        return [text]
    for separator in ("\n\n", "\n"):
        if separator in text:
            return _pack(text.split(separator), separator, limit)
    points = [p for p in _cut_points(text) if 0 < p <= limit]
    if points:
        head, tail = text[: points[-1]], text[points[-1] + 1 :]
    else:
        head, tail = _hard_cut(text, limit)
        if not head:  # a single link longer than a section: keep its label only
            match = re.match(r"<[^|>]*\|([^>]*)>", tail)
            head, tail = (match.group(1)[:limit], tail[match.end() :]) if match else (tail[:limit], tail[limit:])
    return [head, *_pieces(tail.lstrip(" "), limit)] if tail else [head]


def _pack(parts: list[str], separator: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for part in parts:
        for piece in _pieces(part, limit):
            candidate = f"{current}{separator}{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Mrkdwn in chunks of at most `limit` characters; a code block cut in two is closed and reopened."""
    chunks = [c for c in _pack([text], "\n", limit - 2 * (len(_FENCE) + 1)) if c.strip()]
    balanced: list[str] = []
    reopen = False
    for chunk in chunks:
        if reopen:
            chunk = _FENCE + "\n" + chunk
        reopen = chunk.count(_FENCE) % 2 == 1
        if reopen:
            chunk = chunk + "\n" + _FENCE
        balanced.append(chunk)
    return balanced


def sections(mrkdwn: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in split_text(mrkdwn)]


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": split_text(mrkdwn)[0]}]}


def messages(
    blocks: list[dict[str, Any]], fallback: str, *, tail: list[dict[str, Any]] | None = None
) -> list[SlackMessage]:
    """Blocks as messages of at most 50 blocks; `tail` (e.g. buttons) goes at the end of the last one."""
    tail = tail or []
    room = MESSAGE_BLOCK_LIMIT
    result: list[SlackMessage] = []
    remaining = list(blocks)
    while remaining or not result:
        last = len(remaining) + len(tail) <= room
        take = remaining if last else remaining[:room]
        remaining = [] if last else remaining[room:]
        shown = take + (tail if last else [])
        text = fallback if not result else plain_text(_first_text(shown) or fallback)
        result.append(SlackMessage(text=text, blocks=shown))
    return result


def _first_text(blocks: list[dict[str, Any]]) -> str:
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            return str(text["text"])
    return ""


# -- what the assistant says ------------------------------------------------------------------------------
def passage_url(web_base_url: str, passage_id: str) -> str:
    return f"{web_base_url.rstrip('/')}/#passage/{quote(passage_id, safe='')}"


def thread_url(web_base_url: str, thread_id: str) -> str:
    return f"{web_base_url.rstrip('/')}/#thread/{quote(thread_id, safe='')}"


def letter_url(web_base_url: str, letter_id: int, fmt: str) -> str:
    """The web download of an appeal letter: served only to signed-in users of the letter's practice."""
    return f"{web_base_url.rstrip('/')}/api/appeals/{letter_id}/download?format={quote(fmt, safe='')}"


def _letter_lines(cards: list[Card], web_base_url: str) -> list[str]:
    """Download links for the appeal letters of a reply (the letter itself may not be shown here)."""
    lines = []
    for card in cards:
        letter_id = card.data.get("letter_id")
        if card.kind != "letter" or not isinstance(letter_id, int) or isinstance(letter_id, bool):
            continue
        formats = [str(f) for f in card.data.get("downloads") or ("docx", "pdf")]
        links = " · ".join(link(letter_url(web_base_url, letter_id, f), f"Download {f.upper()}") for f in formats)
        lines.append(f"Appeal letter #{letter_id} (sign in on the web): {links}")
    return lines


def citation_line(citation: Citation, web_base_url: str) -> str:
    label = f"[{citation.number}] {citation.title}" + (f" — {citation.section}" if citation.section else "")
    if citation.passage_id:
        return link(passage_url(web_base_url, citation.passage_id), label)
    if citation.url:
        return link(citation.url, label)
    return escape(label)


def _code_lines(cards: list[Card]) -> list[str]:
    lines: list[str] = []

    def add(code: Any, system: Any, description: Any) -> None:
        if not code:
            return
        text = " ".join(str(description or "").split())
        text = text if len(text) <= 200 else text[:199].rstrip() + "…"
        label = f" ({escape(str(system))})" if system else ""
        lines.append(f"• *{escape(str(code))}*{label}: {escape(text)}" if text else f"• *{escape(str(code))}*{label}")

    for card in cards:
        data = card.data
        if card.kind == "code" and data.get("valid", True):
            add(data.get("code"), data.get("system_name") or data.get("system"), data.get("description"))
        elif card.kind == "codes":
            for hit in data.get("hits", [])[:5]:
                add(hit.get("code"), hit.get("system"), hit.get("description"))
        elif card.kind == "adjustment_codes":
            for item in data.get("items", []):
                add(item.get("code"), str(item.get("kind", "")).upper(), item.get("description"))
    unique = list(dict.fromkeys(lines))
    return unique[:MAX_CODES_SHOWN]


#: Cards that hold claim data (from the tools' descriptors): a channel reply with one is for practice users.
CLAIM_CARD_KINDS = frozenset(
    spec.card for spec in default_tool_specs() if spec.card is not None and spec.access in {"claims", "write"}
)


def reply_messages(
    reply: AgentReply,
    *,
    web_base_url: str,
    details_hidden: bool = False,
    feedback: bool = True,
) -> list[SlackMessage]:
    """An answer as one or more messages: the answer, decoded codes, citations, a details link, 👍/👎.

    `details_hidden`: patient fields were kept out of this channel; the reply links to the web chat's
    thread, where the person can see them.
    """
    answer = to_mrkdwn(reply.answer, base_url=web_base_url) or "_No answer._"
    blocks = sections(answer)
    codes = _code_lines(reply.cards)
    if codes:
        blocks.append({"type": "divider"})
        blocks.extend(sections("*Codes*\n" + "\n".join(codes)))
    if reply.citations:
        lines = [citation_line(citation, web_base_url) for citation in reply.citations]
        blocks.extend(sections("*Sources*\n" + "\n".join(lines)))
    for line in _letter_lines(reply.cards, web_base_url):
        blocks.append(context(line))
    if details_hidden:
        blocks.append(
            context(
                "Patient details are not shown in this channel. "
                + link(thread_url(web_base_url, reply.thread_id), "Open this conversation in the web chat")
                + " to see them."
            )
        )
    tail = [feedback_block(reply.thread_id, reply.message_id)] if feedback else []
    return messages(blocks, plain_text(answer), tail=tail)


def feedback_value(thread_id: str, message_id: str) -> str:
    return json.dumps({"t": thread_id, "m": message_id}, separators=(",", ":"))


def parse_feedback_value(value: str) -> tuple[str, str | None]:
    data = json.loads(value)
    return str(data["t"]), (str(data["m"]) if data.get("m") else None)


def feedback_block(thread_id: str, message_id: str) -> dict[str, Any]:
    value = feedback_value(thread_id, message_id)
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {
                "type": "button",
                "action_id": FEEDBACK_UP,
                "text": {"type": "plain_text", "text": ":+1:", "emoji": True},
                "value": value,
                "accessibility_label": "Helpful",
            },
            {
                "type": "button",
                "action_id": FEEDBACK_DOWN,
                "text": {"type": "plain_text", "text": ":-1:", "emoji": True},
                "value": value,
                "accessibility_label": "Not helpful",
            },
        ],
    }


def confirmation_message(pending: PendingActionView) -> SlackMessage:
    """Confirm / Cancel buttons for a pending write; the action ids carry the pending action's id."""
    who = ", ".join(role.replace("_", " ") for role in pending.required_roles)
    summary = escape(pending.summary)
    blocks: list[dict[str, Any]] = [
        *sections(f"*Waiting for your confirmation*\n{summary}"),
        {
            "type": "actions",
            "block_id": f"decide:{pending.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"{CONFIRM_PREFIX}{pending.id}",
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "style": "primary",
                    "value": pending.id,
                },
                {
                    "type": "button",
                    "action_id": f"{CANCEL_PREFIX}{pending.id}",
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "value": pending.id,
                },
            ],
        },
    ]
    if who:
        blocks.append(context(f"May be confirmed by: {escape(who)}."))
    return SlackMessage(text=plain_text(f"Confirm? {pending.summary}"), blocks=blocks)


def decision_message(result: ActionResult) -> SlackMessage:
    """What became of a pending write; replaces the buttons."""
    icon = {"confirmed": ":white_check_mark:", "cancelled": ":x:", "failed": ":warning:"}.get(result.status, "")
    text = f"{icon} {escape(result.message)}".strip()
    return SlackMessage(text=plain_text(result.message), blocks=sections(text))


def notice(text: str) -> SlackMessage:
    """A short message in plain words (progress, refusals, errors)."""
    return SlackMessage(text=plain_text(text), blocks=sections(escape(text)))
