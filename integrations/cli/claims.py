"""`claims list` and `claims show`: the claim tools on the command line."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from integrations.cli.common import CliContext, JsonOption, PracticeOption, console, emit
from knowledge.errors import InvalidInput

if TYPE_CHECKING:  # each command imports the tool it runs, so neither costs the other (nor `--help`)
    from tools.find_claims import ClaimList
    from tools.get_claim import ClaimDetail

app = typer.Typer(help="Look up the practice's claims.", no_args_is_help=True)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option}: expected a date as YYYY-MM-DD, got {value!r}") from None


@app.command("list")
def list_claims(
    status: Annotated[str | None, typer.Option(help="denied, paid, partially_paid, pending, rejected...")] = None,
    payer: Annotated[str | None, typer.Option(help="Payer name, payer id, or medicare/medicaid/commercial.")] = None,
    patient: Annotated[str | None, typer.Option(help="Patient name (any part).")] = None,
    birth_date: Annotated[str | None, typer.Option("--birth-date", help="Patient birth date (YYYY-MM-DD).")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First service date (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last service date (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many claims (1-200).")] = 50,
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List claims, newest first, with status, amounts and denial codes."""
    from tools.find_claims import find_claims

    ctx = CliContext()
    with ctx.session() as session:
        found = find_claims(
            patient_name=patient,
            birth_date=_date(birth_date, "--birth-date"),
            payer=payer,
            status=status,
            service_from=_date(date_from, "--from"),
            service_to=_date(date_to, "--to"),
            limit=limit,
            session=session,
            practice_id=ctx.practice(session, practice).id,
        )

    def render(result: ClaimList) -> None:
        table = Table(title=f"{len(result.claims)} of {result.total} claims")
        for column in ("claim", "DOS", "patient", "payer", "status", "billed", "paid", "balance", "codes"):
            table.add_column(column, justify="right" if column in {"billed", "paid", "balance"} else "left")
        for claim in result.claims:
            table.add_row(
                claim.claim_number,
                claim.service_date.isoformat(),
                claim.patient.name,
                claim.payer,
                claim.status,
                f"{claim.billed:,.2f}",
                f"{claim.paid:,.2f}",
                f"{claim.balance:,.2f}",
                " ".join(claim.adjustment_codes + claim.remark_codes),
            )
        console.print(table)

    emit(found, as_json, render)


@app.command("show")
def show_claim(
    number: Annotated[str, typer.Argument(help="Claim number (patient control number) or payer claim number.")],
    practice: PracticeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one claim: status history, lines, diagnoses, remittances and balances."""
    from knowledge.codesets.x12codes import describe_claim_status
    from tools.get_claim import get_claim

    ctx = CliContext()
    with ctx.session() as session:
        detail = get_claim(number, session=session, practice_id=ctx.practice(session, practice).id)

    def render(claim: ClaimDetail) -> None:
        console.print(
            f"[bold]Claim {claim.claim_number}[/bold]  {claim.status}  "
            f"DOS {claim.service_date_from}  {claim.payer} ({claim.payer_id})"
        )
        console.print(f"Patient: {claim.patient.name}  born {claim.patient.birth_date}  member {claim.member_id}")
        console.print(f"Diagnoses: {', '.join(claim.diagnoses)}")
        lines = Table(title="Lines")
        for column in ("#", "code", "modifiers", "units", "charge", "dx pointers"):
            lines.add_column(column)
        for line in claim.lines:
            lines.add_row(
                str(line.line_number),
                line.procedure_code,
                ",".join(line.modifiers),
                str(line.units.normalize()),
                f"{line.charge:,.2f}",
                ",".join(map(str, line.diagnosis_pointers)),
            )
        console.print(lines)
        for event in claim.status_history:
            codes = describe_claim_status(event.category_code, event.status_code, source=event.source).describe(
                short=True
            )
            console.print(f"  {event.effective_date}  {event.status:<15} {event.source:<6} {codes} {event.note or ''}")
        for remit in claim.remittances:
            adjustments = ", ".join(f"{a.group_code}-{a.reason_code} {a.amount:,.2f}" for a in remit.adjustments)
            console.print(
                f"Remittance {remit.trace_number} on {remit.payment_date}: paid {remit.paid:,.2f}; "
                f"{adjustments}; remarks {', '.join(remit.remark_codes) or 'none'}"
            )
        b = claim.balances
        console.print(
            f"Billed {b.billed:,.2f}  payer paid {b.payer_paid:,.2f}  adjusted {b.adjusted:,.2f}  "
            f"patient resp. {b.patient_responsibility:,.2f}  patient paid {b.patient_paid:,.2f}  "
            f"insurance balance {b.insurance_balance:,.2f}  patient balance {b.patient_balance:,.2f}"
        )

    emit(detail, as_json, render)
