"""Chat settings: the front matter keys, their types, and their checks.

`check_settings` turns a parsed front matter mapping into `Settings` plus
problems, each at the range of the offending key or value. The table
`SETTINGS` is the one place that lists what a document may set.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .problems import Problem, Range, error, warning

DEFAULT_USER_DELIMITER = "# === USER ==="
DEFAULT_ASSISTANT_DELIMITER = "# === ASSISTANT ==="
DEFAULT_SYSTEM_DELIMITER = "# === SYSTEM ==="
DEFAULT_DELIMITER_PADDING = "\n\n"

KNOWN_REASONING_EFFORTS = ("minimal", "low", "medium", "high")

#: Keys that would let a document send the user's key elsewhere.
NEVER_FROM_DOCUMENT = ("base_url", "api_key", "api_key_env", "api_key_cmd", "headers", "providers")


@dataclass(frozen=True)
class Settings:
    """Settings from one source; `None` means "not set here"."""

    model: str | None = None
    provider: str | None = None
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    user_delimiter: str | None = None
    assistant_delimiter: str | None = None
    system_delimiter: str | None = None
    delimiter_prefix: str | None = None
    delimiter_suffix: str | None = None
    reasoning: str | None = None  # "show" (a Thinking block before the answer) or "hide" (the default)

    def over(self, base: Settings) -> Settings:
        """These settings, with `base` filling what is not set here."""
        unset = {f.name: getattr(base, f.name) for f in fields(self) if getattr(self, f.name) is None}
        return replace(self, **unset)

    @property
    def delimiters(self) -> Delimiters:
        return Delimiters(
            user=(self.user_delimiter or DEFAULT_USER_DELIMITER).rstrip(" \t"),
            assistant=(self.assistant_delimiter or DEFAULT_ASSISTANT_DELIMITER).rstrip(" \t"),
            system=(self.system_delimiter or DEFAULT_SYSTEM_DELIMITER).rstrip(" \t"),
            prefix=DEFAULT_DELIMITER_PADDING if self.delimiter_prefix is None else self.delimiter_prefix,
            suffix=DEFAULT_DELIMITER_PADDING if self.delimiter_suffix is None else self.delimiter_suffix,
        )


@dataclass(frozen=True)
class Delimiters:
    """The delimiter lines of a chat and the whitespace written around them."""

    user: str
    assistant: str
    system: str
    prefix: str
    suffix: str

    def role_of(self, line: str) -> str | None:
        """The role a line starts, or None if it is not a delimiter line."""
        stripped = line.rstrip(" \t\r")
        if stripped == self.user:
            return "user"
        if stripped == self.assistant:
            return "assistant"
        if stripped == self.system:
            return "system"
        return None

    def for_role(self, role: str) -> str:
        return {"user": self.user, "assistant": self.assistant, "system": self.system}[role]


# Each check returns an error message, or None when the value is fine.
Check = Callable[[Any], "str | None"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(key: str) -> Check:
    return lambda v: None if isinstance(v, str) else f'`{key}` must be text, like {key} = "…"'


def _number_between(key: str, low: float, high: float) -> Check:
    def check(v: Any) -> str | None:
        if _is_number(v) and low <= v <= high:
            return None
        return f"`{key}` must be a number from {low:g} to {high:g}, got {_shown(v)}"

    return check


def _positive_integer(key: str) -> Check:
    def check(v: Any) -> str | None:
        if _is_integer(v) and v > 0:
            return None
        return f"`{key}` must be a whole number above 0, got {_shown(v)}"

    return check


def _integer(key: str) -> Check:
    return lambda v: None if _is_integer(v) else f"`{key}` must be a whole number, got {_shown(v)}"


def _stop(v: Any) -> str | None:
    if isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v)):
        return None
    return f"`stop` must be text or a list of texts, got {_shown(v)}"


def _one_of(key: str, choices: tuple[str, ...]) -> Check:
    def check(v: Any) -> str | None:
        if v in choices:
            return None
        return f"`{key}` must be " + " or ".join(f'"{c}"' for c in choices) + f", got {_shown(v)}"

    return check


def _delimiter(key: str) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or not v.strip() or "\n" in v or "\r" in v:
            return f'`{key}` must be one line of text, like "# === USER ==="'
        return None

    return check


def _padding(key: str) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, str) and not v.replace("\r\n", "\n").strip("\n"):
            return None
        return f'`{key}` must be line breaks only, like "\\n\\n"'

    return check


_SHORT = reprlib.Repr()  # (keyword arguments only from Python 3.12)
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 36, 36


def _shown(value: Any) -> str:
    """A value in a message, short: never the whole of a big one (YAML aliases can make it huge)."""
    if isinstance(value, bool):
        return str(value).lower()
    shown = _SHORT.repr(value) if isinstance(value, (str, list, dict, tuple)) else str(value)[:40]
    return shown if len(shown) <= 40 else shown[:37] + "…"


@dataclass(frozen=True)
class SettingSpec:
    field: str
    check: Check
    kind: str  # the type, as the README's table says it
    meaning: str  # one line, for completion items and hovers


#: Front matter key -> the `Settings` field it fills, its check, type and meaning.
SETTINGS: dict[str, SettingSpec] = {
    "model": SettingSpec("model", _text("model"), "text", 'the model, like "gpt-4.1"; picks the provider too'),
    "provider": SettingSpec("provider", _text("provider"), "text",
                            "the provider, by name; else inferred from the model"),
    "system": SettingSpec("system", _text("system"), "text", "a system prompt, sent first"),
    "temperature": SettingSpec("temperature", _number_between("temperature", 0, 2), "number 0..2",
                               "sampling temperature: lower is more focused"),
    "top_p": SettingSpec("top_p", _number_between("top_p", 0, 1), "number 0..1", "nucleus sampling: the share of "
                         "probability mass to sample from"),
    "max_tokens": SettingSpec("max_tokens", _positive_integer("max_tokens"), "whole number > 0",
                              "the longest answer, in tokens"),
    "reasoning_effort": SettingSpec("reasoning_effort", _text("reasoning_effort"), "text",
                                    "how hard a reasoning model thinks: minimal, low, medium or high"),
    "seed": SettingSpec("seed", _integer("seed"), "whole number", "asks the provider for repeatable sampling"),
    "stop": SettingSpec("stop", _stop, "text or list of texts", "the answer ends where one of these would come"),
    "reasoning": SettingSpec("reasoning", _one_of("reasoning", ("show", "hide")), '"show" or "hide"',
                             "show: the model's thinking streams into a folded block before the answer"),
    "userDelimiter": SettingSpec("user_delimiter", _delimiter("userDelimiter"), "one line of text",
                                 f"the line that starts your turns (default {DEFAULT_USER_DELIMITER})"),
    "assistantDelimiter": SettingSpec("assistant_delimiter", _delimiter("assistantDelimiter"), "one line of text",
                                      f"the line that starts answers (default {DEFAULT_ASSISTANT_DELIMITER})"),
    "systemDelimiter": SettingSpec("system_delimiter", _delimiter("systemDelimiter"), "one line of text",
                                   f"the line that starts system turns (default {DEFAULT_SYSTEM_DELIMITER})"),
    "delimiterPrefix": SettingSpec("delimiter_prefix", _padding("delimiterPrefix"), "line breaks",
                                   'written before a delimiter the server adds (default "\\n\\n")'),
    "delimiterSuffix": SettingSpec("delimiter_suffix", _padding("delimiterSuffix"), "line breaks",
                                   'written after a delimiter the server adds (default "\\n\\n")'),
}  # fmt: skip


@dataclass(frozen=True)
class KeyLocation:
    """Where a key and its value stand in the document."""

    key: Range
    value: Range


#: Finds a top-level key in the source; None when it cannot be found.
Locate = Callable[[str], "KeyLocation | None"]


def check_settings(
    data: Mapping[Any, Any],
    locate: Locate,
    fallback: Range,
    *,
    extra_keys: tuple[str, ...] = (),
    forbidden: tuple[str, ...] = NEVER_FROM_DOCUMENT,
) -> tuple[Settings, list[Problem]]:
    """Validate a front matter mapping.

    `extra_keys` are accepted and left for the caller (the global config's
    `providers`); `forbidden` keys are errors. A key with a bad value is left
    unset, so the rest of the settings still apply.
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []

    def where(key: str, part: str) -> Range:
        found = locate(key)
        return getattr(found, part) if found else fallback

    for raw_key, value in data.items():
        key = str(raw_key)
        if key in extra_keys:
            continue
        if key in forbidden:
            problems.append(
                error(
                    f"`{key}` may only be set in config.md (a chat could leak your key)",
                    where(key, "key"),
                )
            )
            continue
        spec = SETTINGS.get(key)
        if spec is None:
            problems.append(warning(_unknown_key_message(key, extra_keys), where(key, "key")))
            continue
        message = spec.check(value)
        if message:
            problems.append(error(message, where(key, "value")))
            continue
        values[spec.field] = value
        if key == "reasoning_effort":
            problems.extend(_reasoning_effort_hint(value, where(key, "value")))
    settings = Settings(**values)
    problems.extend(_clashing_delimiters(settings, where))
    return settings, problems


def _unknown_key_message(key: str, extra_keys: tuple[str, ...]) -> str:
    known = [*SETTINGS, *extra_keys]
    by_lower = {k.lower(): k for k in known}
    guess = by_lower.get(key.lower()) or next(iter(difflib.get_close_matches(key, known, n=1, cutoff=0.75)), None)
    hint = f"; did you mean `{guess}`?" if guess else ""
    return f"unknown setting `{key}` (ignored){hint}"


def _reasoning_effort_hint(value: str, at: Range) -> list[Problem]:
    if value in KNOWN_REASONING_EFFORTS:
        return []
    close = difflib.get_close_matches(value, KNOWN_REASONING_EFFORTS, n=1, cutoff=0.6)
    if not close:
        return []
    return [warning(f"`reasoning_effort` {value!r} is not a known level; did you mean {close[0]!r}?", at)]


def _clashing_delimiters(settings: Settings, where: Callable[[str, str], Range]) -> list[Problem]:
    delimiters = settings.delimiters
    chosen = [
        ("userDelimiter", delimiters.user),
        ("assistantDelimiter", delimiters.assistant),
        ("systemDelimiter", delimiters.system),
    ]
    problems = []
    for i, (key, text) in enumerate(chosen):
        for other_key, other in chosen[:i]:
            if text == other:
                problems.append(
                    error(f"`{key}` is the same line as `{other_key}`: make them differ", where(key, "value"))
                )
    return problems
