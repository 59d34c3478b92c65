"""Tool: import an X12 file from the practice's inbox (835 remittances are posted to the ledger)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from knowledge.errors import InvalidInput, NotFound
from knowledge.x12.importer import ImportReport, import_x12


def import_remittance(
    file_name: str,
    dry_run: bool = False,
    *,
    session: Session,
    practice_id: int,
    inbox_dir: Path,
    user_id: int | None = None,
) -> ImportReport:
    """Import an X12 file from the practice's clearinghouse inbox: an 835 remittance (stored and
    auto-posted to the claims it pays), an 837 (claims the practice sent) or a 277/277CA (claim status).

    `file_name` is a file or folder name inside the inbox. With `dry_run` true nothing is saved: the
    report says what would be posted. The report lists, per transaction, the claims posted, the amounts,
    and every claim sent to the exceptions queue with its reason; a file imported before posts nothing
    and says so.
    """
    inbox = inbox_dir.resolve()
    target = (inbox / file_name).resolve()
    if not target.is_relative_to(inbox):
        raise InvalidInput(f"{file_name!r} is outside the inbox: give a file name inside it")
    if not target.exists():
        raise NotFound(f"no file {file_name!r} in the inbox")
    return import_x12(session, practice_id=practice_id, paths=[target], dry_run=dry_run, user_id=user_id)
