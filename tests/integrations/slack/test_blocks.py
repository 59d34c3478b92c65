"""Block Kit formatting: mrkdwn conversion, escaping, splitting, and the messages built from a reply."""

from __future__ import annotations

import json
import re

import pytest

from assistant.types import ActionResult, AgentReply, Card, Citation, PendingActionView
from integrations.slack import blocks
from integrations.slack.app import command_question
from knowledge.errors import InvalidInput

WEB = "https://chat.example.test"


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**Claim 1042**: denied", "*Claim 1042*: denied"),
        ("__bold__ and *italic* and ~~gone~~", "*bold* and _italic_ and ~gone~"),
        ("AT&T <script> 5 > 3", "AT&amp;T &lt;script&gt; 5 &gt; 3"),
        ("Tom &amp; Jerry &nbsp;&#39;x&#39;", "Tom &amp; Jerry \xa0'x'"),  # entities decoded, then escaped once
        ("see [the policy](https://ex.org/a?b=1&c=2)", "see <https://ex.org/a?b=1&c=2|the policy>"),
        ("[a|b > c](https://ex.org/x|y>z)", "<https://ex.org/x%7Cy%3Ez|a¦b &gt; c>"),
        ("[**bold** label](https://ex.org)", "<https://ex.org|bold label>"),
        ("[bad](javascript:alert(1))", "bad"),
        ("[passage](/#passage/p1)", f"<{WEB}/#passage/p1|passage>"),
        ("# Heading **x**", "*Heading x*"),
        ("- one\n* two\n  + three", "• one\n• two\n  • three"),
        ("`a < b` and **c**", "`a &lt; b` and *c*"),
        ("```\nif a < b: **x**\n```", "```\nif a &lt; b: **x**\n```"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("CO-45 [1] and E11.65", "CO-45 [1] and E11.65"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert blocks.to_mrkdwn(markdown, base_url=WEB) == mrkdwn


def test_text_from_slack_is_plain() -> None:
    text = "<@U0BOT> why was <https://x.org|claim> 1042 denied &amp; what about <@U1|ann> in <#C1|billing>? &lt;3"
    assert blocks.from_slack(text, bot_user_id="U0BOT") == "why was claim 1042 denied & what about @ann in #billing? <3"


def _no_broken_tokens(chunk: str) -> None:
    assert chunk.count("<") == chunk.count(">"), chunk[-80:]
    assert not re.search(r"&(?!amp;|lt;|gt;)", chunk), "a raw or cut entity"


def test_long_text_is_split_cleanly() -> None:
    paragraph = " ".join(f"word{i} &amp; <https://ex.org/{i}|link {i}>" for i in range(60))
    text = "\n\n".join([paragraph] * 8)
    chunks = blocks.split_text(text)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= blocks.SECTION_LIMIT
        _no_broken_tokens(chunk)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_one_huge_word_and_code_blocks_are_split_safely() -> None:
    word = "x" * 2990 + "&amp;" + "y" * 3000
    for chunk in blocks.split_text(word):
        assert len(chunk) <= blocks.SECTION_LIMIT
        _no_broken_tokens(chunk)
    code = "```\n" + "\n".join(f"line {i} " + "z" * 80 for i in range(80)) + "\n```"
    chunks = blocks.split_text(code)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.startswith("```") and chunk.endswith("```") and len(chunk) <= blocks.SECTION_LIMIT


def _reply(answer: str, **extra: object) -> AgentReply:
    return AgentReply(thread_id="slack:T1:C1:1.2", message_id="m1", answer=answer, **extra)


def test_reply_has_answer_codes_citations_and_feedback() -> None:
    reply = _reply(
        "**E11.65** is billable [1].",
        cards=[
            Card(kind="code", data={"code": "E11.65", "system_name": "ICD-10-CM", "description": "Type 2 <dm>"}),
            Card(
                kind="adjustment_codes", data={"items": [{"kind": "carc", "code": "45", "description": "Fee & rate"}]}
            ),
        ],
        citations=[
            Citation(number=1, title="Aetna policy", section="Timely filing", passage_id="doc 1#p2"),
            Citation(number=2, title="CMS manual", url="https://cms.gov/x?a=1"),
        ],
    )
    [message] = blocks.reply_messages(reply, web_base_url=WEB)
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert texts[0] == "*E11.65* is billable [1]."
    assert "• *E11.65* (ICD-10-CM): Type 2 &lt;dm&gt;" in texts[1] and "• *45* (CARC): Fee &amp; rate" in texts[1]
    assert f"<{WEB}/#passage/doc%201%23p2|[1] Aetna policy — Timely filing>" in texts[2]
    assert "<https://cms.gov/x?a=1|[2] CMS manual>" in texts[2]
    feedback = message.blocks[-1]
    assert [e["action_id"] for e in feedback["elements"]] == ["feedback:up", "feedback:down"]
    assert blocks.parse_feedback_value(feedback["elements"][0]["value"]) == ("slack:T1:C1:1.2", "m1")
    assert message.text == "*E11.65* is billable [1]."  # the notification text is mrkdwn too


def test_long_replies_become_several_messages_of_at_most_50_blocks() -> None:
    answer = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 240 for i in range(60))
    messages = blocks.reply_messages(_reply(answer), web_base_url=WEB, details_hidden=True)
    assert len(messages) >= 2
    for message in messages:
        assert 0 < len(message.blocks) <= blocks.MESSAGE_BLOCK_LIMIT
        assert len(message.text) <= blocks.FALLBACK_LIMIT + 20
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= blocks.SECTION_LIMIT
    assert messages[-1].blocks[-1]["block_id"] == "feedback"  # the buttons once, at the very end
    assert sum(b.get("block_id") == "feedback" for m in messages for b in m.blocks) == 1
    assert "#thread/slack%3AT1%3AC1%3A1.2|" in json.dumps(messages[-1].blocks)


def test_confirmation_and_decision_messages() -> None:
    pending = PendingActionView(
        id="abc123",
        tool="post_adjustment",
        summary="Adjust $1.00 <x>",
        arguments={},
        required_roles=["admin", "biller"],
    )
    message = blocks.confirmation_message(pending)
    actions = next(b for b in message.blocks if b["type"] == "actions")
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("confirm:abc123", "abc123"),
        ("cancel:abc123", "abc123"),
    ]
    assert "Adjust $1.00 &lt;x&gt;" in json.dumps(message.blocks)
    done = blocks.decision_message(ActionResult(action_id="abc123", status="confirmed", message="Done: posted"))
    assert done.blocks[0]["text"]["text"] == ":white_check_mark: Done: posted"


@pytest.mark.parametrize(
    ("command", "text", "question"),
    [
        ("/claim", "1042", "status of claim 1042"),
        ("/claim", "#1042", "status of claim 1042"),
        ("/code", "E11.65", "what is E11.65"),
        ("/code", "CO-45 N115", "CO-45 N115"),
        ("/code", "type 2 diabetes", "codes for type 2 diabetes"),
        ("/denials", "", "denial worklist"),
        ("/denials", "Aetna", "denial worklist for Aetna"),
    ],
)
def test_slash_commands_become_questions(command: str, text: str, question: str) -> None:
    assert command_question(command, text) == question


@pytest.mark.parametrize(("command", "text"), [("/claim", ""), ("/claim", "10 42"), ("/code", "  ")])
def test_bad_slash_commands_get_the_usage(command: str, text: str) -> None:
    with pytest.raises(InvalidInput, match="Usage"):
        command_question(command, text)
