"""The tools the agent may call: an explicit list, not import-time discovery."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from assistant.tooling import ToolSpec
from tools import (
    check_claim_codes,
    claim_status_request,
    denial_worklist,
    explain_adjustment_codes,
    explain_denial,
    find_claims,
    get_claim,
    import_remittance,
    lookup_code,
    post_adjustment,
    post_patient_payment,
    search_codes,
    search_knowledge,
    x12_exceptions,
)

IMPORT_CONFIRM_ROLES = ("admin", "biller")


def describe_import(
    file_name: str, dry_run: bool = False, *, session: Session, practice_id: int, inbox_dir: Path
) -> str:
    """What importing the file would do: a dry run now, rolled back, summarised for the person confirming."""
    with session.begin_nested() as savepoint:
        report = import_remittance.import_remittance(
            file_name, True, session=session, practice_id=practice_id, inbox_dir=inbox_dir
        )
        savepoint.rollback()
    transactions = [t for f in report.files for t in f.transactions]
    paid = sum((t.paid_posted for t in transactions), Decimal("0"))
    parts = [
        f"Import {file_name}: {len(transactions)} transaction(s)",
        f"{report.claims_posted} claim(s) would post (${paid:,.2f} paid)",
        f"{report.exceptions} to the exceptions queue",
    ]
    already = report.count("already_imported")
    if already:
        parts.append(f"{already} already imported (nothing new)")
    if report.errors:
        parts.append("errors: " + "; ".join(report.errors[:3]))
    return ", ".join(parts) + "."


def default_tool_specs() -> list[ToolSpec]:
    return [
        ToolSpec(explain_denial.explain_denial, "claims", "Explaining the denial of claim {claim_number}"),
        ToolSpec(get_claim.get_claim, "claims", "Looking up claim {claim_number}"),
        ToolSpec(find_claims.find_claims, "claims", "Searching claims"),
        ToolSpec(denial_worklist.denial_worklist, "claims", "Building the denial worklist"),
        ToolSpec(x12_exceptions.x12_exceptions, "claims", "Listing what the X12 imports could not post"),
        ToolSpec(
            claim_status_request.claim_status_request, "claims", "Writing a 276 status request for {claim_numbers}"
        ),
        ToolSpec(lookup_code.lookup_code, "codes", "Looking up {code}"),
        ToolSpec(search_codes.search_codes, "codes", "Searching the code sets for “{query}”"),
        ToolSpec(check_claim_codes.check_claim_codes, "codes", "Checking the claim's codes"),
        ToolSpec(explain_adjustment_codes.explain_adjustment_codes, "codes", "Decoding {codes}"),
        ToolSpec(search_knowledge.search_knowledge, "knowledge", "Searching policies and guidance"),
        ToolSpec(
            post_patient_payment.post_patient_payment,
            "write",
            "Preparing a ${amount} patient payment on claim {claim_number}",
            describe=post_patient_payment.describe,
            confirm_roles=post_patient_payment.CONFIRM_ROLES,
        ),
        ToolSpec(
            post_adjustment.post_adjustment,
            "write",
            "Preparing a ${amount} adjustment on claim {claim_number}",
            describe=post_adjustment.describe,
            confirm_roles=post_adjustment.CONFIRM_ROLES,
        ),
        ToolSpec(
            import_remittance.import_remittance,
            "write",
            "Checking {file_name} before import",
            describe=describe_import,
            confirm_roles=IMPORT_CONFIRM_ROLES,
        ),
    ]
