"""Read-only sessions: they refuse writes, and on SQLite they read beside a writer instead of queueing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from knowledge.practice.database import make_session_factory
from knowledge.practice.models import Practice


def _practices(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Practice)) or 0)


def test_a_read_only_session_refuses_to_write(engine: Engine) -> None:
    reads = make_session_factory(engine, read_only=True)
    with reads() as session:
        assert _practices(session) == 0
        session.add(Practice(slug="nope", name="Must not be written"))
        with pytest.raises(RuntimeError, match="read-only session"):
            session.flush()
        session.rollback()
    with Session(engine) as session:
        assert _practices(session) == 0


def test_reads_do_not_wait_for_a_writer(engine: Engine) -> None:
    """A writer holds its transaction open; a read-only session still answers at once, from the last
    committed state. (On SQLite a session that began IMMEDIATE would wait here for the 30 s timeout.)"""
    writes = make_session_factory(engine)
    reads = make_session_factory(engine, read_only=True)
    writer = writes()
    try:
        writer.add(Practice(slug="pending", name="Not committed yet"))
        writer.flush()  # the write lock (SQLite) and the row lock (PostgreSQL) are held from here on
        seen: list[int] = []

        def read() -> None:
            with reads() as session:
                seen.append(_practices(session))

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the read waited for the writer"
        assert seen == [0]
        writer.commit()
    finally:
        writer.close()
    with reads() as session:
        assert _practices(session) == 1
