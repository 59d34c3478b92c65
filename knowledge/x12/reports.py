"""What an X12 import did: per file and per transaction set, what was imported, posted, skipped or refused.

The importer builds these; each transaction handler (`knowledge.x12.handlers`) fills its transaction's
`TransactionReport` as it reads and applies it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from knowledge.x12.values import ZERO


class TransactionReport(BaseModel):
    """What one ST..SE did (or, in a dry run, would do)."""

    control_number: str
    transaction_type: str
    version: str
    segments: int
    status: Literal["imported", "already_imported", "skipped", "error"]
    content_hash: str
    claims_in_file: int = 0
    claims_created: int = 0
    claims_updated: int = 0
    status_events: int = 0
    claims_posted: int = 0
    exceptions: int = 0
    total_paid: Decimal | None = None
    paid_posted: Decimal = ZERO
    adjustments_posted: Decimal = ZERO
    provider_adjustments: Decimal = ZERO
    remittance_id: int | None = None
    messages: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="What was wrong but read anyway (SE01/SE02), each with its position."
    )


class FileReport(BaseModel):
    path: str
    transactions: list[TransactionReport] = Field(default_factory=list)
    error: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="Envelope problems read anyway (GE/IEA counts, a synthesised ISA/GS), each with its position.",
    )


class ImportReport(BaseModel):
    """Per file and per transaction: what was imported, posted, skipped, or refused and why."""

    dry_run: bool
    files: list[FileReport] = Field(default_factory=list)
    job_id: int | None = Field(
        default=None, description="Set when the import was queued as a background job instead (a large file)."
    )
    note: str | None = Field(default=None, description="What happened, in words, when the report is not the import.")

    @property
    def errors(self) -> list[str]:
        found = [f"{f.path}: {f.error}" for f in self.files if f.error]
        for file in self.files:
            found += [
                f"{file.path}: ST {t.control_number}: {m}"
                for t in file.transactions
                if t.status == "error"
                for m in t.messages
            ]
        return found

    @property
    def warnings(self) -> list[str]:
        found = [f"{f.path}: {w}" for f in self.files for w in f.warnings]
        for file in self.files:
            found += [f"{file.path}: ST {t.control_number}: {w}" for t in file.transactions for w in t.warnings]
        return found

    def count(self, status: str) -> int:
        return sum(1 for f in self.files for t in f.transactions if t.status == status)

    @property
    def claims_posted(self) -> int:
        return sum(t.claims_posted for f in self.files for t in f.transactions)

    @property
    def exceptions(self) -> int:
        return sum(t.exceptions for f in self.files for t in f.transactions)
