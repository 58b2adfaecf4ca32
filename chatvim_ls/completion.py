"""What to offer where the cursor is in a chat (LSP completion); pure.

- In the front matter (TOML or YAML), at the start of a line: the setting
  keys not set yet, each with its type and meaning (`settings.SETTINGS`).
- After `provider =`, `model =` or `reasoning_effort =` (`:` in YAML): the
  provider names (built-in and configured), the model names (each built-in
  provider's default and every configured provider's `models`), the
  reasoning levels. TOML values come quoted.
- In the body, at the start of a line: the chat's delimiter lines (its own,
  when the front matter or config.md sets them).
- In the body, after `@file:`: the names in the folder typed so far that
  may be sent (`context.choices`, given as `paths`), folders first.

An `Item` replaces the text from its `start` column to the cursor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .chat import Chat
from .config import GlobalConfig
from .providers import BUILTIN_PROVIDERS
from .settings import KNOWN_REASONING_EFFORTS, SETTINGS, Settings


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "setting", "value", "delimiter", "file" or "folder"
    detail: str
    documentation: str
    insert: str
    start: int  # the column the inserted text starts at; it replaces up to the cursor


_KEY = re.compile(r"\s*([A-Za-z_]*)")
_TOML_VALUE = re.compile(r"\s*([A-Za-z_]+)\s*=\s*(\"?)([^\"]*)")
_YAML_VALUE = re.compile(r"\s*([A-Za-z_]+)\s*:\s*([\"']?)(.*)")
_TYPED_PATH = re.compile(r"(?<![\w@/`])@file:([^\s`*]*)")  # as `context.REFERENCE` starts
Paths = Callable[[str], list[tuple[str, bool]]]  # the path typed so far -> (name, is a folder) that may follow


def items_at(head: Chat, line: int, before: str, after: str, config: GlobalConfig, paths: Paths) -> list[Item]:
    """What to offer on `line`, where `before` is the line's text before the
    cursor and `after` the rest; `head` is the chat's front matter (`chat.parse_head`)."""
    front = head.front_matter
    if front is not None and front.start_line < line < front.end_line:
        return _value_items(front.kind, before, after, config) or _key_items(front.kind, before, after, head)
    if front is None or line > front.end_line:
        return _path_items(before, paths) or _delimiter_items(before, after, head.settings.over(config.settings))
    return []


def _path_items(before: str, paths: Paths) -> list[Item]:
    typed = next((m for m in _TYPED_PATH.finditer(before) if m.end() == len(before)), None)
    if typed is None or "#" in typed[1]:
        return []
    start = typed.start(1) + typed[1].rfind("/") + 1  # the name after the last `/` is replaced
    return [
        Item(
            name + "/" if folder else name,
            "folder" if folder else "file",
            "",
            "",
            name + "/" if folder else name,
            start,
        )
        for name, folder in paths(typed[1])
    ]


def _key_items(kind: str, before: str, after: str, head: Chat) -> list[Item]:
    match = _KEY.fullmatch(before)
    if match is None or after.strip():
        return []
    taken = set(head.front_matter.keys if head.front_matter else ())
    separator = " = " if kind == "toml" else ": "
    return [
        Item(key, "setting", spec.kind, spec.meaning, key + separator, match.start(1))
        for key, spec in SETTINGS.items()
        if key not in taken
    ]


def _value_items(kind: str, before: str, after: str, config: GlobalConfig) -> list[Item]:
    match = (_TOML_VALUE if kind == "toml" else _YAML_VALUE).fullmatch(before)
    if match is None:
        return []
    key, quote, _typed = match.groups()
    values = _values(key, config)
    if not values:
        return []
    start = match.start(2)
    if kind == "yaml" and not quote:
        return [Item(value, "value", detail, "", value, start) for value, detail in values]
    mark = quote or '"'
    end = "" if after.startswith(mark) else mark  # a closing quote the editor added stays
    return [Item(value, "value", detail, "", mark + value + end, start) for value, detail in values]


def _values(key: str, config: GlobalConfig) -> list[tuple[str, str]]:
    """(value, what it is) for a key whose values can be listed."""
    if key == "provider":
        configured = [(name, "configured in config.md") for name in config.providers]
        built_in = [(name, p.base_url) for name, p in BUILTIN_PROVIDERS.items() if name not in config.providers]
        return configured + built_in
    if key == "model":
        found: dict[str, str] = {}
        for name, table in config.providers.items():
            for model in table.models:
                found.setdefault(model, f"provider {name}")
        for name, provider in BUILTIN_PROVIDERS.items():
            found.setdefault(provider.default_model, f"provider {name}")
        return list(found.items())
    if key == "reasoning_effort":
        return [(level, "reasoning level") for level in KNOWN_REASONING_EFFORTS]
    if key == "reasoning":
        return [("show", "the thinking, in a folded block before the answer"), ("hide", "none of it (the default)")]
    return []


def _delimiter_items(before: str, after: str, settings: Settings) -> list[Item]:
    if after.strip():
        return []
    delimiters = settings.delimiters
    lines = {"user": delimiters.user, "assistant": delimiters.assistant, "system": delimiters.system}
    return [
        Item(text, "delimiter", f"starts a {role} turn", "", text, 0)
        for role, text in lines.items()
        if text.startswith(before)
    ]
