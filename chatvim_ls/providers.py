"""LLM providers: the built-in table, and which provider and model to use.

Every provider speaks the OpenAI Chat Completions API. A chat document may
pick a provider and a model by name, never a URL, a key or a header: those
come only from the user's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    key_env: str | None  # None: no key needed (a local server)
    default_model: str


BUILTIN_PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4.1"),
        Provider("xai", "https://api.x.ai/v1", "XAI_API_KEY", "grok-3"),
        Provider("anthropic", "https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY", "claude-sonnet-4-5"),
        Provider(
            "gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", "gemini-2.5-flash"
        ),
        Provider("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openai/gpt-4.1"),
        Provider("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek-chat"),
        Provider("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral-medium-latest"),
        Provider("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "llama-3.3-70b-versatile"),
        Provider("ollama", "http://localhost:11434/v1", None, "llama3.2"),
    )
}

#: Model name prefixes and the provider that serves them.
MODEL_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gpt-", "o1", "o3", "o4", "chatgpt-"), "openai"),
    (("grok-",), "xai"),
    (("claude-",), "anthropic"),
    (("gemini-",), "gemini"),
    (("deepseek-",), "deepseek"),
    (("mistral-", "magistral-", "codestral-"), "mistral"),
)


class ChoiceError(Exception):
    """No provider or model can be chosen; the message says what to set."""


def provider_for_model(model: str, configured: Mapping[str, Mapping[str, Any]] | None = None) -> str | None:
    """The provider that serves `model`: a configured one listing it in its
    `models`, else the built-in prefix table; None when unknown."""
    for name, table in (configured or {}).items():
        models = table.get("models") if isinstance(table, Mapping) else None
        if isinstance(models, list) and model in models:
            return name
    for prefixes, provider in MODEL_PREFIXES:
        if model.startswith(prefixes):
            return provider
    return None


def choose(
    model: str | None,
    provider: str | None,
    configured: Mapping[str, Mapping[str, Any]],
    env: Mapping[str, str],
) -> tuple[str, str]:
    """(model, provider) for a chat, or `ChoiceError` saying what to set.

    An explicit provider wins; else it is inferred from the model; with
    neither, the first built-in provider whose key variable is set, with its
    default model.
    """
    known = {*BUILTIN_PROVIDERS, *configured}
    if provider is not None:
        if provider not in known:
            raise ChoiceError(
                f"unknown provider {provider!r}: use one of {', '.join(sorted(known))}, "
                f"or define [providers.{provider}] in your configuration"
            )
        return (model or _default_model(provider, configured)), provider
    if model is not None:
        inferred = provider_for_model(model, configured)
        if inferred is None:
            raise ChoiceError(
                f'cannot tell which provider serves model {model!r}: add provider = "…" '
                f"to the front matter (one of {', '.join(sorted(known))})"
            )
        return model, inferred
    for candidate in BUILTIN_PROVIDERS.values():
        if candidate.key_env and env.get(candidate.key_env):
            return candidate.default_model, candidate.name
    variables = ", ".join(p.key_env for p in BUILTIN_PROVIDERS.values() if p.key_env)
    raise ChoiceError(
        f"no model chosen and no API key found: set one of {variables}, or set `model` in the front matter"
    )


def _default_model(provider: str, configured: Mapping[str, Mapping[str, Any]]) -> str:
    table = configured.get(provider)
    models = table.get("models") if isinstance(table, Mapping) else None
    if isinstance(models, list) and models and isinstance(models[0], str):
        return models[0]
    if provider in BUILTIN_PROVIDERS:
        return BUILTIN_PROVIDERS[provider].default_model
    raise ChoiceError(f"provider {provider!r} has no default model: set `model` in the front matter")
