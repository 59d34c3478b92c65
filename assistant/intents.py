"""Reading a billing-office request: what is asked, and about which claim, code, patient, payer or amount.

This is the offline planner's understanding of language: deterministic rules over the phrasings billers,
coders and front-desk staff use ("pt", "dos", "eob", "w/o", typos in common words). It is written by hand
because no library parses this domain's shorthand; the rules are tested against the eval set in
`evals/agent/`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PAYER_ALIASES = {
    "uhc": "UnitedHealthcare",
    "united": "UnitedHealthcare",
    "unitedhealthcare": "UnitedHealthcare",
    "united healthcare": "UnitedHealthcare",
    "bcbs": "Blue Cross Blue Shield",
    "blue cross": "Blue Cross Blue Shield",
    "bluecross": "Blue Cross Blue Shield",
    "aetna": "Aetna",
    "cigna": "Cigna",
    "medicare": "Medicare",
    "mcr": "Medicare",
    "part b": "Medicare",
    "medicaid": "Medicaid",
    "mcd": "Medicaid",
}

_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): index for index, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9

_CLAIM = re.compile(
    r"(?:\bclaims?\s*(?:#|no\.?|num(?:ber)?\.?|id)?\s*:?\s*|#|\bclm\s*#?\s*|\bicn\s*#?\s*)([A-Za-z]*\d[\w-]{2,24})\b",
    re.IGNORECASE,
)
# A claim number on its own: "1437", "1437," or "1437." at the end of a clause, not "1437.50" or "10/08".
_BARE_NUMBER = re.compile(r"(?<![\w$.,/-])(\d{4,12})(?![\w/-]|[.,]\d)")
_MONTH_YEAR = re.compile(
    r"\b(?:"
    + "|".join(sorted((m for m in _MONTHS if len(m) >= 3), key=len, reverse=True))
    + r")\.?,?\s+(?:of\s+)?(?:19|20)\d{2}\b",
    re.I,
)
_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)|\b(\d[\d,]*(?:\.\d{1,2})?)\s*(?:dollars|bucks|usd)\b", re.I)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b")
_DOB = re.compile(r"\b(?:dob|d\.o\.b\.?|born|birth ?date|date of birth)\s*:?\s*", re.I)
_ICD = re.compile(r"\b([A-TV-Z][0-9][0-9AB])\.?([0-9A-Z]{0,4})\b", re.I)
_HCPCS = re.compile(r"\b([A-V][0-9]{4})\b", re.I)
_CPT = re.compile(r"\b([0-9]{4}[0-9FTU])\b")
_GROUP_CARC = re.compile(r"\b(CO|PR|OA|PI)\s*[-‑ ]?\s*([A-Z]?[0-9]{1,3})\b", re.I)
_CARC = re.compile(r"\b(?:carc|reason code|adj(?:ustment)? code)\s*#?\s*([A-Z]?[0-9]{1,3})\b", re.I)
_RARC = re.compile(r"\b(MA[0-9]{2,3}|N[0-9]{1,3}|M[0-9]{1,3})\b(?!\.[0-9A-Z])", re.I)
_MODIFIER_WORD = re.compile(r"\bmod(?:ifier)?s?\s*-?\s*([0-9A-Z]{2})\b", re.I)
_POS_WORD = re.compile(r"\b(?:pos|place of service)\s*#?\s*-?\s*([0-9]{2})\b", re.I)
_NAME_AFTER = re.compile(r"\b(?:pt|patient|for|of|member)\s+([A-Z][a-z'’-]+(?:,?\s+[A-Z][a-z'’-]+){1,2})", re.UNICODE)

WRITE_WORDS = re.compile(r"\b(post|apply|record|log|enter|put|take)\b", re.I)
PAYMENT_WORDS = re.compile(
    r"\b(payments?|paid|pays|copays?|co-?pay|coins(?:urance)?|deductible|cash|check|card|credit card)\b", re.I
)
ADJUST_WORDS = re.compile(r"\b(write[- ]?off|w/o|adjust(?:ment)?|adj)\b", re.I)
DENIAL_WORDS = re.compile(
    r"\b(why|whys|why'?d|reason|explain|denied|denid|deniad|dneied|denial|denail|deny|rejected|rejection|"
    r"what happened|wrong with|wrong w/|not paid|wasn'?t paid|didn'?t pay|didn'?t get paid|unpaid|carc|appeal|"
    r"appeals|deadline|overturn)\b|"
    r"\b(?:eob|era|remit)\b.{0,40}\b(?:say|says|said|show|shows|mean|means)\b",
    re.I,
)
STATUS_WORDS = re.compile(r"\b(status|where is|update on|check on|balance|owe|owes|paid\?|look up|lookup|show)\b", re.I)
WORKLIST_WORDS = re.compile(
    r"\b(work ?list|worklist|open denials|denial queue|denials? (?:list|report|queue)|/denials|"
    r"denials (?:for|from|by|with)|all denials|outstanding denials|denials|denails|denial backlog)\b",
    re.I,
)
EXCEPTION_WORDS = re.compile(
    r"\b(exceptions?|didn'?t post|did not post|unposted|could ?n[o']?t (?:be )?post(?:ed)?|wasn'?t posted|"
    r"not posted|unmatched|fail(?:ed|s|ing)? to (?:post|match)|didn'?t match|did not match|not matched|"
    r"no matching claim)\b",
    re.I,
)
STATUS_REQUEST_WORDS = re.compile(
    r"\b(276|status request|status inquir(?:y|ies)|send (?:a )?status|ask the payer|payer status)\b", re.I
)
IMPORT_WORDS = re.compile(r"\b(import|load|upload)\b.*\b(835|era|remit(?:tance)?s?|x12|edi)\b", re.I)
CHECK_WORDS = re.compile(
    r"\b(check|validate|scrub|edit check|ncci|mue|go together|bundles?|bundled|billable together|"
    r"bill(?:ed)? (?:\S+ )*?(?:together|same day|on the same (?:day|claim))|together|same day|"
    r"(?:ok|okay|fine|allowed) to bill|can (?:i|we) bill)\b",
    re.I,
)
SEARCH_WORDS = re.compile(
    r"\b(?:code|codes|icd(?:-?10)?(?:-?cm)?|dx|diagnosis|hcpcs|cpt|procedure code)\s+(?:for|of|to use for|when)\s+(.+)",
    re.I,
)
KNOWLEDGE_WORDS = re.compile(
    r"\b(timely filing|filing limit|appeal|reconsideration|redetermination|prior auth|authorization|precert|"
    r"modifier|telehealth|telemedicine|coordination of benefits|cob|corrected claims?|frequency code|polic(?:y|ies)|"
    r"guidelines?|rules?|deadlines?|how (?:do|should|can) (?:i|we)|what does .* mean for us|when can|can we bill|"
    r"do (?:they|we) need|documentation|medical necessity|lcd|ncd|how to|fix|resolve|tfl)\b",
    re.I,
)
MEANING_WORDS = re.compile(r"\b(what(?:'s| is| does)|meaning|mean|means|define|describe|explain)\b", re.I)
FOLLOW_BEFORE = re.compile(r"\b(the one before|one before (?:it|that)|previous one|prior one|before that)\b", re.I)
FOLLOW_AFTER = re.compile(r"\b(the (?:one|claim) after|next one|after that)\b", re.I)
FOLLOW_WHAT_ABOUT = re.compile(r"^\s*(?:and|what about|how about|same for|and for|also)\b", re.I)
# Shorthand written out for a knowledge search (the passages use the full words).
SHORTHAND = {
    "tfl": "timely filing limit",
    "cob": "coordination of benefits",
    "auth": "authorization",
    "precert": "precertification prior authorization",
    "recon": "reconsideration",
    "mod": "modifier",
    "mods": "modifiers",
    "pos": "place of service",
    "pt": "patient",
    "pts": "patients",
    "dx": "diagnosis",
    "ins": "insurance",
    "clm": "claim",
    "dos": "date of service",
    "w/": "with",
    "w/o": "without",
    "abt": "about",
    "pls": "please",
}
_SHORTHAND = re.compile(
    r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(SHORTHAND, key=len, reverse=True)) + r")(?![\w/])", re.I
)
QUESTION = re.compile(r"^\s*(?:was|were|has|have|did|is|are)\b|\?\s*$")
# "Drew Fakely 07/24/1963 claims": a name that opens the message, when a date follows it.
_LEADING_NAME = re.compile(r"^\s*([A-Z][a-z'’-]+\s+[A-Z][a-z'’-]+)\b(?=.*\d{1,2}/\d{1,2}/\d{2,4})", re.UNICODE)
GREETING = re.compile(r"^\s*(hi|hello|hey|help|thanks|thank you|what can you do|\?)\W*$", re.I)


@dataclass
class Request:
    """What one message asks."""

    intent: str
    text: str
    claim_number: str | None = None
    amount: Decimal | None = None
    method: str | None = None
    on_date: dt.date | None = None
    patient_name: str | None = None
    birth_date: dt.date | None = None
    payer: str | None = None
    status: str | None = None
    service_from: dt.date | None = None
    service_to: dt.date | None = None
    codes: list[tuple[str, str]] = field(default_factory=list)  # (system hint, code)
    adjustment_codes: list[str] = field(default_factory=list)
    search_text: str | None = None
    path: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def _date_from(groups: tuple[str, ...], us: bool) -> dt.date | None:
    try:
        if us:
            month, day, year = (int(g) for g in groups)
            if year < 100:
                year += 1900 if year > 30 else 2000
        else:
            year, month, day = (int(g) for g in groups)
        return dt.date(year, month, day)
    except ValueError:
        return None


def find_dates(text: str) -> list[tuple[int, dt.date]]:
    found = [(m.start(), d) for m in _ISO_DATE.finditer(text) if (d := _date_from(m.groups(), False))]
    found += [(m.start(), d) for m in _US_DATE.finditer(text) if (d := _date_from(m.groups(), True))]
    return sorted(found)


def find_birth_date(text: str, *, today: dt.date | None = None) -> dt.date | None:
    """The date after "dob"/"born"; or, beside a patient's name, a date too old to be a date of service
    (more than two years back: "Drew Fakely 07/24/1963")."""
    marker = _DOB.search(text)
    if not marker:
        if today is None or find_patient_name(text) is None:
            return None
        old = [value for _, value in find_dates(text) if value.year < today.year - 2]
        return old[0] if len(old) == 1 else None
    for position, value in find_dates(text):
        if position >= marker.end() - 1:
            return value
    return None


def _payer_pattern(alias: str) -> str:
    return rf"\b{re.escape(alias)}(?:['’]?s)?\b"  # "aetna", "aetna's", "aetnas"


def find_payer(text: str) -> str | None:
    lowered = text.lower()
    for alias in sorted(PAYER_ALIASES, key=len, reverse=True):
        if re.search(_payer_pattern(alias), lowered):
            return PAYER_ALIASES[alias]
    return None


def replace_payer(text: str, payer: str) -> str:
    """The message asked again about another payer ("aetna timely filing" -> "Cigna timely filing")."""
    for alias in sorted(PAYER_ALIASES, key=len, reverse=True):
        replaced, count = re.subn(_payer_pattern(alias), payer, text, flags=re.I)
        if count:
            return replaced
    return f"{text} ({payer})"


def find_month_range(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    lowered = text.lower()
    if re.search(r"\blast month\b", lowered):
        first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        return first, today.replace(day=1) - dt.timedelta(days=1)
    if re.search(r"\bthis month\b", lowered):
        return today.replace(day=1), today
    for word, month in _MONTHS.items():
        if len(word) < 3 or (word == "may" and not re.search(r"\bmay\b(?!\s+(?:i|we|you))", lowered)):
            continue
        if re.search(rf"\b{word}\b\.?", lowered):
            year = today.year if month <= today.month else today.year - 1
            year_match = re.search(rf"\b{word}\.?\s+(\d{{4}})\b", lowered)
            if year_match:
                year = int(year_match.group(1))
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return None


def find_claim_number(text: str) -> str | None:
    match = _CLAIM.search(text)
    if match:
        return match.group(1).upper() if not match.group(1).isdigit() else match.group(1)
    cleaned = _US_DATE.sub(" ", _ISO_DATE.sub(" ", text))
    cleaned = _MONTH_YEAR.sub(" ", _AMOUNT.sub(" ", cleaned))
    numbers = [n for n in _BARE_NUMBER.findall(cleaned) if not _looks_like_code(n)]
    return numbers[0] if numbers else None


def _looks_like_code(number: str) -> bool:
    return len(number) == 5  # a bare five-digit number is more likely a CPT code than a claim number


def find_amount(text: str) -> Decimal | None:
    match = _AMOUNT.search(text)
    if not match:
        words = re.search(
            r"\b(?:copay|co-pay|payment|paid|pays|write[- ]?off|w/o|adjust)\w*\s+(?:of\s+)?(\d+(?:\.\d{1,2})?)\b",
            text,
            re.I,
        )
        return Decimal(words.group(1)) if words else None
    return Decimal((match.group(1) or match.group(2)).replace(",", ""))


def find_method(text: str) -> str | None:
    lowered = text.lower()
    for word, method in (
        ("cash", "cash"),
        ("check", "check"),
        ("cheque", "check"),
        ("card", "card"),
        ("credit", "card"),
        ("debit", "card"),
        ("ach", "ach"),
    ):
        if re.search(rf"\b{word}\b", lowered):
            return method
    return None


def find_codes(text: str) -> list[tuple[str, str]]:
    """Medical codes in a message as (system hint, code), in order."""
    codes: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(system: str, code: str, span: tuple[int, int]) -> None:
        if any(start < span[1] and span[0] < end for start, end in taken):
            return
        taken.append(span)
        if (system, code) not in codes:
            codes.append((system, code))

    cleaned = _AMOUNT.sub(lambda m: " " * len(m.group(0)), text)
    cleaned = _ISO_DATE.sub(lambda m: " " * len(m.group(0)), cleaned)
    cleaned = _US_DATE.sub(lambda m: " " * len(m.group(0)), cleaned)
    for m in _GROUP_CARC.finditer(cleaned):
        add("carc", f"{m.group(1).upper()}-{m.group(2).upper()}", m.span())
    for m in _CARC.finditer(cleaned):
        add("carc", m.group(1).upper(), m.span(1))
    for m in _RARC.finditer(cleaned):
        add("rarc", m.group(1).upper(), m.span())
    for m in _HCPCS.finditer(cleaned):
        add("hcpcs", m.group(1).upper(), m.span())
    for m in _ICD.finditer(cleaned):
        head, tail = m.group(1).upper(), m.group(2).upper()
        if not tail and not re.search(r"\d", head[1:]):
            continue
        add("icd10cm", f"{head}.{tail}" if tail else head, m.span())
    for m in _CPT.finditer(cleaned):
        add("cpt", m.group(1).upper(), m.span())
    # Modifiers and places of service only when named ("mod GA", "POS 02"): the prefix tells the lookup.
    for m in _MODIFIER_WORD.finditer(cleaned):
        add("modifier", f"MOD {m.group(1).upper()}", m.span(1))
    for m in _POS_WORD.finditer(cleaned):
        add("pos", f"POS {m.group(1)}", m.span(1))
    return codes


def find_patient_name(text: str) -> str | None:
    match = _NAME_AFTER.search(text) or _LEADING_NAME.search(text)
    if not match:
        return None
    name = re.sub(r"['’]s\b", "", match.group(1))
    words = [w for w in re.split(r"[,\s]+", name) if w]
    stop = {"Claim", "Claims", "Medicare", "Medicaid", "Aetna", "Cigna", "The", "October", "Today", "Dob", "Born"}
    stop |= {m.title() for m in _MONTHS}
    words = [w for w in words if w not in stop]
    return " ".join(words) if len(words) >= 2 else None


def read_request(text: str, *, today: dt.date) -> Request:
    """Classify one message and pull out its arguments."""
    stripped = text.strip()
    codes = find_codes(stripped)
    request = Request(intent="help", text=stripped, codes=codes)
    request.claim_number = find_claim_number(stripped)
    request.amount = find_amount(stripped)
    request.payer = find_payer(stripped)
    request.birth_date = find_birth_date(stripped, today=today)
    request.patient_name = find_patient_name(stripped)
    months = find_month_range(stripped, today)
    if months:
        request.service_from, request.service_to = months
    lowered = stripped.lower()
    if re.search(r"\btoday\b", lowered):
        request.on_date = today
    elif re.search(r"\byesterday\b", lowered):
        request.on_date = today - dt.timedelta(days=1)

    if GREETING.match(stripped) or not stripped:
        request.intent = "help"
    elif IMPORT_WORDS.search(stripped):
        request.intent = "import_remittance"
        path = re.search(r"(\S+\.(?:835|edi|x12|txt|dat))\b", stripped)
        request.path = path.group(1) if path else None
    elif request.amount is not None and ADJUST_WORDS.search(stripped):
        request.intent = "post_adjustment"
        carc = next((c for s, c in codes if s == "carc"), None)
        if carc:
            group, _, reason = carc.rpartition("-")
            request.extras["group_code"] = group or "CO"
            request.extras["reason_code"] = reason
        request.extras["side"] = (
            "patient" if re.search(r"\b(patient|pt|small bal(?:ance)?|sm bal(?:ance)?|sb)\b", lowered) else "payer"
        )
    elif request.amount is not None and (
        (WRITE_WORDS.search(stripped) and PAYMENT_WORDS.search(stripped))
        or re.search(r"\b(pt|patient)\s+(?:\w+\s+){0,2}?(paid|pays|gave)\b", lowered)
        or (
            re.search(r"\b(paid|pays|gave)\b", lowered)
            and find_method(stripped) is not None
            and not QUESTION.search(lowered)  # "was $40 paid by card?" asks; it does not post
        )
    ):
        request.intent = "post_patient_payment"
        request.method = find_method(stripped)
    elif STATUS_REQUEST_WORDS.search(stripped) and request.claim_number:
        request.intent = "claim_status_request"
    elif EXCEPTION_WORDS.search(stripped):
        request.intent = "x12_exceptions"
    elif WORKLIST_WORDS.search(stripped) and not request.claim_number:
        request.intent = "denial_worklist"
    elif request.claim_number and DENIAL_WORDS.search(stripped):
        request.intent = "explain_denial"
    elif request.claim_number and not codes_only(stripped, codes):
        request.intent = "get_claim"
    elif (
        request.patient_name
        or request.birth_date
        or (re.search(r"\bclaims\b", lowered) and (request.payer or months or _status_word(lowered)))
    ):
        request.intent = "find_claims"
        request.status = _status_word(lowered)
    elif len(codes) >= 2 and CHECK_WORDS.search(stripped):
        request.intent = "check_claim_codes"
    elif codes and all(system in {"carc", "rarc"} for system, _ in codes) and not KNOWLEDGE_WORDS.search(stripped):
        request.intent = "explain_adjustment_codes"
        request.adjustment_codes = [code for _, code in codes]
    elif codes and not KNOWLEDGE_WORDS.search(stripped):
        request.intent = "lookup_code"
    elif (match := SEARCH_WORDS.search(stripped)) and not KNOWLEDGE_WORDS.search(stripped):
        request.intent = "search_codes"
        request.search_text = match.group(1).strip(" ?.")
        request.extras["system"] = _system_word(lowered)
    elif KNOWLEDGE_WORDS.search(stripped) or MEANING_WORDS.search(stripped) or len(stripped.split()) >= 3:
        request.intent = "search_knowledge"
    return request


def expand_shorthand(text: str) -> str:
    """The message with billing shorthand written out: "tfl for uhc?" -> "timely filing limit for uhc?"."""
    return _SHORTHAND.sub(lambda m: SHORTHAND[m.group(1).lower()], text)


def codes_only(text: str, codes: list[tuple[str, str]]) -> bool:
    """A bare code (`E11.65`, `/code 99213`) rather than a claim number."""
    return bool(codes) and not re.search(r"\bclaim|#|\bclm\b|\bicn\b", text, re.I)


def _status_word(lowered: str) -> str | None:
    for word, status in (
        ("partially paid", "partially_paid"),
        ("partial", "partially_paid"),
        ("denied", "denied"),
        ("denial", "denied"),
        ("rejected", "rejected"),
        ("pending", "pending"),
        ("unpaid", None),
        ("paid", "paid"),
        ("submitted", "submitted"),
        ("accepted", "accepted"),
    ):
        if re.search(rf"\b{word}\b", lowered):
            return status
    return None


def _system_word(lowered: str) -> str | None:
    if re.search(r"\bhcpcs\b", lowered):
        return "hcpcs"
    if re.search(r"\b(icd|dx|diagnosis)\b", lowered):
        return "icd10cm"
    return None
