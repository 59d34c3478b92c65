"""Chat turns run on the app's own pool: at most CHAT_CONCURRENCY at once, the rest wait their turn."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.settings import load_settings
from assistant.types import AgentEvent
from integrations.web.app import create_app
from knowledge.practice.accounts import issue_token
from knowledge.practice.models import User
from tests.integrations.web.conftest import WebPractice


class CountingAgent(AgentService):
    """The real agent service, counting how many turns are in progress at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._count_lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def stream(self, text: str, **kwargs: Any) -> Iterator[AgentEvent]:
        with self._count_lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(0.1)  # long enough for every request of the test to have arrived
            yield from super().stream(text, **kwargs)
        finally:
            with self._count_lock:
                self.running -= 1


async def _ask_at_once(app: Any, token: str, claims: list[str]) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers, timeout=60) as client:

        async def ask(number: int, claim: str) -> int:
            stream = "?stream=1" if number % 2 else ""
            response = await client.post(f"/api/chat{stream}", json={"message": f"status of claim {claim}"})
            await response.aread()
            return response.status_code

        return list(await asyncio.gather(*(ask(n, claim) for n, claim in enumerate(claims))))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_chat_turns_run_at_most_chat_concurrency_at_once(web_practice: WebPractice, concurrency: int) -> None:
    settings = load_settings(
        home=web_practice.settings.home,
        database_url=web_practice.settings.database_url,
        environment="test",
        secret_key=web_practice.settings.secret_key.get_secret_value(),
        chat_concurrency=concurrency,
    )
    agent = CountingAgent(
        settings, engine=web_practice.engine, tool_specs=default_tool_specs(), providers=web_practice.providers
    )
    app = create_app(settings, agent=agent)
    with Session(web_practice.engine) as session:
        biller = session.scalars(select(User).where(User.email == "biller@demo.example")).one()
        token = issue_token(session, user=biller, kind="api", name=f"turns {concurrency}").secret
        session.commit()
    try:
        statuses = asyncio.run(_ask_at_once(app, token, ["1001", "1002", "1003", "1004", "1005", "1006"]))
    finally:
        agent.close()
    assert statuses == [200] * 6
    if concurrency == 1:
        assert agent.peak == 1
    else:
        assert 2 <= agent.peak <= concurrency


def test_chat_concurrency_defaults_to_the_cores_offline_and_more_with_an_llm() -> None:
    import os

    assert load_settings().resolved_chat_concurrency == (os.cpu_count() or 1)
    assert load_settings(llm="openai:gpt-4o-mini").resolved_chat_concurrency == 16
    assert load_settings(chat_concurrency=3).resolved_chat_concurrency == 3
