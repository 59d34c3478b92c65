from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from knowledge.errors import DatabaseOutdated
from knowledge.practice.database import (
    SCHEMA_HEAD,
    _alembic_config,
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from knowledge.practice.models import Base


def test_upgrade_creates_every_model_table(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    check_schema(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_the_schema_head_constant_is_alembics_head() -> None:
    # Adding a migration means moving SCHEMA_HEAD too: check_schema trusts it without asking Alembic.
    assert head_revision() == SCHEMA_HEAD


def test_a_current_database_is_checked_without_importing_alembic(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    code = (
        "import sys\n"
        "from knowledge.practice.database import check_schema, make_engine\n"
        f"check_schema(make_engine({url!r}))\n"
        "print('alembic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    before, after = upgrade(engine)
    assert before == after == head_revision()


def test_migrations_match_the_models(engine: Engine) -> None:
    """Autogenerate against the migrated database finds nothing: the migrations and models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_an_empty_database_is_refused_with_the_fix(database_url: str) -> None:
    engine = make_engine(database_url)
    with pytest.raises(DatabaseOutdated, match="billing-assistant init"):
        check_schema(engine)


def test_a_database_behind_the_code_is_refused_with_the_fix(engine: Engine) -> None:
    command.downgrade(_alembic_config(engine), "base")
    with engine.begin() as connection:  # an older schema: alembic knows the revision, the code is ahead
        connection.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(DatabaseOutdated, match="init"):
        check_schema(engine)
    upgrade(engine)
    check_schema(engine)


def test_a_database_from_a_newer_version_is_named(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(DatabaseOutdated, match="newer version"):
        check_schema(engine)
