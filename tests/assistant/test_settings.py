from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings, load_settings, settings_table
from knowledge.errors import ConfigurationError


def test_defaults_put_everything_in_home(isolated_environment: Path) -> None:
    settings = load_settings()
    assert settings.llm == "offline"
    assert settings.resolved_home == isolated_environment.resolve()
    assert settings.resolved_database_url == f"sqlite:///{isolated_environment.resolve() / 'practice.db'}"


def test_bad_llm_names_the_setting_and_what_it_expects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_LLM", "gpt4 please")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "BILLING_ASSISTANT_LLM" in caught.value.message
    assert "provider:model" in caught.value.message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BILLING_ASSISTANT_DATABASE_URL", "mysql://x", "postgresql"),
        ("BILLING_ASSISTANT_ENVIRONMENT", "staging", "BILLING_ASSISTANT_ENVIRONMENT"),
        ("BILLING_ASSISTANT_CHROMA_URL", "localhost:8000", "http://"),
        ("BILLING_ASSISTANT_LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_bad_values_fail_with_a_named_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert variable in caught.value.message
    assert expected in caught.value.message


def test_production_refuses_the_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("BILLING_ASSISTANT_SECRET_KEY", "x" * 40)
    assert load_settings().environment.value == "production"


def test_dotenv_file_is_read(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BILLING_ASSISTANT_HOME")
    Path(".env").write_text("BILLING_ASSISTANT_HOME=/tmp/from-dotenv\nBILLING_ASSISTANT_LLM=ollama:llama3.1\n")
    settings = load_settings()
    assert settings.home == Path("/tmp/from-dotenv")
    assert settings.llm == "ollama:llama3.1"


def test_slack_tokens_use_their_usual_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("BILLING_ASSISTANT_SLACK_PHI_CHANNELS", "C01, C02")
    settings = load_settings()
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "s3cret"
    assert settings.slack_phi_channels == ["C01", "C02"]


def test_every_setting_is_described_and_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, _default, description in settings_table():
        assert description, f"{name} has no description"
        assert f"`{name}`" in readme, f"{name} is missing from the README's configuration table"
    assert len(settings_table()) == len(Settings.model_fields)
