"""Engines, sessions and schema migrations for the practice database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import DatabaseOutdated, ServiceUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration under migrations/versions. A test holds it to Alembic's own head; `check_schema`
#: compares the database's recorded revision with it without importing Alembic (0.1 s of every start).
SCHEMA_HEAD = "0008"

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READ_ONLY_OPTION = "billing_assistant_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the URL; SQLite files get their folder created, foreign keys on, and WAL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # A SQLite connection is a file handle: cheap. The pool is sized to the web server's thread
            # pool (40), so a busy server queues on SQLite's lock, never on the pool's 30 s timeout.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        connect_args = {"timeout": 30, **kwargs.pop("connect_args", {})}  # the busy timeout, in seconds
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun by `_begin_immediate` below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # pysqlite begins transactions late and mishandles SAVEPOINT (SQLAlchemy's documented fix is to
            # begin them ourselves). IMMEDIATE takes the write lock at the start: a transaction that reads and
            # then writes while another connection (the conversation checkpointer, another request) commits
            # would otherwise fail at once with a stale snapshot ("database is locked"); this way it waits
            # its turn (up to the 30 s busy timeout). Read-only sessions (`make_session_factory(...,
            # read_only=True)`) begin deferred: in WAL mode they read a snapshot and never wait for a writer,
            # so pages and sign-in checks do not queue behind postings and conversation saves.
            read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``. ``read_only`` sessions only read: on SQLite they take no write lock, and a
    flush in one raises (a write there would be a bug, and could fail under load with a stale snapshot)."""
    if not read_only:
        return sessionmaker(bind=engine, expire_on_commit=False)
    factory = sessionmaker(bind=engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_flush)
    return factory


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only session was asked to write; use a read-write session for this work")


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None, "the project ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise ServiceUnavailable(f"Cannot open the practice database: {exc.orig}") from None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply every migration the database lacks; returns (revision before, revision after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(_alembic_config(engine), "head")
    return before, head_revision()


def _recorded_revision(engine: Engine) -> str | None:
    """The revision in Alembic's version table, read with plain SQL; None when it cannot be read (no table,
    no database, several heads), in which case `check_schema` asks Alembic and reports what it finds."""
    try:
        with engine.connect() as connection:
            rows: list[str] = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all())
    except Exception:  # any failure here only means "ask Alembic", which then reports it clearly
        return None
    return rows[0] if len(rows) == 1 else None


def check_schema(engine: Engine) -> None:
    """Refuse to start on a database that is missing or behind the code's migrations."""
    if _recorded_revision(engine) == SCHEMA_HEAD:
        return
    from alembic.script import ScriptDirectory

    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        tables = inspect(engine).get_table_names()
        what = "has tables but no migration record" if tables else "is empty"
        raise DatabaseOutdated(
            f"The practice database {what}. Run `billing-assistant init` (add `--demo` for the demo practice)."
        )
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise DatabaseOutdated(
            f"The practice database is at revision {current}, which this version does not know "
            f"(it expects {head}): it was written by a newer version of billing-assistant."
        )
    raise DatabaseOutdated(
        f"The practice database is at revision {current}, behind this version's {head}. "
        "Run `billing-assistant init` to apply the migrations."
    )
