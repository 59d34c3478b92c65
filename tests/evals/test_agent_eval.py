"""The agent eval: its dataset, and a small run through the real agent service on a seeded practice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.types import AgentReply, Channel, ToolCallRecord
from evals.agent_eval import _carries, _leaked, _PatientFacts, load_dataset, run_agent_eval
from knowledge.errors import InvalidInput
from knowledge.practice.models import Role
from tests.assistant.conftest import Practice, full_service, practice

__all__ = ["full_service", "practice"]  # the fixtures, shared with tests/assistant

# Cases whose facts hold on the small seeded practice too: claim 1042 is always a CO-50/N115 denial, and
# codes, code checks and policies do not depend on the practice.
SMALL_RUN = [
    "denial-1042",
    "denial-1042-shorthand",
    "channel-denial-1042",
    "follow-1042",
    "follow-before",
    "unmapped-denial",
    "unmapped-status",
    "unmapped-code",
    "worklist-all",
    "x12-exceptions",
    "code-e1165-nodot",
    "code-pos-02",
    "carc-co50-n115",
    "search-t2dm",
    "check-excludes",
    "kn-aetna-tfl",
    "help-hi",
    # held out when written (stop 11): phrasings the rules had not seen
    "h-denial-1042-came-back",
    "h-x12-fail",
    "h-276-inquiry",
    "h-adj-pr1",
    "h-lookup-g0439",
    "h-check-combo",
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the agent loop itself is tested on both databases in tests/assistant."""
    return f"sqlite:///{tmp_path / 'practice.db'}"


@pytest.fixture
def eval_service(full_service: AgentService) -> AgentService:
    """Every tool on the small seeded practice (the suite's `full_service`), here on SQLite only."""
    return full_service


def test_dataset_has_enough_cases_and_covers_every_tool() -> None:
    cases = load_dataset()
    assert len(cases) >= 150
    assert len({case["id"] for case in cases}) == len(cases)
    expected = {tool for case in cases for tool in case["expect_tools"]}
    assert expected == {spec.name for spec in default_tool_specs()}
    assert {case["channel"] for case in cases} == {"web", "slack_channel", "slack_dm"}
    assert any(case["role"] is None for case in cases)
    assert any(case.get("thread") for case in cases)
    assert any(case["expect_pending"] for case in cases)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"id": "x", "text": "hi", "expect_facts": [], "expect_citation": false}', "missing 'expect_tools'"),
        (
            '{"id": "x", "text": "hi", "expect_tools": ["fax_claim"], "expect_facts": [], "expect_citation": false}',
            "unknown tool",
        ),
        (
            '{"id": "x", "text": "hi", "role": "nurse", "expect_tools": [], "expect_facts": [], '
            '"expect_citation": false}',
            "role 'nurse'",
        ),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, bad_line: str, message: str) -> None:
    good = '{"id": "ok", "text": "hi", "expect_tools": [], "expect_facts": [], "expect_citation": false}'
    dataset = tmp_path / "requests.jsonl"
    dataset.write_text(f"{good}\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_dataset(dataset)
    assert "line 3" in caught.value.message and message in caught.value.message


def test_a_small_run_routes_every_case_and_leaks_nothing(practice: Practice, eval_service: AgentService) -> None:
    by_id = {case["id"]: case for case in load_dataset()}
    cases: list[dict[str, Any]] = [by_id[name] for name in SMALL_RUN]
    users = {role.value: user_id for role, user_id in practice.users.items()}
    report = run_agent_eval(eval_service, practice_id=practice.practice_id, users=users, cases=cases)
    assert report["cases"] == len(SMALL_RUN)
    assert report["routing_accuracy"] == 1.0, report["failures"]
    assert report["code_validity_rate"] == 1.0 and report["code_tokens"] > 0, report["invalid_codes"]
    assert report["channel_cases"] == 1 and report["phi_leaks"] == 0
    assert report["citation_rate"] == 1.0
    assert report["writes_posted"] == 0
    assert report["latency_ms_p50"] > 0


def test_the_leak_check_sees_patient_fields_where_they_are_shown(
    practice: Practice, eval_service: AgentService
) -> None:
    """On the web a biller sees the patient: the same check that finds no leak in channels finds them here."""
    biller = practice.requester(Role.BILLER)
    reply = eval_service.ask("status of claim 1042", requester=biller)
    fields = _PatientFacts(eval_service, practice.practice_id).fields("1042")
    assert len(fields) >= 4  # first and last name, birth date, member id
    assert _leaked(reply.answer, fields)
    channel = practice.requester(Role.BILLER, Channel.SLACK_CHANNEL)
    assert not _leaked(eval_service.ask("status of claim 1042", requester=channel).answer, fields)


def test_an_expected_argument_is_carried_as_the_same_value() -> None:
    """ "40" carries the expected "40.00"; a 276 for one claim carries it in claim_numbers; another amount or
    claim does not."""

    def reply(name: str, **arguments: Any) -> AgentReply:
        call = ToolCallRecord(name=name, arguments=arguments, outcome="ok", duration_ms=1)
        return AgentReply(thread_id="t", message_id="m", answer="", tool_calls=[call])

    payment = reply("post_patient_payment", claim_number="1050", amount="40")
    assert _carries(payment, {"claim_number": "1050", "amount": "40.00"})
    assert not _carries(payment, {"amount": "40.50"})
    status = reply("claim_status_request", claim_numbers=["2975"])
    assert _carries(status, {"claim_number": "2975"})
    assert not _carries(status, {"claim_number": "2976"})
