"""The user's global configuration: `$XDG_CONFIG_HOME/chatvim/config.md`.

A chat document itself (chatvim-compatible): its front matter gives default
settings and may also hold what a document may not (`[providers.NAME]`
tables); its turns are sent before every chat's own. A missing file is
silent; a broken one is a `ConfigError` whose one-line message names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .document import Message, parse_chat
from .settings import Settings


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line."""


class NotText(Exception):
    """A file that is missing or not UTF-8 text; the message is one line."""


@dataclass(frozen=True)
class GlobalConfig:
    path: Path | None = None
    settings: Settings = field(default_factory=Settings)
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    preamble: list[Message] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def config_path(env: Mapping[str, str]) -> Path:
    """Where the global config lives; a relative XDG_CONFIG_HOME is ignored,
    as the XDG spec says."""
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "chatvim" / "config.md"


def load_global_config(env: Mapping[str, str] = os.environ) -> GlobalConfig:
    path = config_path(env)
    if not path.exists():
        return GlobalConfig()
    try:
        text = read_text(path)
    except NotText as exc:
        raise ConfigError(str(exc)) from None
    return parse_global_config(text, path)


def parse_global_config(text: str, path: Path) -> GlobalConfig:
    chat = parse_chat(text, extra_keys=("providers",), forbidden=())
    if chat.errors:
        first = chat.errors[0]
        raise ConfigError(first.one_line(str(path)))
    providers = chat.extra.get("providers", {})
    if not isinstance(providers, Mapping) or not all(isinstance(t, Mapping) for t in providers.values()):
        raise ConfigError(f"{path}: `providers` must hold one table per provider, like [providers.NAME]")
    warnings = [p.one_line(str(path)) for p in chat.problems]
    return GlobalConfig(path, chat.settings, providers, chat.messages, warnings)


def read_text(path: Path) -> str:
    """A file's text, or `NotText` saying in one line why it is not text."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotText(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NotText(f"{path}: is a directory, not a chat file") from None
    except OSError as exc:
        raise NotText(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_and_column(data, exc.start)
        raise NotText(
            f"{path}:{line}:{column}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    if "\x00" in text:
        line, column = _line_and_column(data, data.index(b"\x00"))
        raise NotText(f"{path}:{line}:{column}: a NUL byte: this looks like a binary file, not a chat") from None
    return text


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and byte column of `offset` in `data`."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1
