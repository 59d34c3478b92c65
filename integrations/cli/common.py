"""What every command shares: settings, the practice database, and output as text or JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

from assistant.settings import Settings, load_settings
from knowledge.errors import NotFound

if TYPE_CHECKING:
    # The database stack (SQLAlchemy, Alembic, the models) is imported by the commands that open the
    # database, not by every command: `codes lookup` never needs it.
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from knowledge.practice.models import Practice

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
PracticeOption = Annotated[
    str | None, typer.Option("--practice", help="Practice slug (default: BILLING_ASSISTANT_PRACTICE).")
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliContext:
    """Settings and database handles for one command; built lazily so `--help` touches nothing."""

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def engine(self) -> Engine:
        from knowledge.practice.database import make_engine

        return make_engine(self.settings.resolved_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        from knowledge.practice.database import make_session_factory

        return make_session_factory(self.engine)

    @contextmanager
    def session(self, *, check: bool = True) -> Iterator[Session]:
        """A session in one transaction, on a database whose schema is current."""
        from knowledge.practice.database import check_schema, session_scope

        if check:
            check_schema(self.engine)
        with session_scope(self.sessions) as session:
            yield session

    def practice(self, session: Session, slug: str | None) -> Practice:
        from sqlalchemy import select

        from knowledge.practice.models import Practice

        wanted = slug or self.settings.practice
        practice = session.scalar(select(Practice).where(Practice.slug == wanted))
        if practice is None:
            raise NotFound(
                f"No practice {wanted!r} in the database. Run `billing-assistant init --demo` for the demo practice."
            )
        return practice


def to_jsonable(value: Any) -> Any:
    """Dataclasses, pydantic models, Decimals and dates as plain JSON values (money stays a string)."""
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def emit(result: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print a result as JSON (one document on stdout) or through its human renderer."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")
    else:
        render(result)
