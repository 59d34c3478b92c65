"""The Slack app's setup: the manifest, the README steps, and the `billing-assistant slack` command."""

from __future__ import annotations

from pathlib import Path

import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from integrations.cli.main import app

REPO = Path(__file__).resolve().parents[3]


def test_manifest_asks_for_what_the_app_uses() -> None:
    manifest = yaml.safe_load((REPO / "integrations/slack/manifest.yaml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "im:history",
        "im:read",
        "im:write",
        "users:read",
        "users:read.email",
        "commands",
    }
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention", "message.im"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/claim", "/code", "/denials"]
    urls = {c["url"] for c in manifest["features"]["slash_commands"]}
    urls |= {settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]}
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")  # one URL for everything
    assert settings["interactivity"]["is_enabled"] is True


def test_readme_explains_the_slack_setup() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Slack", 1)[1].split("\n## ", 1)[0]
    for needed in ("integrations/slack/manifest.yaml", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        assert needed in section, needed


def test_slack_command_names_the_missing_setting() -> None:
    result = CliRunner().invoke(app, ["slack", "--socket"])
    assert result.exit_code != 0
    assert "SLACK_BOT_TOKEN" in str(result.exception)
