"""Writing answers from tool results (the offline planner's voice).

Every fact and code in an answer is taken from a tool result of the turn; citations are numbered the
same way the service numbers them (`citations.py`). Patient fields that a channel may not show arrive
here already hidden and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.citations import citations_from_results
from assistant.intents import Request
from assistant.phi import HIDDEN

TOOL_PHRASES = {
    "explain_denial": "why a claim was denied, with the codes decoded, the policy and the deadline",
    "get_claim": "a claim's status, history, lines, remittances and balances",
    "find_claims": "claims by patient (name and birth date), payer, status or dates",
    "denial_worklist": "the open denials by payer, reason, amount and days left to appeal",
    "post_patient_payment": "post a patient's payment (you confirm before anything is written)",
    "post_adjustment": "post an adjustment or write-off (confirmed by a biller)",
    "lookup_code": "look up an ICD-10-CM, HCPCS, CPT, CARC, RARC or POS code",
    "search_codes": "find the code for a description",
    "check_claim_codes": "check a claim's codes (validity, Excludes1, NCCI, MUE)",
    "explain_adjustment_codes": "decode CARC, RARC and group codes",
    "search_knowledge": "answer from payer policies, denial playbooks and coding guidance, with citations",
    "x12_exceptions": "list what an 835 import could not post",
    "claim_status_request": "write a 276 claim status request",
    "import_remittance": "import an 835 remittance file (confirmed first)",
}

EXAMPLES = [
    "why was claim 1042 denied?",
    "status of claim 1500",
    "/code type 2 diabetes with hyperglycemia",
    "what is Aetna's timely filing limit?",
    "post $40 copay to claim 1042, paid today by card",
    "open denials for UHC",
]


def money(value: Any) -> str:
    """Dollars and cents for display, from the exact amount (never through a float)."""
    try:
        return f"${Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


def shown(value: Any) -> bool:
    return value not in (None, "", HIDDEN, [], {})


def help_text(tool_names: frozenset[str]) -> str:
    lines = ["I can help with:"]
    lines += [f"- {phrase}" for name, phrase in TOOL_PHRASES.items() if name in tool_names]
    lines.append("")
    lines.append("Try: " + "; ".join(f"“{example}”" for example in EXAMPLES))
    return "\n".join(lines)


def unavailable(tool: str, tool_names: frozenset[str]) -> str:
    if tool in {
        "get_claim",
        "explain_denial",
        "find_claims",
        "denial_worklist",
        "post_patient_payment",
        "post_adjustment",
        "x12_exceptions",
        "claim_status_request",
        "import_remittance",
    }:
        return (
            "I can't show claim data here: your account isn't linked to a user of the practice. "
            "Ask an administrator to link it. I can still look up codes and answer from payer policies and "
            "coding guidance."
        )
    return f"That needs the {tool.replace('_', ' ')} tool, which isn't available here.\n\n" + help_text(tool_names)


def missing_details(request: Request) -> str:
    if request.intent == "post_patient_payment":
        if request.amount is None:
            return "How much did the patient pay? For example: “post $40 copay to claim 1042, paid today by card”."
        return (
            "Which claim should the payment go to? Give the claim number, or the patient's name and birth "
            "date, e.g. “post $40 copay for Jane Sample DOB 01/02/1980”."
        )
    if request.intent == "post_adjustment":
        return "Give the claim number and the amount, e.g. “write off $15 small balance on claim 1042”."
    if request.intent == "import_remittance":
        return "Which file? Give the path of the 835, e.g. “import remittance /data/era/2026-11-20.835”."
    return "Which claim? Give its claim number, e.g. “status of claim 1042”."


_LINE = re.compile(r"\b(\d{4}[0-9FTU]|[A-V]\d{4})((?:\s*[-:, ]\s*(?:mod(?:ifier)?\s*)?[0-9A-Z]{2}\b(?!\.))*)", re.I)
_UNITS = re.compile(r"\bx\s*(\d{1,3})\b|\b(\d{1,3})\s*units?\b", re.I)


def check_arguments(request: Request) -> dict[str, Any]:
    """check_claim_codes arguments from a message: `99214-25 G0439 with E11.65, I10`."""
    lines = []
    diagnosis_codes = {code for system, code in request.codes if system == "icd10cm"}
    for match in _LINE.finditer(request.text):
        code = match.group(1).upper()
        if code in diagnosis_codes:
            continue
        modifiers = [m.upper() for m in re.findall(r"[0-9A-Z]{2}", re.sub(r"(?i)mod(?:ifier)?", " ", match.group(2)))]
        lines.append(f"{code}:{','.join(modifiers)}:1")
    units = _UNITS.search(request.text)
    if units and len(lines) == 1:
        code, joined, _ = lines[0].split(":")
        lines[0] = f"{code}:{joined}:{units.group(1) or units.group(2)}"
    arguments: dict[str, Any] = {
        "diagnoses": [code for system, code in request.codes if system == "icd10cm"],
        "lines": lines,
    }
    if request.on_date:
        arguments["date_of_service"] = request.on_date.isoformat()
    return arguments


# -- per-tool writers -------------------------------------------------------------------------------------
def _error(data: dict[str, Any]) -> str | None:
    if "error" in data:
        return str(data.get("message") or data["error"])
    return None


def write_get_claim(data: dict[str, Any], _cite: dict[str, int]) -> str:
    patient = data.get("patient") or {}
    header = (
        f"**Claim {data['claim_number']}**: {data['status'].replace('_', ' ')} "
        f"({data['payer']}, DOS {data['service_date_from']}, billed {money(data['balances']['billed'])})."
    )
    lines = [header]
    if isinstance(patient, dict) and shown(patient.get("name")):
        lines.append(f"Patient: {patient['name']} (born {patient.get('birth_date')}), member {data.get('member_id')}.")
    history = data.get("status_history") or []
    if history:
        last = history[-1]
        codes = ":".join(c for c in (last.get("category_code"), last.get("status_code")) if c)
        lines.append(
            f"Latest: {last['status'].replace('_', ' ')} on {last['effective_date']} ({last['source']}"
            + (f", {codes}" if codes else "")
            + ")"
            + (f": {last['note']}" if last.get("note") else "")
            + "."
        )
    balances = data["balances"]
    lines.append(
        f"Payer paid {money(balances['payer_paid'])}, adjusted {money(balances['adjusted'])}, patient responsibility "
        f"{money(balances['patient_responsibility'])} (paid {money(balances['patient_paid'])}); open: insurance "
        f"{money(balances['insurance_balance'])}, patient {money(balances['patient_balance'])}."
    )
    service = ", ".join(
        f"{line['procedure_code']}{'-' + '-'.join(line['modifiers']) if line['modifiers'] else ''} "
        f"{money(line['charge'])}"
        for line in data.get("lines", [])
    )
    if service:
        lines.append(f"Lines: {service}. Diagnoses: {', '.join(data.get('diagnoses', []))}.")
    for remit in data.get("remittances", []):
        adjustments = ", ".join(
            f"{a['group_code']}-{a['reason_code']} {money(a['amount'])}" for a in remit["adjustments"]
        )
        remarks = ", ".join(remit.get("remark_codes", []))
        lines.append(
            f"Remittance {remit['trace_number']} ({remit['payment_date']}): paid {money(remit['paid'])}"
            + (f"; adjustments {adjustments}" if adjustments else "")
            + (f"; remarks {remarks}" if remarks else "")
            + "."
        )
    return "\n".join(lines)


def write_find_claims(data: dict[str, Any], _cite: dict[str, int]) -> str:
    claims = data.get("claims", [])
    if not claims:
        return "No claims match that."
    lines = [
        f"{data['total']} claim{'s' if data['total'] != 1 else ''} found"
        + (f" (showing {len(claims)})" if data["total"] > len(claims) else "")
        + ":"
    ]
    for claim in claims:
        codes = " ".join(claim.get("adjustment_codes", []) + claim.get("remark_codes", []))
        patient = claim.get("patient")
        who = f" {patient['name']}," if isinstance(patient, dict) and shown(patient.get("name")) else ""
        lines.append(
            f"- Claim {claim['claim_number']}:{who} DOS {claim['service_date']}, {claim['payer']}, "
            f"{claim['status'].replace('_', ' ')}, billed {money(claim['billed'])}, paid {money(claim['paid'])}, "
            f"balance {money(claim['balance'])}" + (f" ({codes})" if codes else "")
        )
    return "\n".join(lines)


def write_pending(data: dict[str, Any], _cite: dict[str, int]) -> str:
    action = data["pending_action"]
    roles = ", ".join(action.get("required_roles", []))
    return (
        f"**Please confirm:** {action['summary']}\n\nNothing is written until someone confirms"
        + (f" (allowed: {roles})" if roles else "")
        + f". Action id: `{action['id']}`."
    )


def write_generic(data: dict[str, Any], cite: dict[str, int]) -> str:
    """A readable rendering of any tool result: its scalar fields, and lists as bullets."""
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
                    lines.append("- " + "; ".join(parts)[:400] + marker)
                else:
                    lines.append(f"- {item}")
        elif isinstance(value, dict):
            continue
        elif shown(value):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return "\n".join(lines) or "Done."


def _quote(text: str, limit: int = 420) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def _passage_line(passage: dict[str, Any], cite: dict[str, int]) -> str:
    number = cite.get(passage.get("passage_id", ""))
    marker = f" [{number}]" if number else ""
    caveat = " (sample policy)" if passage.get("sample") else ""
    note = f" _{passage['note']}_" if passage.get("note") else ""
    return f"> {_quote(passage.get('text', ''))}{marker}{caveat}{note}"


def write_explain_denial(data: dict[str, Any], cite: dict[str, int]) -> str:
    status = data["status"].replace("_", " ")
    lines = []
    if not data.get("denied"):
        lines.append(
            f"**Claim {data['claim_number']}** is {status} ({data['payer']}, DOS {data['service_date']}). "
            + data["next_step"]
        )
    else:
        lines.append(
            f"**Claim {data['claim_number']}** was denied by {data['payer']} on {data['remittance_date']} "
            f"(DOS {data['service_date']}); {money(data['amount_at_stake'])} is still open."
        )
    decoded = data.get("decoded") or []
    if decoded:
        lines.append("**Codes on the remittance:**")
        for item in decoded:
            label = {"group": "group", "carc": "CARC", "rarc": "RARC"}.get(item["kind"], item["kind"])
            lines.append(f"- {item['code']} ({label}): {_quote(item['description'], 300)}")
    if data.get("adjustments"):
        lines.append("Adjustments: " + ", ".join(data["adjustments"]) + ".")
    if data.get("denied"):
        lines.append(f"**Next step:** {data['next_step']}")
        deadline = data.get("deadline")
        if deadline:
            kind = deadline["kind"].replace("_", " ")
            left = deadline["days_left"]
            when = f"{left} days left" if left >= 0 else f"passed {-left} days ago"
            lines.append(f"**Deadline:** {kind} by {deadline['date']} ({when}; {deadline['basis']}).")
    playbook = data.get("playbook") or []
    policy = data.get("policy") or []
    if playbook:
        lines.append("**Playbook:**")
        lines += [_passage_line(p, cite) for p in playbook[:2]]
    if policy:
        lines.append(f"**{data['payer']} policy:**")
        lines += [_passage_line(p, cite) for p in policy[:2]]
    return "\n".join(lines)


def write_worklist(data: dict[str, Any], _cite: dict[str, int]) -> str:
    if not data.get("total_claims"):
        return "No open denials match."
    lines = [f"**{data['total_claims']} open denials, {money(data['total_amount'])}.**"]
    by_payer = ", ".join(f"{g['key']} {g['claims']} ({money(g['amount'])})" for g in data.get("by_payer", [])[:6])
    by_reason = ", ".join(f"{g['key']} {g['claims']}" for g in data.get("by_reason", [])[:8])
    lines.append(f"By payer: {by_payer}.")
    lines.append(f"By reason: {by_reason}.")
    lines.append("Most urgent:")
    for item in data.get("items", [])[:10]:
        left = item.get("days_left")
        when = (
            "no deadline"
            if left is None
            else (f"{left} days left" if left >= 0 else f"deadline passed {-left} days ago")
        )
        remarks = " " + " ".join(item.get("remark_codes", [])) if item.get("remark_codes") else ""
        lines.append(
            f"- Claim {item['claim_number']}: {item['payer']}, {item['reason']}{remarks}, {money(item['amount'])}, "
            f"{item['next_action']} by {item.get('deadline')} ({when})"
        )
    return "\n".join(lines)


def write_lookup_code(data: dict[str, Any], _cite: dict[str, int]) -> str:
    code = data.get("code", "")
    if not data.get("valid"):
        messages = " ".join(data.get("messages") or [])
        return f"**{code}** is not a valid {data.get('system_name', 'code')}. {messages}".strip()
    billable = data.get("billable")
    kind = (
        "billable"
        if billable
        else ("not billable (a header: pick a more specific code)" if billable is False else data.get("kind", ""))
    )
    lines = [f"**{code}** ({data.get('system_name')}, {kind}): {data.get('description')}"]
    if data.get("status"):
        dates = ", ".join(f"{k} {v}" for k, v in (data.get("dates") or {}).items() if v)
        lines.append(f"Status: {data['status']}" + (f" ({dates})" if dates else "") + ".")
    notes = data.get("notes") or []
    order = ["excludes1", "excludes2", "code_first", "use_additional_code", "code_also", "includes", "inclusion_term"]
    for kind_name in order:
        picked = [n for n in notes if n.get("kind") == kind_name]
        if picked:
            label = (
                kind_name.replace("_", " ")
                .capitalize()
                .replace("Excludes1", "Excludes1")
                .replace("Excludes2", "Excludes2")
            )
            texts = "; ".join(f"{_quote(n['text'], 160)} (from {n['source_code']})" for n in picked[:6])
            lines.append(f"{label}: {texts}")
    seventh = data.get("seventh_characters") or {}
    if seventh:
        lines.append("7th characters: " + ", ".join(f"{k} {v}" for k, v in list(seventh.items())[:8]))
    children = data.get("children") or []
    if children and not billable:
        lines.append(
            "Codes under it: "
            + ", ".join(f"{c['code']} {c['description']}" for c in children[:8])
            + ("…" if len(children) > 8 else "")
        )
    for message in data.get("messages") or []:
        lines.append(f"_{message}_")
    return "\n".join(lines)


def write_search_codes(data: dict[str, Any], _cite: dict[str, int]) -> str:
    hits = data.get("hits") or []
    if not hits:
        return f"No code matches “{data.get('query')}”."
    lines = [f"Codes for “{data.get('query')}”:"]
    for hit in hits[:8]:
        billable = " (billable)" if hit.get("billable") else (" (header)" if hit.get("billable") is False else "")
        lines.append(f"- **{hit['code']}** {hit['description']}{billable}: {hit['reason']}")
    return "\n".join(lines)


def write_adjustment_codes(data: dict[str, Any], _cite: dict[str, int]) -> str:
    lines = []
    for item in data.get("items", []):
        label = {"group": "group code", "carc": "CARC", "rarc": "RARC"}.get(item["kind"], item["kind"])
        dates = ""
        if item.get("stop"):
            dates = f" (stopped {item['stop']})"
        lines.append(f"- **{item['code']}** ({label}){dates}: {_quote(item['description'], 500)}")
    if data.get("unknown"):
        lines.append("Not found in the code lists: " + ", ".join(data["unknown"]) + ".")
    return "\n".join(lines) or "No codes to decode."


def write_knowledge(data: dict[str, Any], cite: dict[str, int]) -> str:
    passages = data.get("passages") or []
    if not passages:
        notes = " ".join(data.get("notes") or [])
        return ("I found nothing on that in the policies and guidance I have. " + notes).strip()
    lines = []
    for passage in passages[:3]:
        where = " > ".join(passage.get("section_path") or [])
        who = f"{passage['payer']}: " if passage.get("payer") else ""
        lines.append(f"**{who}{passage['title']}**" + (f" — {where}" if where else ""))
        lines.append(_passage_line(passage, cite))
    for note in data.get("notes") or []:
        lines.append(f"_{note}_")
    return "\n".join(lines)


def write_check(data: dict[str, Any], _cite: dict[str, int]) -> str:
    issues = data.get("issues") or []
    if not issues:
        return (
            "No problems found with these codes"
            + (
                ""
                if data.get("ncci_ptp_loaded")
                else " (NCCI edits are not loaded: pair and unit edits were not checked)"
            )
            + "."
        )
    lines = [f"{len(issues)} finding{'s' if len(issues) != 1 else ''}:"]
    for issue in issues:
        lines.append(f"- {issue['severity'].upper()}: {issue['message']}")
    if not data.get("ncci_ptp_loaded"):
        lines.append("_NCCI edits are not loaded (`billing-assistant codes import-ncci FILE`)._")
    return "\n".join(lines)


def write_exceptions(data: dict[str, Any], _cite: dict[str, int]) -> str:
    items = data.get("items") or []
    if not items:
        return "Nothing is waiting: every imported remittance posted."
    lines = [f"{data.get('total', len(items))} item(s) wait for a person:"]
    for item in items[:15]:
        claim = f" claim {item['claim_number']}" if item.get("claim_number") else ""
        lines.append(f"- #{item['id']} {item['kind'].replace('_', ' ')}{claim}: {_quote(item['reason'], 300)}")
    return "\n".join(lines)


def write_status_request(data: dict[str, Any], _cite: dict[str, int]) -> str:
    return (
        f"Wrote a 276 claim status request for claim(s) {', '.join(data.get('claim_numbers', []))} to "
        f"`{data.get('path')}` (control number {data.get('control_number')}): send it to the clearinghouse."
    )


WRITERS: dict[str, Callable[[dict[str, Any], dict[str, int]], str]] = {
    "get_claim": write_get_claim,
    "find_claims": write_find_claims,
    "explain_denial": write_explain_denial,
    "denial_worklist": write_worklist,
    "lookup_code": write_lookup_code,
    "search_codes": write_search_codes,
    "explain_adjustment_codes": write_adjustment_codes,
    "search_knowledge": write_knowledge,
    "check_claim_codes": write_check,
    "x12_exceptions": write_exceptions,
    "claim_status_request": write_status_request,
}


def compose(request: Request, results: list[tuple[str, dict[str, Any]]], tool_names: frozenset[str]) -> str:
    """The answer for a finished turn."""
    citations = citations_from_results(results)
    cite = {c.passage_id: c.number for c in citations if c.passage_id}
    parts: list[str] = []
    for name, data in results:
        if (message := _error(data)) is not None:
            parts.append(message)
        elif "pending_action" in data:
            parts.append(write_pending(data, cite))
        else:
            parts.append(WRITERS.get(name, write_generic)(data, cite))
    answer = "\n\n".join(part for part in parts if part)
    if citations:
        answer += "\n\nSources:\n" + "\n".join(
            f"[{c.number}] {c.title}" + (f" — {c.section}" if c.section else "") for c in citations
        )
    return answer
