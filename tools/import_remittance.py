"""Tool: import an X12 file from the practice's inbox (835 remittances are posted to the ledger)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from knowledge.errors import AssistantError, InvalidInput, NotFound
from knowledge.practice.folders import PracticeFolder, practice_folder
from knowledge.x12 import jobs
from knowledge.x12.envelope import scan
from knowledge.x12.importer import ImportReport, expand_paths, import_x12
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.slots import FILE_SLOT, Slots


def import_remittance(
    file_name: str,
    dry_run: bool = False,
    *,
    session: Session,
    practice_id: int,
    inbox_dir: Path | PracticeFolder,
    user_id: int | None = None,
) -> ImportReport:
    """Import an X12 file from the practice's clearinghouse inbox: an 835 remittance (stored and
    auto-posted to the claims it pays), an 837 (claims the practice sent) or a 277/277CA (claim status).

    `file_name` is a file or folder name inside the inbox. With `dry_run` true nothing is saved: the
    report says what would be posted. The report lists, per transaction, the claims posted, the amounts,
    and every claim sent to the exceptions queue with its reason; a file imported before posts nothing
    and says so. A large file (more than 2,000 claims) is queued as a background import job instead: the
    report then carries `job_id` and a `note` saying so.
    """
    # The requester's own inbox: a file of another practice's inbox is not "in the inbox".
    inbox = practice_folder(inbox_dir, practice_id).resolve()
    target = (inbox / file_name).resolve()
    if not target.is_relative_to(inbox):
        raise InvalidInput(f"{file_name!r} is outside the inbox: give a file name inside it")
    if not target.exists():
        raise NotFound(f"no file {file_name!r} in the inbox")
    if dry_run and claims_in(target) > JOB_THRESHOLD:
        # A dry run of a file this large would hold the chat request (and the database) as long as the import.
        return ImportReport(
            dry_run=True,
            note=f"{file_name} holds {claims_in(target):,} claim payments: too many for a dry run in the chat. "
            f"`billing-assistant x12 import --dry-run {file_name}` reports what would post, with progress; "
            "importing it runs as a background job that sends what does not match or balance to the exceptions "
            "queue.",
        )
    if not dry_run and claims_in(target) > JOB_THRESHOLD:
        # A large file posts in the background worker, in committed chunks: chat stays responsive.
        job = jobs.submit(session, practice_id=practice_id, paths=[target], user_id=user_id)
        return ImportReport(
            dry_run=False,
            job_id=job.id,
            note=f"{file_name} is large ({claims_in(target):,} claims), so it was queued as import job {job.id}: "
            f"it posts in the background, in chunks. The web chat shows its progress; "
            f"`billing-assistant x12 jobs` lists it.",
        )
    return import_x12(session, practice_id=practice_id, paths=[target], dry_run=dry_run, user_id=user_id)


#: Files with more claims than this are imported by the background worker, not inside the chat request.
JOB_THRESHOLD = 2_000


def claims_in(target: Path) -> int:
    """How many claim payments (CLP) the 835s of a file or folder hold, from the envelope pass (no posting)."""
    total = 0
    for path in expand_paths([target]):
        try:
            total += sum(info.claim_count for info in scan(path).transactions if info.kind == "835")
        except AssistantError:  # a file that cannot be read: the import itself will say why
            continue
    return total


#: Roles that may confirm an import.
CONFIRM_ROLES = ("admin", "biller")


def describe(
    file_name: str, dry_run: bool = False, *, session: Session, practice_id: int, inbox_dir: Path | PracticeFolder
) -> str:
    """What importing the file would do: a dry run now, rolled back, summarised for the person confirming.
    A file large enough to become a background job is summarised from its envelopes instead (a dry run of
    it would hold the request, and the database's write lock, for as long as the import itself)."""
    inbox = practice_folder(inbox_dir, practice_id).resolve()
    target = (inbox / file_name).resolve()
    if target.is_relative_to(inbox) and target.exists() and claims_in(target) > JOB_THRESHOLD:
        return (
            f"Import {file_name}: {claims_in(target):,} claim payments in its 835s; a large file, so it runs as "
            "a background import job (posted in chunks, with progress; a claim that does not match or balance "
            "goes to the exceptions queue)."
        )
    with session.begin_nested() as savepoint:
        report = import_remittance(file_name, True, session=session, practice_id=practice_id, inbox_dir=inbox_dir)
        savepoint.rollback()
    return f"Import {file_name}: " + summarise(report)


def summarise(report: ImportReport) -> str:
    """What an import did, or in a dry run would do, in one line: transactions, claims posted or created,
    the exceptions queue, what was imported before, errors and warnings."""
    would = report.dry_run
    transactions = [t for f in report.files for t in f.transactions]
    # What the file holds is read from its content (ST01), never from its name.
    remittances = [t for t in transactions if t.transaction_type == "835" and t.status == "imported"]
    claim_files = [t for t in transactions if t.transaction_type in ("837P", "837I") and t.status == "imported"]
    statuses = [t for t in transactions if t.transaction_type in ("277", "277CA") and t.status == "imported"]
    acknowledgements = [t for t in transactions if t.transaction_type == "999" and t.status == "imported"]
    kinds = sorted({t.transaction_type for t in transactions})
    parts = [f"{len(transactions)} transaction(s)" + (f" ({', '.join(kinds)})" if kinds else "")]
    if remittances:
        paid = sum((t.paid_posted for t in remittances), Decimal("0"))
        verb = "would post" if would else "posted"
        parts.append(f"{sum(t.claims_posted for t in remittances)} claim(s) {verb} (${paid:,.2f} paid)")
    if claim_files:
        parts.append(f"{sum(t.claims_created for t in claim_files)} claim(s) {'would be ' if would else ''}created")
        updated = sum(t.claims_updated for t in claim_files)
        if updated:
            parts.append(f"{updated} claim(s) updated")
    if statuses:
        parts.append(f"{sum(t.status_events for t in statuses)} claim status update(s)")
    if acknowledgements:  # a 999 rejecting an 837: each claim it held is marked rejected
        parts.append(f"{sum(t.status_events for t in acknowledgements)} claim(s) marked rejected by a 999")
    if remittances or statuses or acknowledgements:
        parts.append(f"{report.exceptions} to the exceptions queue")
    already = report.count("already_imported")
    if already:
        parts.append(f"{already} already imported (nothing new)")
    if report.errors:
        parts.append("errors: " + "; ".join(report.errors[:3]))
    if report.warnings:
        parts.append(f"{len(report.warnings)} warning(s): " + "; ".join(report.warnings[:2]))
    return ", ".join(parts) + "."


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    report = ImportReport.model_validate(data)
    if report.note:
        return report.note
    names = ", ".join(Path(f.path).name for f in report.files) or "the file"
    if report.dry_run:
        return (
            f"**Dry run of {names}** (nothing was saved): "
            + summarise(report)
            + (" Say “import it” to post it; you confirm before anything is written.")
        )
    return f"**Imported {names}:** " + summarise(report)


#: "dry run", "test import", "preview", "w/o posting", "don't save": report what would post, save nothing.
DRY_RUN = re.compile(
    r"\b(?:dry[\s_-]?run|test (?:import|run)|preview|without (?:saving|posting|committing)|"
    r"w/o (?:saving|posting|committing)|(?:do not|don'?t|dont) (?:save|post|commit)|no save|"
    r"what (?:would|will) (?:post|happen))\b",
    re.I,
)


def plan(slots: Slots) -> list[dict[str, Any]]:
    if not slots.file_name:
        raise NeedSlot(FILE_SLOT)
    return [{"file_name": slots.file_name, **({"dry_run": True} if DRY_RUN.search(slots.text) else {})}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "Please import the November ERA file, era-nov.835",
    "Can you import the latest 835 file from the inbox?",
    "Please load the remittance file uhc-1012.835",
    "Post the ERA file aetna_2026-10-12.835",
    "Do a dry run of importing era-oct.835 so I can see what would post",
    "Import the 277CA file status-1012.277 from the clearinghouse",
    "Pull in the new Medicare remittance file and post it",
    "Load all the files in the inbox folder nov-remits",
    "Can you auto-post the Cigna 835 that came in yesterday?",
    "Import the 837 batch claims-1012.837",
    "What would post if I imported bcbs-1101.835? Don't save anything",
    "Please post the ERA we just downloaded, era-1115.835",
    "import era-nov.835",
    "load 835 uhc-1012.835",
    "post era file mcr-oct.835",
    "dry run 835 era-oct.835",
    "import 277ca status-1012.277",
    "auto post bcbs era 1101",
    "imp cigna 835 from inbox",
    "import remit file medicaid_1020.835 pls",
    "load inbox folder nov-remits all 835s",
    "835 import dry_run aetna_2026-10-12.835",
    "era-nov.835",
    "import remittance",
    "post the new era",
    "inport era-1115.835",
    "load remit file",
    "835 uhc nov import",
    "bring in todays ERA",
    "process era-dec.835",
    "import 837 claims-1012.837",
    "dry-run era-oct.835 no save",
    "new 835 in inbox, import it",
    "run era posting for cigna-1105.835",
    "can u import the aetna remit",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "import the 835 era-2026-11-20.835",
    "load remittance file uhc_remit_1120.edi pls",
    # More phrasings as staff type them (2026-12-02).
    "import era-1201.835",
    "load the uhc 835 uhc-1201.835",
    "pls import bcbs-1128.835 from the inbox",
    "post era aetna-1130.835",
    "dry run cigna-1201.835 before posting",
    "preview what mcr-1125.835 would post, don't save",
    "import 835",
    "new era came in from medicare, mcr-1202.835, import it pls",
    "auto-post the medicaid remit file mcd-1119.835",
    "load era file uhc-1122.835",
    "import the 277ca ack-1120.277",
    "import claim status file status-1125.277",
    "bring in the 837 batch claims-1120.837",
    "imprt the era from today",
    "post the aetna era we got this morning",
    "load the dec-remits folder",
    "can you post today's 835s",
    "run the era import for bcbs",
    "import remit era_2026-11-28.835",
    "test import era_2026-11-28.835 without saving",
    "load 835 file cigna_1129.edi",
    "pls process the ERA file uhc_remit_1201.edi",
    "load the remittance advice from the clearinghouse inbox",
    "need to post the uhc 835 that just dropped",
    "import erafile mcr-1130.835",
    "impot the new 835 pls",
    "post the electronic remittance for medicaid",
    "what would happen if i import aetna-1201.835",
    "dry run the nov-remits folder",
    "import the era batch in folder dec-remits",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "clearinghouse dropped a new remit file era-1203.835 in the inbox, post it",
    "can you show me what would post from aetna-1203.835 without saving anything",
    "we got the uhc 835 for last week, uhc-1127.835, load it to the ledger",
    "please run the import on the medicare 835 mcr-1203.835",
    "get the payments from bcbs-1203.835 posted",
    "import the 277 that came back, status-1203.277",
    "the cigna era cigna-1203.835 is in the inbox, go ahead and import",
    "upload and post era file era_2026-12-01.835",
)

DESCRIPTOR = ToolDescriptor(
    func=import_remittance,
    access="write",
    step="Checking {file_name} before import",
    summary="import an 835 remittance file (confirmed first)",
    examples=EXAMPLES,
    plan=plan,
    describe=describe,
    render=render,
    confirm_roles=CONFIRM_ROLES,
    roles_hint=("biller", "admin"),
)
