"""Conversation memory: LangGraph checkpoints stored in the practice database (SQLite or PostgreSQL)."""

from __future__ import annotations

import sqlite3
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.engine import make_url


def make_checkpointer(database_url: str) -> tuple[BaseCheckpointSaver[Any], Any]:
    """A checkpointer on the same database as the practice data, and the connection to close at shutdown."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        connection = sqlite3.connect(url.database or ":memory:", check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        sqlite_saver = SqliteSaver(connection)
        sqlite_saver.setup()
        return sqlite_saver, connection
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=8,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
    )
    postgres_saver = PostgresSaver(pool)
    postgres_saver.setup()
    return postgres_saver, pool
