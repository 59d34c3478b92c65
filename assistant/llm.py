"""The chat model named by the LLM setting: the offline planner, or a provider through `init_chat_model`."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from assistant.planner import OfflinePlanner
from assistant.settings import Settings
from knowledge.errors import ConfigurationError


def make_chat_model(settings: Settings) -> BaseChatModel:
    if settings.llm == "offline":
        return OfflinePlanner(embedding_model=settings.embedding_model, cache_dir=settings.resolved_home / "cache")
    from langchain.chat_models import init_chat_model

    provider, _, model = settings.llm.partition(":")
    kwargs: dict[str, Any] = {"temperature": 0}
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if settings.llm_api_key:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    try:
        chat: BaseChatModel = init_chat_model(model, model_provider=provider, **kwargs)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(f"BILLING_ASSISTANT_LLM: cannot use {settings.llm!r}: {exc}") from None
    return chat
