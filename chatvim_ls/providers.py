"""LLM providers: the built-in table, and which provider and model to use.

Every provider speaks the OpenAI Chat Completions API. A chat document may
pick a provider and a model by name, never a URL, a key or a header: those
come only from the user's configuration.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .messages import first_fitting
from .problems import ChatvimError

KEY_COMMAND_TIMEOUT = 10.0  # seconds an api_key_cmd may take
KEY_COMMAND_CACHE = 600.0  # seconds a key from api_key_cmd is reused


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    key_env: str | None  # None: no key needed (a local server)
    default_model: str
    key_command: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    stream_usage: bool = True  # sends stream_options.include_usage
    # How it continues a partial answer (`chatvim.continue`): "prefix" (the last assistant
    # message marked `prefix: true`: Mistral, DeepSeek at its /beta URL), "prefill" (a last
    # assistant message is continued as it is: Anthropic, OpenRouter), or "ask" (a user message
    # asks for the rest; the text it repeats is cut).
    continues_by: str = "ask"


#: The built-in providers. With no model and no provider set anywhere, the
#: first one in this order whose key variable is set is used (ollama: when
#: OLLAMA_HOST is set): the big providers' own APIs, then openrouter, groq, ollama.
BUILTIN_PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4.1"),
        Provider("xai", "https://api.x.ai/v1", "XAI_API_KEY", "grok-3"),
        Provider(
            "anthropic",
            "https://api.anthropic.com/v1/",
            "ANTHROPIC_API_KEY",
            "claude-sonnet-4-5",
            continues_by="prefill",
        ),
        Provider(
            "gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", "gemini-2.5-flash"
        ),
        Provider("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek-chat", continues_by="prefix"),
        Provider(
            "mistral",
            "https://api.mistral.ai/v1",
            "MISTRAL_API_KEY",
            "mistral-medium-latest",
            stream_usage=False,
            continues_by="prefix",
        ),
        Provider(
            "openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openai/gpt-4.1", continues_by="prefill"
        ),
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


class ChoiceError(ChatvimError):
    """No provider or model can be chosen; the message says what to set."""


NO_MODEL = "no model set and no provider key found: set `model`, or export e.g. OPENAI_API_KEY"


class NoModel(ChoiceError):
    """Nothing says which model to use, and no key points at a provider."""


@dataclass(frozen=True)
class ProviderTable:
    """One checked `[providers.NAME]` table of config.md or the editor's
    settings (`check_provider_tables`); None and empty: not set there."""

    base_url: str | None = None
    api_key_env: str | None = None
    api_key_cmd: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    stream_usage: bool | None = None
    continues_by: str | None = None


#: The configured providers by name.
ProviderTables = Mapping[str, ProviderTable]


def provider_for_model(model: str, configured: ProviderTables | None = None) -> str | None:
    """The provider that serves `model`: a configured one listing it in its
    `models`, else the built-in prefix table; None when unknown."""
    for name, table in (configured or {}).items():
        if model in table.models:
            return name
    for prefixes, provider in MODEL_PREFIXES:
        if model.startswith(prefixes):
            return provider
    return None


def choose(
    model: str | None,
    provider: str | None,
    configured: ProviderTables,
    env: Mapping[str, str],
) -> tuple[str, str]:
    """(model, provider) for a chat, or `ChoiceError` saying what to set.

    An explicit provider wins; else it is inferred from the model; with
    neither, the first built-in provider whose key variable is set, with its
    default model.
    """
    known = [*BUILTIN_PROVIDERS, *configured]
    if provider is not None:
        if provider not in known:
            guess = difflib.get_close_matches(provider, known, n=1, cutoff=0.65)
            fix = f"did you mean {guess[0]!r}?" if guess else f"define [providers.{provider}] in config.md"
            raise ChoiceError(f"unknown provider {provider!r}: {fix}")
        return (model or _default_model(provider, configured)), provider
    if model is not None:
        inferred = provider_for_model(model, configured)
        if inferred is None:
            raise ChoiceError(
                first_fitting(
                    f"which provider serves model {model!r}? set `provider` in the front matter",
                    "which provider serves this model? set `provider` in the front matter",
                )
            )
        return model, inferred
    chosen = auto_provider(env)
    if chosen is None:
        raise NoModel(NO_MODEL)
    return chosen.default_model, chosen.name


def auto_provider(env: Mapping[str, str]) -> Provider | None:
    """The provider used when no model and no provider is set anywhere."""
    for candidate in BUILTIN_PROVIDERS.values():
        if env.get(candidate.key_env or "OLLAMA_HOST", "").strip():
            return candidate
    return None


def _default_model(provider: str, configured: ProviderTables) -> str:
    table = configured.get(provider)
    if table is not None and table.models:
        return table.models[0]
    if provider in BUILTIN_PROVIDERS:
        return BUILTIN_PROVIDERS[provider].default_model
    raise ChoiceError(f"provider {provider!r} has no default model: set `model` in the front matter")


# -- configured providers and their keys -------------------------------------

PROVIDER_KEYS = ("base_url", "api_key_env", "api_key_cmd", "headers", "models", "stream_usage", "continues_by")
CONTINUES_BY = ("prefix", "prefill", "ask")


class ProviderConfigError(ChatvimError):
    """A `providers.NAME` table is wrong; the message is one line. `provider`
    and `key` say where (None: the `providers` value itself)."""

    def __init__(self, message: str, provider: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.key = key


def check_provider_tables(tables: Mapping[str, Any], where: str) -> dict[str, ProviderTable]:
    """Validate `providers.NAME` tables (from config.md or editor settings)."""
    if not isinstance(tables, Mapping):
        raise ProviderConfigError(f"{where}: `providers` must hold one table per provider, like [providers.NAME]")
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ProviderConfigError(f"{where}: providers.{name} must be a table", name)
        for key, problem in _table_problems(name, table):
            raise ProviderConfigError(f"{where}: providers.{name}{problem}", name, key)
    return {name: _table(table) for name, table in tables.items()}


def _table(table: Mapping[str, Any]) -> ProviderTable:
    """A table `_table_problems` found nothing wrong with."""
    return ProviderTable(
        base_url=table.get("base_url"),
        api_key_env=table.get("api_key_env"),
        api_key_cmd=tuple(table.get("api_key_cmd", ())),
        headers=dict(table.get("headers", {})),
        models=tuple(table.get("models", ())),
        stream_usage=table.get("stream_usage"),
        continues_by=table.get("continues_by"),
    )


def _table_problems(name: str, table: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """(key, what is wrong) for each problem of one `providers.NAME` table."""
    problems: list[tuple[str | None, str]] = []
    unknown = sorted(set(table) - set(PROVIDER_KEYS))
    if unknown:
        guess = difflib.get_close_matches(unknown[0], PROVIDER_KEYS, n=1)
        hint = f"; did you mean `{guess[0]}`?" if guess else " (see the README's config.md keys)"
        problems.append((unknown[0], f": unknown key `{unknown[0]}`{hint}"))
    if name not in BUILTIN_PROVIDERS and "base_url" not in table:
        problems.append((None, " needs a base_url"))
    url = table.get("base_url", "http://")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.append(("base_url", ".base_url must be an http:// or https:// URL"))
    if not isinstance(table.get("api_key_env", ""), str):
        problems.append(("api_key_env", ".api_key_env must name an environment variable"))
    command = table.get("api_key_cmd", [])
    if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
        problems.append(("api_key_cmd", '.api_key_cmd must be a list, like ["pass", "show", "x"]'))
    headers = table.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        problems.append(("headers", ".headers must map header names to text"))
    models = table.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        problems.append(("models", ".models must be a list of model names"))
    if not isinstance(table.get("stream_usage", True), bool):
        problems.append(("stream_usage", ".stream_usage must be true or false"))
    if table.get("continues_by", "ask") not in CONTINUES_BY:
        problems.append(("continues_by", '.continues_by must be "prefix", "prefill" or "ask"'))
    return problems


def provider_named(name: str, configured: ProviderTables, env: Mapping[str, str]) -> Provider:
    """The provider `name`: built-in, configured, or a built-in with
    configured overrides. OPENAI_BASE_URL and OLLAMA_HOST are honoured."""
    base = BUILTIN_PROVIDERS.get(name)
    if base is not None:
        if name == "openai" and env.get("OPENAI_BASE_URL"):
            base = _replace(base, base_url=env["OPENAI_BASE_URL"])
        if name == "ollama" and env.get("OLLAMA_HOST"):
            host = env["OLLAMA_HOST"]
            host = host if host.startswith(("http://", "https://")) else f"http://{host}"
            base = _replace(base, base_url=host.rstrip("/") + "/v1")
    table = configured.get(name)
    if table is None:
        if base is None:
            raise ChoiceError(f"unknown provider {name!r}")
        return base
    stream_usage = table.stream_usage if table.stream_usage is not None else (base.stream_usage if base else True)
    return Provider(
        name=name,
        base_url=table.base_url or (base.base_url if base else ""),
        key_env=table.api_key_env or (base.key_env if base and not table.api_key_cmd else None),
        default_model=table.models[0] if table.models else (base.default_model if base else ""),
        key_command=table.api_key_cmd,
        headers=table.headers,
        models=table.models,
        stream_usage=stream_usage,
        continues_by=table.continues_by or (base.continues_by if base and not table.base_url else "ask"),
    )


def _replace(provider: Provider, **changes: Any) -> Provider:
    return replace(provider, **changes)


class MissingKey(ChatvimError):
    """No key for a provider; the message says what to set. Never holds the key."""


_key_cache: dict[tuple[str, ...], tuple[float, str]] = {}


async def api_key(provider: Provider, env: Mapping[str, str] = os.environ) -> str | None:
    """The provider's key: from `api_key_cmd` (run without a shell, with a
    timeout, cached) or from its environment variable; None if it needs none."""
    if provider.key_command:
        return await _key_from_command(provider)
    return key_from_environment(provider, env)


def key_from_environment(provider: Provider, env: Mapping[str, str]) -> str | None:
    """The key from the provider's variable (None if it needs none), or MissingKey."""
    if provider.key_env is None:
        return None
    key = env.get(provider.key_env, "").strip()
    if not key:
        raise MissingKey(f"{provider.key_env} is not set: export it where you start your editor")
    return key


async def _key_from_command(provider: Provider) -> str:
    command = provider.key_command
    cached = _key_cache.get(command)
    if cached and time.monotonic() - cached[0] < KEY_COMMAND_CACHE:
        return cached[1]
    where = f"api_key_cmd of provider {provider.name!r} ({command[0]})"
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    except OSError as exc:
        raise MissingKey(f"{where} could not start: {exc.strerror or exc}") from None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), KEY_COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise MissingKey(f"{where} took longer than {KEY_COMMAND_TIMEOUT:g} s") from None
    if process.returncode != 0:
        raise MissingKey(f"{where} failed with exit status {process.returncode}; run it yourself to see why")
    key = output.decode("utf-8", "replace").strip()
    if not key:
        raise MissingKey(f"{where} printed nothing")
    _key_cache[command] = (time.monotonic(), key)
    return key


def forget_keys() -> None:
    """Drop cached keys (after a configuration change)."""
    _key_cache.clear()
