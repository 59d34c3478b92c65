"""The agent, end to end: tool routing, facts, code validity, citations, PHI in channels, and turn latency.

The dataset (`evals/agent/requests.jsonl`) holds billing-office requests written the way people write
them (typos, "pt", "dos", "eob", "w/o"), one JSON object a line::

    {"id": "denial-1042", "text": "why was clm 1042 denied??", "role": "biller", "channel": "web",
     "expect_tools": ["explain_denial"], "expect_facts": ["CO-50", "N115"], "expect_citation": true,
     "thread": "optional: cases sharing it run in one conversation, in file order",
     "expect_pending": false, "notes": "..."}

`role` is biller, coder, front_desk, admin or null (a user not linked to the practice); `channel` is web,
slack_channel (patient fields must never appear) or slack_dm. Facts are true for the demo practice made
with ``--as-of 2026-11-22`` and the shipped code sets and policies.

``run_agent_eval`` asks every case through a real `AgentService` and reports routing accuracy (the set of
tools called equals ``expect_tools``), fact recall, code validity (every code-shaped token of every answer is
a real code of the loaded code sets), citation rate, PHI leaks in channel replies, proposals that were
posted instead of waiting for a confirmation, and turn latency. ``python -m evals.agent_eval --home DIR``
runs it on a HOME made by ``billing-assistant init --demo --as-of 2026-11-22``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.grounding import codes_in
from assistant.phi import HIDDEN
from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.types import AgentReply, Channel, Requester
from knowledge.codesets import CodeSets, load_codesets, lookup
from knowledge.errors import AssistantError, InvalidInput
from knowledge.practice.models import Claim, Coverage, Patient, Role

DEFAULT_DATASET = Path(__file__).resolve().parent / "agent" / "requests.jsonl"
#: The conversation set (issue 13): written before the conversation engine, by people who had not read it.
CONVERSATION_DATASET = Path(__file__).resolve().parent / "conversation"

ROLES = {role.value for role in Role}
CHANNELS = {Channel.WEB.value, Channel.SLACK_CHANNEL.value, Channel.SLACK_DM.value}
REQUIRED: dict[str, type] = {
    "id": str,
    "text": str,
    "expect_tools": list,
    "expect_facts": list,
    "expect_citation": bool,
}
OPTIONAL: dict[str, tuple[type, ...]] = {
    "role": (str, type(None)),
    "channel": (str,),
    "thread": (str,),
    "notes": (str,),
    "expect_pending": (bool,),
    "category": (str,),
    "split": (str,),
    "expect_args": (dict,),
    "expect_honest": (bool,),
}
#: What kind of request a case is; the report gives every figure per category.
CATEGORIES = {"single", "follow_up", "out_of_scope", "chitchat", "multi_part"}
#: `dev` cases may be looked at while improving the assistant; `holdout` cases never are.
SPLITS = {"dev", "holdout"}
WRITE_TOOLS = {"post_patient_payment", "post_adjustment", "import_remittance"}
_GROUP_CODE = re.compile(r"^(CO|PR|OA|PI)-([A-Z]?[0-9]{1,3})$")
_CLAIM_MENTION = re.compile(r"\b(?:claims?|clm|#)\s*#?\s*(\d{4,12})\b", re.IGNORECASE)


def _tool_names() -> set[str]:
    return {spec.name for spec in default_tool_specs()}


def _check_case(raw: Any, tools: set[str]) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(raw, dict):
        return "not a JSON object"
    for key, kind in REQUIRED.items():
        if key not in raw:
            return f"missing {key!r}"
        if not isinstance(raw[key], kind):
            return f"{key!r} must be a {kind.__name__}"
    for key, kinds in OPTIONAL.items():
        if key in raw and not isinstance(raw[key], kinds):
            return f"{key!r} has the wrong type"
    unknown = set(raw) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}"
    if not raw["id"].strip() or not raw["text"].strip():
        return "empty 'id' or 'text'"
    if raw.get("role") is not None and raw["role"] not in ROLES:
        return f"role {raw['role']!r} is not one of {', '.join(sorted(ROLES))} or null"
    if raw.get("channel", "web") not in CHANNELS:
        return f"channel {raw['channel']!r} is not one of {', '.join(sorted(CHANNELS))}"
    if raw.get("category", "single") not in CATEGORIES:
        return f"category {raw['category']!r} is not one of {', '.join(sorted(CATEGORIES))}"
    if raw.get("split", "dev") not in SPLITS:
        return f"split {raw['split']!r} is not one of {', '.join(sorted(SPLITS))}"
    if raw.get("expect_honest") and raw["expect_tools"]:
        return "'expect_honest' cases expect no tool call ('expect_tools' must be [])"
    bad_tools = [t for t in raw["expect_tools"] if t not in tools]
    if bad_tools:
        return f"unknown tool(s) in 'expect_tools': {', '.join(map(str, bad_tools))}"
    if not all(isinstance(fact, str) and fact.strip() for fact in raw["expect_facts"]):
        return "'expect_facts' must be non-empty strings"
    return None


def load_dataset(path: Path | None = None) -> list[dict[str, Any]]:
    """The cases of a dataset; raises InvalidInput naming the first bad line (1-based)."""
    source = path or DEFAULT_DATASET
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    tools = _tool_names()
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    lines = [(file, n, line) for file in files for n, line in enumerate(file.read_text("utf-8").splitlines(), start=1)]
    for file, number, line in lines:
        source = file
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{source.name} line {number}: not valid JSON ({exc.msg})") from None
        problem = _check_case(raw, tools)
        if problem is None and raw["id"] in seen:
            problem = f"duplicate id {raw['id']!r}"
        if problem is not None:
            raise InvalidInput(f"{source.name} line {number}: {problem}")
        seen.add(raw["id"])
        raw.setdefault("role", None)
        raw.setdefault("channel", "web")
        raw.setdefault("expect_pending", False)
        raw.setdefault("category", "single")
        raw.setdefault("split", "dev")
        raw.setdefault("expect_args", {})
        raw.setdefault("expect_honest", False)
        raw["set"] = file.stem  # which file: each set is also reported on its own
        cases.append(raw)
    return cases


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def code_is_real(codesets: CodeSets, code: str) -> bool:
    """A code-shaped token (as `codes_in` finds them) is a code of the loaded code sets."""
    group = _GROUP_CODE.match(code.upper())
    if group:
        return group.group(1) in codesets.groups and group.group(2) in codesets.carc
    try:
        return lookup(codesets, code).valid
    except AssistantError:
        return False


class _PatientFacts:
    """The patient fields of claims, looked up once per claim number."""

    def __init__(self, service: AgentService, practice_id: int) -> None:
        self.service = service
        self.practice_id = practice_id
        self.cache: dict[str, list[str]] = {}

    def fields(self, claim_number: str) -> list[str]:
        if claim_number not in self.cache:
            values: list[str] = []
            with self.service.sessions() as session:
                claim = session.scalars(
                    select(Claim).where(Claim.practice_id == self.practice_id, Claim.claim_number == claim_number)
                ).first()
                if claim is not None:
                    patient = session.get(Patient, claim.patient_id)
                    if patient is not None:
                        values += [patient.first_name, patient.last_name]
                        if patient.birth_date:
                            born = patient.birth_date
                            values += [born.isoformat(), f"{born.month:02d}/{born.day:02d}/{born.year}"]
                            values.append(f"{born.month}/{born.day}/{born.year}")
                    if claim.coverage_id is not None:
                        coverage = session.get(Coverage, claim.coverage_id)
                        if coverage is not None:
                            values.append(coverage.member_id)
            self.cache[claim_number] = [v for v in values if v]
        return self.cache[claim_number]


def _mentioned_claims(case: dict[str, Any], reply: AgentReply) -> set[str]:
    numbers = set(_CLAIM_MENTION.findall(case["text"])) | set(_CLAIM_MENTION.findall(reply.answer))
    for call in reply.tool_calls:
        if isinstance(call.arguments.get("claim_number"), str):
            numbers.add(call.arguments["claim_number"])
        numbers.update(str(n) for n in call.arguments.get("claim_numbers") or [])
    for card in reply.cards:
        for claim in card.data.get("claims") or card.data.get("items") or []:
            if isinstance(claim, dict) and claim.get("claim_number"):
                numbers.add(str(claim["claim_number"]))
        if card.data.get("claim_number"):
            numbers.add(str(card.data["claim_number"]))
    return numbers


def _leaked(answer: str, values: list[str]) -> list[str]:
    return [v for v in values if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", answer, re.IGNORECASE)]


def _requester(case: dict[str, Any], practice_id: int, users: dict[str, int]) -> Requester:
    role = Role(case["role"]) if case.get("role") else None
    return Requester(
        practice_id=practice_id,
        user_id=users[role.value] if role else None,
        role=role,
        channel=Channel(case.get("channel") or "web"),
        request_id=f"eval-{case['id']}",
    )


def _codesets_of(service: AgentService) -> CodeSets:
    provider = service.providers.get("codesets")
    if provider is not None:
        codesets: CodeSets = provider()
        return codesets
    return load_codesets(service.settings.resolved_home / "cache")


def run_agent_eval(
    service: AgentService,
    *,
    practice_id: int,
    users: dict[str, int],
    dataset: Path | None = None,
    cases: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Ask every case through the service and score the replies (see the module docstring)."""
    chosen = cases if cases is not None else load_dataset(dataset)
    codesets = _codesets_of(service)
    for provider in service.providers.values():  # code sets and the knowledge base load once, untimed
        provider()
    patients = _PatientFacts(service, practice_id)
    routed = 0
    fact_hits = fact_total = 0
    code_tokens = valid_tokens = 0
    invalid_codes: list[dict[str, str]] = []
    cited = citation_cases = 0
    channel_cases = leaks = 0
    pending_cases = pending_ok = posted = 0
    latencies: list[float] = []
    failures: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    threads: dict[str, str] = {}  # the eval's thread name -> the id the server issued on its first turn
    for case in chosen:
        requester = _requester(case, practice_id, users)
        thread_id = threads.get(case["thread"]) if case.get("thread") else None
        started = time.perf_counter()
        reply = service.ask(case["text"], requester=requester, thread_id=thread_id)
        if case.get("thread"):
            threads.setdefault(case["thread"], reply.thread_id)
        latencies.append((time.perf_counter() - started) * 1000)
        problems: dict[str, Any] = {}

        called = sorted({call.name for call in reply.tool_calls})
        expected = sorted(set(case["expect_tools"]))
        if called == expected:
            routed += 1
        else:
            problems["tools"] = {"expected": expected, "got": called}

        lowered = _plain_numbers(reply.answer.lower())
        missing = [fact for fact in case["expect_facts"] if _plain_numbers(fact.lower()) not in lowered]
        fact_total += len(case["expect_facts"])
        fact_hits += len(case["expect_facts"]) - len(missing)
        if missing:
            problems["missing_facts"] = missing

        for code in codes_in(reply.answer):
            code_tokens += 1
            if code_is_real(codesets, code):
                valid_tokens += 1
            else:
                invalid_codes.append({"id": case["id"], "code": code})
                problems.setdefault("invalid_codes", []).append(code)

        if case["expect_citation"]:
            citation_cases += 1
            if reply.citations:
                cited += 1
            else:
                problems["citation"] = "none"

        if requester.channel is Channel.SLACK_CHANNEL:
            channel_cases += 1
            shown = sorted(
                {v for n in _mentioned_claims(case, reply) for v in _leaked(reply.answer, patients.fields(n))}
            )
            if shown:
                leaks += 1
                problems["phi"] = shown

        writes_done = [c.name for c in reply.tool_calls if c.name in WRITE_TOOLS and c.outcome == "ok"]
        posted += len(writes_done)
        if writes_done:
            problems["posted"] = writes_done
        if case.get("expect_pending"):
            pending_cases += 1
            if reply.pending_action is not None and not writes_done:
                pending_ok += 1
            else:
                problems["pending"] = "no pending action"
        if reply.pending_action is not None and requester.role is not None:
            with contextlib.suppress(AssistantError):  # leave the practice as it was: proposals are cancelled
                service.cancel(reply.pending_action.id, requester=requester)

        honest = not reply.tool_calls and bool(HONEST.search(reply.answer))
        if case.get("expect_honest") and not honest:
            problems["honest"] = "the reply did not say plainly that it cannot do this"
        referent_ok = None
        if case.get("expect_args"):
            referent_ok = _carries(reply, case["expect_args"])
            if not referent_ok:
                problems["args"] = {"expected": case["expect_args"], "got": [c.arguments for c in reply.tool_calls]}
        records.append(
            {
                "category": case.get("category", "single"),
                "split": case.get("split", "dev"),
                "set": case.get("set", "cases"),
                "routed": called == expected,
                "facts": (len(case["expect_facts"]) - len(missing), len(case["expect_facts"])),
                "honest": honest if case.get("expect_honest") else None,
                "referent": referent_ok,
                "removed_codes": len(reply.removed_codes),
            }
        )
        if problems:
            failures.append({"id": case["id"], "text": case["text"], **problems, "answer": reply.answer[:300]})

    n = len(chosen) or 1
    return {
        "cases": len(chosen),
        "routing_accuracy": round(routed / n, 4),
        "fact_recall": round(fact_hits / fact_total, 4) if fact_total else 1.0,
        "code_validity_rate": round(valid_tokens / code_tokens, 4) if code_tokens else 1.0,
        "code_tokens": code_tokens,
        "invalid_codes": invalid_codes,
        "citation_rate": round(cited / citation_cases, 4) if citation_cases else 1.0,
        "channel_cases": channel_cases,
        "phi_leaks": leaks,
        "pending_cases": pending_cases,
        "pending_rate": round(pending_ok / pending_cases, 4) if pending_cases else 1.0,
        "writes_posted": posted,
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_ms_p95": round(_percentile(latencies, 0.95), 1),
        "by_category": _breakdown(records, "category"),
        "by_split": _breakdown(records, "split"),
        "by_set": _breakdown(records, "set"),
        "failures": failures,
    }


#: A reply that says plainly it cannot do something (or did not understand), rather than guessing.
HONEST = re.compile(
    r"\b(?:can['’]?t|cannot|can not|not able to|unable to|don['’]?t (?:yet )?(?:support|do)|isn['’]?t something|"
    r"not sure what you)\b",
    re.IGNORECASE,
)


def _plain_numbers(text: str) -> str:
    """Amounts compared without thousands separators: "5690.00" is the fact in "$5,690.00"."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def _carries(reply: AgentReply, expected: dict[str, Any]) -> bool:
    """Some tool call of the reply carries every expected argument value (a list may contain it)."""

    def same(value: Any, wanted: Any) -> bool:
        if isinstance(wanted, list):  # every wanted item is among the values
            return all(same(value, item) for item in wanted)
        if isinstance(value, list):
            return any(same(item, wanted) for item in value)
        got, want = str(value).strip().upper(), str(wanted).strip().upper()
        if got == want or got == HIDDEN.upper():  # patient fields are hidden in the call records by design
            return True
        if _AMOUNT.fullmatch(got) and _AMOUNT.fullmatch(want):  # "40" carries "40.00": the same money
            return Decimal(got) == Decimal(want)
        # A payer or modifier named the short way ("Medicaid" for "State Medicaid", "MOD GA" for "GA").
        return want.replace(" ", "").isalpha() and len(min(got, want, key=len)) >= 2 and (want in got or got in want)

    def carried(arguments: dict[str, Any], key: str, wanted: Any) -> bool:
        if key in arguments:
            return same(arguments[key], wanted)
        # One claim asked for by a tool that takes a list of them (a 276 for "claim 2975": claim_numbers).
        return key == "claim_number" and same(arguments.get("claim_numbers") or [], wanted)

    return any(
        all(carried(call.arguments, key, wanted) for key, wanted in expected.items()) for call in reply.tool_calls
    )


def _breakdown(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Routing, facts, honesty and follow-up referents for each value of `key` (category or split)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record[key], []).append(record)
    out: dict[str, dict[str, Any]] = {}
    for name, group in sorted(groups.items()):
        hits = sum(r["facts"][0] for r in group)
        total = sum(r["facts"][1] for r in group)
        honest = [r["honest"] for r in group if r["honest"] is not None]
        referents = [r["referent"] for r in group if r["referent"] is not None]
        out[name] = {
            "cases": len(group),
            "routing_accuracy": round(sum(r["routed"] for r in group) / len(group), 4),
            "fact_recall": round(hits / total, 4) if total else 1.0,
            "honest_rate": round(sum(honest) / len(honest), 4) if honest else None,
            "referent_accuracy": round(sum(referents) / len(referents), 4) if referents else None,
            "answers_with_removed_codes": sum(1 for r in group if r["removed_codes"]),
        }
    return out


def practice_users(service: AgentService, slug: str) -> tuple[int, dict[str, int]]:
    """The id of the practice with this slug and one user id per role."""
    from knowledge.errors import NotFound
    from knowledge.practice.models import Practice, User

    with service.sessions() as session:
        practice = session.scalars(select(Practice).where(Practice.slug == slug)).first()
        if practice is None:
            raise NotFound(f"No practice {slug!r}: run `billing-assistant init --demo --as-of 2026-11-22` first.")
        users: dict[str, int] = {}
        for user in session.scalars(select(User).where(User.practice_id == practice.id).order_by(User.id)):
            users.setdefault(user.role.value, user.id)
        return practice.id, users


def main(argv: list[str] | None = None) -> int:
    from assistant.service import build_agent_service
    from assistant.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m evals.agent_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="HOME made by `init --demo --as-of 2026-11-22`")
    parser.add_argument("--dataset", type=Path, default=None, help="a JSONL dataset (default: the shipped one)")
    parser.add_argument("--practice", default="demo", help="practice slug (default: demo)")
    parser.add_argument("--only", default=None, help="run only cases whose id starts with this")
    parser.add_argument("--split", choices=sorted(SPLITS), default=None, help="run only the dev or holdout cases")
    parser.add_argument("--conversation", action="store_true", help="the conversation set (evals/conversation/)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(home=args.home)
        service = build_agent_service(settings)
        try:
            practice_id, users = practice_users(service, args.practice)
            cases = load_dataset(args.dataset or (CONVERSATION_DATASET if args.conversation else None))
            if args.split:
                cases = [c for c in cases if c["split"] == args.split]
            if args.only:
                cases = [c for c in cases if c["id"].startswith(args.only)]
            report = run_agent_eval(service, practice_id=practice_id, users=users, cases=cases)
        finally:
            service.close()
    except AssistantError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
