"""`chatvim-ls health`: what an editor's health check shows, as JSON.

The configuration as the server reads it: config.md's path and every
problem in it (file and line), the editor settings given, and what a new
chat would use: provider, model, base URL and where its key comes from.
Never a key's value. The Neovim plugin's `:checkhealth chatvim` renders it,
so the rules live here once, not in a Lua copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .chat import parse_chat
from .config import (
    SERVER_KEYS,
    ConfigError,
    GlobalConfig,
    NotText,
    ServerOptions,
    config_path,
    parse_global_config,
    read_text,
)
from .problems import ChatvimError
from .providers import BUILTIN_PROVIDERS, NO_MODEL, provider_named
from .request import build_request

#: The chat a new chat would be: a question and nothing else.
NEW_CHAT = "# === USER ===\n\nhello\n"


def report(settings: Any, env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The health report; `settings` are the editor's (initializationOptions)."""
    path = config_path(env)
    config, problems = _read_config(path)
    result: dict[str, Any] = {"config": {"path": str(path), "exists": path.exists(), "problems": problems}}
    try:
        editor = ServerOptions.from_mapping(settings, "editor settings") if isinstance(settings, Mapping) else None
    except ConfigError as exc:
        result["settings_problem"] = str(exc)
        editor = None
    if editor is not None:
        config = replace(config, options=editor.over(config.options))
    if any(p["severity"] == "error" for p in problems):
        result["chat"] = {"problem": "config.md has errors: every chat is refused until they are fixed"}
    else:
        result["chat"] = _new_chat(config, env)
    result["keys"] = [
        {"variable": p.key_env, "set": bool(env.get(p.key_env, "").strip())} for p in BUILTIN_PROVIDERS.values()
        if p.key_env
    ]  # fmt: skip
    return result


def _read_config(path: Path) -> tuple[GlobalConfig, list[dict[str, str]]]:
    """config.md as the server reads it, and its problems: every one in its
    settings, and the first in its server options (`providers`, timeouts)."""
    if not path.exists():
        return GlobalConfig(), []
    try:
        text = read_text(path)
    except NotText as exc:
        return GlobalConfig(), [{"severity": "error", "message": str(exc)}]
    chat = parse_chat(text, extra_keys=SERVER_KEYS, forbidden=())
    problems = [{"severity": p.severity.value, "message": p.one_line(str(path))} for p in chat.problems]
    try:
        return parse_global_config(text, path), problems
    except ConfigError as exc:
        if not any(p["message"] == str(exc) for p in problems):
            problems.append({"severity": "error", "message": str(exc)})
        return GlobalConfig(), problems


def _new_chat(config: GlobalConfig, env: Mapping[str, str]) -> dict[str, Any]:
    """What a new chat would use, or the problem that stops it."""
    try:
        request = build_request(parse_chat(NEW_CHAT, config.settings), config, env, preview=True)
        if not request.provider:
            return {"problem": NO_MODEL}
        provider = provider_named(request.provider, config.providers, env)
    except ChatvimError as exc:
        return {"problem": str(exc)}
    if provider.key_command:
        key: dict[str, Any] = {"command": provider.key_command[0]}
    elif provider.key_env:
        key = {"variable": provider.key_env, "set": bool(env.get(provider.key_env, "").strip())}
    else:
        key = {"none": True}
    return {"provider": provider.name, "model": request.model, "base_url": provider.base_url, "key": key}
