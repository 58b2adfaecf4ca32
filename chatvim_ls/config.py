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
from .providers import ProviderConfigError, check_provider_tables
from .settings import Settings

#: Keys of the global config and editor settings that a document cannot set.
SERVER_KEYS = ("providers", "flush", "first_byte_timeout", "chunk_timeout", "max_retries")


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line."""


class NotText(Exception):
    """A file that is missing or not UTF-8 text; the message is one line."""


@dataclass(frozen=True)
class ServerOptions:
    """How the server talks to providers and writes answers (never from a document)."""

    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    flush: str | None = None  # "token" (default) or "line": write whole lines only
    first_byte_timeout: float | None = None
    chunk_timeout: float | None = None
    max_retries: int | None = None

    @staticmethod
    def from_mapping(data: Mapping[str, Any], where: str) -> ServerOptions:
        """Read options from config.md or editor settings; ConfigError if wrong."""
        try:
            providers = check_provider_tables(data.get("providers", {}), where)
        except ProviderConfigError as exc:
            raise ConfigError(str(exc)) from None
        flush = data.get("flush")
        if flush not in (None, "token", "line"):
            raise ConfigError(f'{where}: `flush` must be "token" or "line"')
        timeouts = {}
        for key in ("first_byte_timeout", "chunk_timeout"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ConfigError(f"{where}: `{key}` must be a number of seconds above 0")
            timeouts[key] = float(value) if value is not None else None
        retries = data.get("max_retries")
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise ConfigError(f"{where}: `max_retries` must be a whole number, 0 or more")
        return ServerOptions(providers, flush, timeouts["first_byte_timeout"], timeouts["chunk_timeout"], retries)

    def over(self, base: ServerOptions) -> ServerOptions:
        """These options, with `base` filling what is not set here."""
        return ServerOptions(
            providers={**base.providers, **self.providers},
            flush=self.flush or base.flush,
            first_byte_timeout=self.first_byte_timeout or base.first_byte_timeout,
            chunk_timeout=self.chunk_timeout or base.chunk_timeout,
            max_retries=self.max_retries if self.max_retries is not None else base.max_retries,
        )


@dataclass(frozen=True)
class GlobalConfig:
    path: Path | None = None
    settings: Settings = field(default_factory=Settings)
    options: ServerOptions = field(default_factory=ServerOptions)
    preamble: list[Message] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def providers(self) -> Mapping[str, Mapping[str, Any]]:
        return self.options.providers


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
    chat = parse_chat(text, extra_keys=SERVER_KEYS, forbidden=())
    if chat.errors:
        first = chat.errors[0]
        raise ConfigError(first.one_line(str(path)))
    options = ServerOptions.from_mapping(chat.extra, str(path))
    warnings = [p.one_line(str(path)) for p in chat.problems]
    return GlobalConfig(path, chat.settings, options, chat.messages, warnings)


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
