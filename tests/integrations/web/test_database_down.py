"""On PostgreSQL: the database stops accepting connections while the server runs. The API answers 503 with
a readable reason, /api/health says so, and everything works again once the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from assistant.service import AgentService
from integrations.web.app import create_app
from knowledge.practice.accounts import add_user
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.models import Practice, Role
from tests.fixtures.databases import PostgresCluster
from tests.integrations.web.conftest import web_settings

EMAIL, PASSWORD = "admin@pg.example", "postgres-admin-password"


@pytest.fixture
def pg_app(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[tuple[TestClient, PostgresCluster, str]]:
    url = postgres_cluster.create_database()
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        practice = Practice(slug="pg", name="PostgreSQL practice")
        session.add(practice)
        session.flush()
        add_user(session, practice_id=practice.id, email=EMAIL, name="Admin", role=Role.ADMIN, password=PASSWORD)
        session.commit()
    settings = web_settings(tmp_path / "home", url)
    agent = AgentService(settings, engine=engine, tool_specs=[], providers={})
    yield TestClient(create_app(settings, agent=agent)), postgres_cluster, str(make_url(url).database)
    agent.close()
    engine.dispose()


def _allow_connections(cluster: PostgresCluster, database: str, allowed: bool) -> None:
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": database},
            )
    admin.dispose()


@pytest.mark.postgres
def test_a_stopped_database_gives_503_and_health_reports_it(pg_app: tuple[TestClient, PostgresCluster, str]) -> None:
    client, cluster, database = pg_app
    login = client.post("/api/login", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    assert client.get("/api/health").json()["database"] == "postgresql"
    assert client.get("/api/threads").json() == []

    _allow_connections(cluster, database, False)
    try:
        threads = client.get("/api/threads")
        assert threads.status_code == 503
        assert threads.json()["error"] == "service_unavailable" and "database" in threads.json()["message"]
        health = client.get("/api/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable" and health.json()["message"]
        streamed = client.post("/api/chat?stream=1", json={"message": "what is E11.65?"})
        assert streamed.status_code == 503 and streamed.json()["error"] == "service_unavailable"
    finally:
        _allow_connections(cluster, database, True)
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/threads").status_code == 200  # the server kept serving
