"""The user's global configuration: `$XDG_CONFIG_HOME/chatvim/config.md`.

A chat document itself (chatvim-compatible): its front matter gives default
settings and may also hold what a document may not (`[providers.NAME]`
tables); its turns are sent before every chat's own. A missing file is
silent; a broken one is a `ConfigError` whose one-line message names it.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chat import Chat, Message, parse_chat
from .problems import ChatvimError
from .providers import ProviderConfigError, ProviderTables, check_provider_tables
from .settings import Settings
from .textdoc import split_lines

#: Keys of the global config and editor settings that a document cannot set.
SERVER_KEYS = ("providers", "flush", "first_byte_timeout", "chunk_timeout", "max_retries", "chat_dirs", "new_chats",
               "context_roots", "context_limit")  # fmt: skip


class ConfigError(ChatvimError):
    """The configuration cannot be used; the message names the file and line,
    `short` only the file's name (`messages.WIDTH`), and `setting` is the key
    path at fault (`("providers", "local", "base_url")`)."""

    def __init__(self, message: str, *, short: str | None = None, setting: tuple[str, ...] = ()) -> None:
        super().__init__(message, short=short)
        self.setting = setting

    def one_line(self, where: str) -> str:
        return str(self)  # it names its own file


class NotText(ChatvimError):
    """A file that is missing or not UTF-8 text; the message is one line."""


@dataclass(frozen=True)
class ServerOptions:
    """How the server talks to providers and writes answers (never from a document)."""

    providers: ProviderTables = field(default_factory=dict)
    flush: str | None = None  # "token" (default) or "line": write whole lines only
    first_byte_timeout: float | None = None
    chunk_timeout: float | None = None
    max_retries: int | None = None
    chat_dirs: tuple[Path, ...] = ()  # every markdown file under these is a chat (code actions)
    new_chats: Path | None = None  # where `chatvim.new` puts chats (`new_chats_folder`); a chat folder too
    context_roots: tuple[Path, ...] = ()  # folders whose files `@file:` may send from any chat (context.py)
    context_limit: int | None = None  # bytes an `@file:` may send (default context.CONTEXT_LIMIT)

    @staticmethod
    def from_mapping(data: Mapping[str, Any], where: str) -> ServerOptions:
        """Read options from config.md or editor settings; ConfigError if wrong."""
        try:
            providers = check_provider_tables(data.get("providers", {}), where)
        except ProviderConfigError as exc:
            path = ("providers", *(part for part in (exc.provider, exc.key) if part))
            raise ConfigError(str(exc), setting=path) from None
        flush = data.get("flush")
        if flush not in (None, "token", "line"):
            raise ConfigError(f'{where}: `flush` must be "token" or "line"', setting=("flush",))
        timeouts = {}
        for key in ("first_byte_timeout", "chunk_timeout"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ConfigError(f"{where}: `{key}` must be a number of seconds above 0", setting=(key,))
            timeouts[key] = float(value) if value is not None else None
        retries = data.get("max_retries")
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise ConfigError(f"{where}: `max_retries` must be a whole number, 0 or more", setting=("max_retries",))
        dirs = data.get("chat_dirs", [])
        if not isinstance(dirs, list) or not all(isinstance(d, str) and d for d in dirs):
            raise ConfigError(
                f'{where}: `chat_dirs` must be a list of folders, like ["~/chats"]', setting=("chat_dirs",)
            )
        chat_dirs = tuple(Path(d).expanduser().resolve() for d in dirs)
        new_chats = data.get("new_chats")
        if new_chats is not None and (not isinstance(new_chats, str) or not new_chats):
            raise ConfigError(f'{where}: `new_chats` must be a folder, like "~/chats"', setting=("new_chats",))
        roots = data.get("context_roots", [])
        if not isinstance(roots, list) or not all(
            isinstance(d, str) and Path(d).expanduser().is_absolute() for d in roots
        ):
            raise ConfigError(
                f'{where}: `context_roots` must be a list of absolute folders, like ["~/notes"]',
                setting=("context_roots",),
            )
        limit = data.get("context_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
            raise ConfigError(f"{where}: `context_limit` must be a number of bytes above 0", setting=("context_limit",))
        return ServerOptions(
            providers, flush, timeouts["first_byte_timeout"], timeouts["chunk_timeout"], retries, chat_dirs,
            Path(new_chats).expanduser().resolve() if new_chats else None,
            tuple(Path(d).expanduser().resolve() for d in roots), limit,
        )  # fmt: skip

    def over(self, base: ServerOptions) -> ServerOptions:
        """These options, with `base` filling what is not set here."""
        return ServerOptions(
            providers={**base.providers, **self.providers},
            flush=self.flush or base.flush,
            first_byte_timeout=self.first_byte_timeout or base.first_byte_timeout,
            chunk_timeout=self.chunk_timeout or base.chunk_timeout,
            max_retries=self.max_retries if self.max_retries is not None else base.max_retries,
            chat_dirs=self.chat_dirs + base.chat_dirs,
            new_chats=self.new_chats or base.new_chats,
            context_roots=self.context_roots + base.context_roots,
            context_limit=self.context_limit or base.context_limit,
        )

    def new_chats_folder(self, env: Mapping[str, str]) -> Path:
        """Where new chats go: `new_chats`, else $XDG_DATA_HOME/chatvim/chats
        (~/.local/share/chatvim/chats)."""
        if self.new_chats is not None:
            return self.new_chats
        base = env.get("XDG_DATA_HOME", "")
        root = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".local" / "share"
        return root / "chatvim" / "chats"


@dataclass(frozen=True)
class GlobalConfig:
    path: Path | None = None
    settings: Settings = field(default_factory=Settings)
    options: ServerOptions = field(default_factory=ServerOptions)
    preamble: list[Message] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def providers(self) -> ProviderTables:
        return self.options.providers


def config_path(env: Mapping[str, str]) -> Path:
    """Where the global config lives; a relative XDG_CONFIG_HOME is ignored,
    as the XDG spec says."""
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "chatvim" / "config.md"


def load_global_config(env: Mapping[str, str] = os.environ) -> GlobalConfig:
    """config.md, read again only when it changed (the server asks for it on
    every didOpen, code action and answer)."""
    path = config_path(env)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return GlobalConfig()
    except OSError:  # read_text says why
        stat = None
    return _read_global_config(path, stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)


@functools.lru_cache(maxsize=4)
def _read_global_config(path: Path, mtime_ns: int, size: int) -> GlobalConfig:
    """One version of config.md (a `ConfigError` is not cached: the file is read again)."""
    try:
        text = read_text(path)
    except NotText as exc:
        raise ConfigError(str(exc), short=str(exc).replace(str(path), path.name)) from None
    return parse_global_config(text, path)


def parse_global_config(text: str, path: Path) -> GlobalConfig:
    chat = parse_chat(text, extra_keys=SERVER_KEYS, forbidden=())
    if chat.errors:
        first = chat.errors[0]
        raise ConfigError(first.one_line(str(path)), short=first.one_line(path.name).replace(": error:", ":"))
    try:
        options = ServerOptions.from_mapping(chat.extra, str(path))
    except ConfigError as exc:
        problem = str(exc).removeprefix(f"{path}: ")
        line, column = setting_place(split_lines(text)[0], chat, exc.setting)
        raise ConfigError(
            f"{path}:{line + 1}:{column + 1}: error: {problem}", short=f"{path.name}:{line + 1}: {problem}"
        ) from None
    warnings = [p.one_line(str(path)) for p in chat.problems]
    return GlobalConfig(path, chat.settings, options, chat.messages, warnings)


def setting_place(lines: list[str], chat: Chat, setting: tuple[str, ...]) -> tuple[int, int]:
    """Line and column (0-based) where a key path such as ("providers",
    "local", "base_url") is written in the front matter, TOML or YAML: each
    part is looked for at or after the place of the one before (so
    `[providers.local]` then `base_url = …` is found, and dotted keys and
    inline tables too). Where a part is not found, the place of the last found."""
    front = chat.front_matter
    if front is None:
        return 0, 0
    place = (front.start_line, 0)
    line, column = front.start_line + 1, 0
    for number_of_part, part in enumerate(setting, 1):
        after = r"[=:]" if number_of_part == len(setting) else r"(?:[=:\].]|$)"  # the last: a key, not a value
        key = re.compile(rf"""(?:^|[\s\[.{{,])["']?{re.escape(part)}["']?\s*{after}""")
        for number in range(line, front.end_line):
            found = key.search(lines[number], column if number == line else 0)
            if found:
                start = found.start() + (found[0][:1] in " \t[.{,")
                place = line, column = number, start
                column = found.end() - 1
                break
        else:
            break
    return place


def read_text(path: Path) -> str:
    """A file's text, or `NotText` saying in one line why it is not text."""
    return text_of(read_file(path), str(path))


def read_file(path: Path) -> bytes:
    """A file's bytes, or `NotText` saying in one line why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotText(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NotText(f"{path}: is a directory, not a chat file") from None
    except OSError as exc:
        raise NotText(f"{path}: cannot read it ({exc.strerror or exc})") from None


def text_of(data: bytes, where: str) -> str:
    """Bytes as UTF-8 text, or `NotText` naming `where` and the place that is not text."""
    path = where
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
