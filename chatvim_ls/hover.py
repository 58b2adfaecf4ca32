"""What a setting in the front matter does, for a hover; pure.

On a key (or on the value of `model` and `provider`): its type and meaning,
the value in effect and where it comes from (this chat, config.md, or the
default); on `model` and `provider`, also the provider the chat goes to, its
base URL and the variable its key is read from, with whether it is set.
Never a key's value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .chat import Chat
from .config import ConfigError, GlobalConfig
from .problems import Position, Range
from .providers import ChoiceError, NoModel, choose, provider_named
from .settings import NEVER_FROM_DOCUMENT, SETTINGS, Settings


def hover_at(
    head: Chat, at: Position, config: GlobalConfig | ConfigError, env: Mapping[str, str]
) -> tuple[str, Range] | None:
    """Markdown for the setting at `at`, and the range it is about; None elsewhere."""
    front = head.front_matter
    if front is None:
        return None
    for key, place in front.keys.items():
        on_value = key in ("model", "provider") and _inside(place.value, at)
        if _inside(place.key, at) or on_value:
            return _explain(key, head, config, env), place.value if on_value else place.key
    return None


def _inside(range_: Range, at: Position) -> bool:
    return range_.start <= at <= range_.end and range_.start.line == at.line


def _explain(key: str, head: Chat, config: GlobalConfig | ConfigError, env: Mapping[str, str]) -> str:
    if key in NEVER_FROM_DOCUMENT:
        return f"`{key}` may only be set in config.md: a chat you merely opened could send your key elsewhere"
    spec = SETTINGS.get(key)
    if spec is None:
        return f"`{key}` is not a setting; it is ignored"
    lines = [f"**{key}** · {spec.kind}", "", spec.meaning, "", _in_effect(spec.field, head.settings, config)]
    if key in ("model", "provider"):
        lines += ["", _destination(head, config, env)]
    return "\n".join(lines)


def _in_effect(field: str, mine: Settings, config: GlobalConfig | ConfigError) -> str:
    if getattr(mine, field) is not None:
        return f"In effect: {_shown(getattr(mine, field))}, from this chat"
    if isinstance(config, GlobalConfig) and getattr(config.settings, field) is not None:
        return f"In effect: {_shown(getattr(config.settings, field))}, from config.md"
    default = _default(field)
    return f"In effect: {_shown(default)}, the default" if default is not None else "Not set: the provider's default"


def _default(field: str) -> Any:
    delimiters = Settings().delimiters
    defaults = {"user_delimiter": delimiters.user, "assistant_delimiter": delimiters.assistant,
                "system_delimiter": delimiters.system, "delimiter_prefix": delimiters.prefix,
                "delimiter_suffix": delimiters.suffix}  # fmt: skip
    return defaults.get(field)


def _destination(head: Chat, config: GlobalConfig | ConfigError, env: Mapping[str, str]) -> str:
    if isinstance(config, ConfigError):
        return f"config.md is broken: {config.short}"
    settings = head.settings.over(config.settings)
    try:
        model, name = choose(settings.model, settings.provider, config.providers, env)
        provider = provider_named(name, config.providers, env)
    except NoModel as exc:
        return str(exc)
    except ChoiceError as exc:
        return f"Cannot be sent: {exc}"
    if provider.key_command:
        key = f"key from `{provider.key_command[0]}` (api_key_cmd)"
    elif provider.key_env:
        key = f"key from `{provider.key_env}` ({'set' if env.get(provider.key_env, '').strip() else 'not set'})"
    else:
        key = "no key needed"
    return f"Sent to **{provider.name}** as `{model}`, at {_shown_url(provider.base_url)}; {key}"


def _shown_url(url: str) -> str:
    """A base URL without what may be a secret in it: a user and password, a query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url.split("?")[0]


def _shown(value: Any) -> str:
    return f"`{json.dumps(value, ensure_ascii=False)}`"
