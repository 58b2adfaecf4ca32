"""Chat documents: front matter, fenced code and turns, parsed without LSP.

`parse_chat(text)` reads a whole document the way `shared/chat-format.md`
specifies and returns a `Chat`: its own settings, every turn with its line
range, and the problems found. It never raises on any text; everything wrong
is a `Problem` with a range. One pass over the lines, so it stays linear.

Lines are split where LSP splits them (`\\n`, `\\r\\n`, `\\r`), so line numbers
agree with the editor's.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .problems import Position, Problem, Range, error, warning
from .settings import NEVER_FROM_DOCUMENT, Delimiters, KeyLocation, Settings, check_settings
from .textdoc import LINE_BREAK, split_lines

BOM = "\ufeff"
THINKING_OPEN = "<details><summary>Thinking</summary>"  # an answer's first line, with `reasoning = "show"`
THINKING_CLOSE = "</details>"
_THINKING = re.compile(
    rf"{re.escape(THINKING_OPEN)}.*?(?:\r\n|\r|\n){re.escape(THINKING_CLOSE)}[ \t]*(?:(?:\r\n|\r|\n)\s*|$)", re.S
)
_FENCE_OPENER = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_FENCE_CLOSER = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")
_FENCE_STARTS = frozenset(" `~")
_FENCES: dict[str, Literal["toml", "yaml"]] = {"+++": "toml", "---": "yaml"}
_TOML_ERROR_PLACE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Turn:
    """One turn: its role, its content as sent, and the lines it spans.

    `start_line` is the delimiter line (or, for text before any delimiter,
    its first line); `end_line` is the turn's last line, inclusive.
    """

    role: str
    content: str
    start_line: int
    end_line: int
    has_delimiter: bool = True


@dataclass(frozen=True)
class FrontMatter:
    kind: Literal["toml", "yaml"]
    start_line: int
    end_line: int  # the closing fence
    data: Mapping[Any, Any]
    keys: Mapping[str, KeyLocation] = field(default_factory=dict)  # where each top-level key stands


@dataclass(frozen=True)
class Fence:
    """A line that can open or close a code fence: its run of ` or ~."""

    line: int
    char: str
    length: int
    opens: bool
    closes: bool


@dataclass(frozen=True)
class Chat:
    """A parsed chat document."""

    settings: Settings  # this document's own front matter only
    turns: list[Turn]
    problems: list[Problem]
    front_matter: FrontMatter | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # accepted keys outside `Settings`
    code_blocks: list[tuple[int, int]] = field(default_factory=list)  # (opening, closing line) of each closed fence

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def messages(self) -> list[Message]:
        """The turns that are sent: every non-empty one, in order; an answer
        without the model's thinking (`THINKING_OPEN`), which is never sent back."""
        sent = [
            Message(t.role, without_thinking(t.content) if t.role == "assistant" else t.content) for t in self.turns
        ]
        return [m for m in sent if m.content]


def parse_chat(
    text: str,
    defaults: Settings | None = None,
    *,
    extra_keys: tuple[str, ...] = (),
    forbidden: tuple[str, ...] = NEVER_FROM_DOCUMENT,
) -> Chat:
    """Parse a chat. `defaults` (the global config) supply delimiters the
    document does not set; `extra_keys`/`forbidden` are passed to the
    settings check (the global config allows `providers`)."""
    if text.startswith(BOM):
        text = text[len(BOM) :]
    texts, endings = split_lines(text)
    front, body_start, problems = _read_front_matter(texts)
    settings = Settings()
    extra: dict[str, Any] = {}
    if front is not None:
        places = _key_places(texts, front)
        keys = {str(k): places[str(k)] for k in front.data if str(k) in places}
        front = replace(front, keys=keys)
        fallback = Range.of_line(front.start_line, 0, len(texts[front.start_line]))
        settings, setting_problems = check_settings(
            front.data,
            keys.get,
            fallback,
            extra_keys=extra_keys,
            forbidden=forbidden,
        )
        problems += setting_problems
        extra = {k: front.data[k] for k in extra_keys if k in front.data}
    delimiters = settings.over(defaults or Settings()).delimiters
    unclosed: list[int] = []
    blocks: list[tuple[int, int]] = []
    found = _delimiter_lines(texts, body_start, delimiters, unclosed=unclosed, blocks=blocks)
    turns = _turns(texts, endings, body_start, found)
    problems += [unclosed_fence(texts[line], line) for line in unclosed]
    return Chat(settings, turns, problems, front, extra, blocks)


def without_thinking(content: str) -> str:
    """An answer's text without the Thinking block it starts with, if any."""
    return _THINKING.sub("", content, count=1) if content.startswith(THINKING_OPEN) else content


def parse_head(lines: Sequence[str], defaults: Settings | None = None) -> Chat:
    """The front matter alone, parsed (its settings, problems and key places;
    no turns), from a document's lines, with or without their breaks, read
    only as far as its closing fence (an unclosed one: its first line, which
    says so)."""
    fence = _without_break(lines[0]).removeprefix(BOM).rstrip(" \t") if lines else ""
    if fence not in _FENCES:
        return parse_chat("", defaults)
    close = next((i for i in range(1, len(lines)) if _without_break(lines[i]).rstrip(" \t") == fence), 0)
    return parse_chat("\n".join(_without_break(line) for line in lines[: close + 1]) + "\n", defaults)


def _without_break(line: str) -> str:
    return line.rstrip("\r\n")


def is_chat(text: str, defaults: Settings | None = None) -> bool:
    """Whether a markdown text is a chat: its front matter sets `model` or
    `provider`, or it has a delimiter line outside code fences (a README that
    shows the format in a fenced example is not a chat). A text with no
    delimiter line anywhere is told apart without splitting it into lines."""
    if text.startswith(BOM):
        text = text[len(BOM) :]
    head = _front_matter_head(text)
    chat = parse_chat(head, defaults) if head else None
    if chat is not None and (chat.settings.model is not None or chat.settings.provider is not None):
        return True
    delimiters = (chat.settings if chat else Settings()).over(defaults or Settings()).delimiters
    if not has_delimiter_line(text, delimiters):
        return False
    body_start = chat.front_matter.end_line + 1 if chat and chat.front_matter else 0
    return bool(_delimiter_lines(split_lines(text)[0], body_start, delimiters, first_only=True))


def has_delimiter_line(text: str, delimiters: Delimiters) -> bool:
    """Whether any line of `text` is a delimiter line, code fences or not (one regex search)."""
    lines = "|".join(re.escape(d) for d in (delimiters.user, delimiters.assistant, delimiters.system))
    return re.search(rf"(?:^|[\r\n])(?:{lines})[ \t]*(?:\r\n|\r|\n|$)", text) is not None


def _front_matter_head(text: str) -> str:
    """The front matter with its fences (the first line a fence, as
    `_read_front_matter` has it), or "" if the text has none."""
    first = LINE_BREAK.search(text)
    fence = text[: first.start() if first else len(text)].rstrip(" \t")
    if fence not in _FENCES:
        return ""
    close = re.compile(rf"(?:\r\n|\r|\n){re.escape(fence)}[ \t]*(?:\r\n|\r|\n|$)").search(text, len(fence))
    return text[: close.end()] if close else ""


# -- front matter ------------------------------------------------------------


def _read_front_matter(texts: list[str]) -> tuple[FrontMatter | None, int, list[Problem]]:
    """The front matter (if any), the first body line, and its problems."""
    fence = texts[0].rstrip(" \t")
    kind = _FENCES.get(fence)
    if kind is None:
        return None, 0, []
    close = next((i for i in range(1, len(texts)) if texts[i].rstrip(" \t") == fence), None)
    if close is None:
        message = f"front matter looks unclosed: add a line `{fence}` after the settings (read as text for now)"
        return None, 0, [warning(message, Range.of_line(0, 0, len(texts[0])))]
    source = "\n".join(texts[1:close]) + "\n"
    data, problem = _load_toml(source) if kind == "toml" else _load_yaml(source)
    front = FrontMatter(kind, 0, close, data)
    if problem is not None:
        return front, close + 1, [problem]
    return front, close + 1, []


def _load_toml(source: str) -> tuple[dict[str, Any], Problem | None]:
    try:
        return tomllib.loads(source), None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or a number or nesting too big for Python
        if not isinstance(exc, tomllib.TOMLDecodeError):
            return {}, _front_matter_error("TOML front matter: a value too big, or nested too deep", 1, 0)
        message = str(exc)
        place = _TOML_ERROR_PLACE.search(message)
        if place and place[1]:
            line, column = int(place[1]), int(place[2])
        else:  # "at end of document": the last line inside the fences
            last_lines = source.split("\n")[:-1] or [""]
            line, column = len(last_lines), len(last_lines[-1]) + 1
        reason = _TOML_ERROR_PLACE.sub("", message) or "invalid TOML"
        return {}, _front_matter_error(f"TOML front matter: {reason[0].lower()}{reason[1:]}", line, column - 1)


def _load_yaml(source: str) -> tuple[Mapping[Any, Any], Problem | None]:
    import yaml  # here, not at the top: it adds 15 ms to every server start, and most chats are TOML or none

    try:
        data = yaml.safe_load(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column) if mark else (1, 0)
        return {}, _front_matter_error(
            f"YAML front matter: {exc.problem or exc.context or 'invalid YAML'}", line, column
        )
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return {}, _front_matter_error(f"YAML front matter: {type(exc).__name__}", 1, 0)
    if data is None:
        return {}, None
    if not isinstance(data, Mapping):
        return {}, _front_matter_error("YAML front matter must be `key: value` settings", 1, 0)
    return data, None


def _front_matter_error(message: str, line: int, column: int) -> Problem:
    """An error at `line` (1-based, counted from the first line inside the
    fences, which is document line 1) and `column` (0-based)."""
    return error(message, Range(Position(line, column), Position(line, column + 1)))


_KEY_NAME = r"""(?:(?P<bare>[A-Za-z0-9_-]+)|"(?P<double>[^"]*)"|'(?P<single>[^']*)')"""
_TOML_KEY = re.compile(rf"(\s*){_KEY_NAME}\s*[=.]")
_TOML_TABLE = re.compile(rf"(\s*\[\[?\s*){_KEY_NAME}\s*[.\]]")
_YAML_KEY = re.compile(r"""()(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s"'#][^:]*?))\s*:""")


def _key_places(texts: list[str], front: FrontMatter) -> dict[str, KeyLocation]:
    """Where each top-level key first stands in the front matter, in one pass:
    TOML keys before the first table, and table headers; YAML keys at the
    start of a line."""
    places: dict[str, KeyLocation] = {}
    toml = front.kind == "toml"
    in_table = False
    for line in range(front.start_line + 1, front.end_line):
        text = texts[line]
        found = _TOML_TABLE.match(text) if toml else None
        if found is None and not in_table:
            found = (_TOML_KEY if toml else _YAML_KEY).match(text)
        if found:
            name = next(part for part in (found["bare"], found["double"], found["single"]) if part is not None)
            places.setdefault(name, _key_location(line, text, found.end(1), found.end()))
        in_table = in_table or (toml and text.lstrip().startswith("["))
    return places


def _key_location(line: int, text: str, key_start: int, separator_end: int) -> KeyLocation:
    key_end = separator_end - 1
    while key_end > key_start and text[key_end - 1] in " \t":
        key_end -= 1
    key = Range.of_line(line, key_start, key_end)
    value_start = separator_end + len(text[separator_end:]) - len(text[separator_end:].lstrip(" \t"))
    value_end = _value_end(text, value_start)
    if value_end <= value_start:
        return KeyLocation(key, key)
    return KeyLocation(key, Range.of_line(line, value_start, value_end))


def _value_end(text: str, start: int) -> int:
    """End of a one-line value: past its closing quote, or before a comment."""
    if start < len(text) and text[start] in "\"'":
        close = text.find(text[start], start + 1)
        if close != -1:
            return close + 1
    comment = re.search(r"[ \t]#", text[start:])
    end = start + comment.start() if comment else len(text)
    return len(text[:end].rstrip(" \t"))


# -- turns -------------------------------------------------------------------


def _turns(texts: list[str], endings: list[str], start: int, found: list[tuple[int, str]]) -> list[Turn]:
    turns = []
    first_delimiter = found[0][0] if found else len(texts)
    if any(texts[i].strip(" \t") for i in range(start, first_delimiter)):
        content = _content(texts, endings, start, first_delimiter)
        turns.append(Turn("user", content, start, first_delimiter - 1, has_delimiter=False))
    for index, (line, role) in enumerate(found):
        end = found[index + 1][0] if index + 1 < len(found) else len(texts)
        turns.append(Turn(role, _content(texts, endings, line + 1, end), line, end - 1))
    return turns


def _delimiter_lines(
    texts: list[str],
    start: int,
    delimiters: Delimiters,
    *,
    first_only: bool = False,
    unclosed: list[int] | None = None,
    blocks: list[tuple[int, int]] | None = None,
) -> list[tuple[int, str]]:
    """(line, role) of every delimiter line outside closed code fences (or
    the first); the lines of fences never closed go to `unclosed`, the
    (opening, closing) lines of each closed one to `blocks`."""
    longest_closer = _longest_closers_after(texts, start)
    found: list[tuple[int, str]] = []
    open_fence: tuple[str, int] | None = None
    opened_at = 0
    # Most lines start with a character no delimiter or fence starts with.
    interesting = {delimiters.user[0], delimiters.assistant[0], delimiters.system[0], *_FENCE_STARTS}
    for line in range(start, len(texts)):
        text = texts[line]
        if text[:1] not in interesting:
            continue
        if open_fence is not None:
            if _closes(text, open_fence):
                open_fence = None
                if blocks is not None:
                    blocks.append((opened_at, line))
            continue
        role = delimiters.role_of(text)
        if role is not None:
            found.append((line, role))
            if first_only:
                break
            continue
        opener = _fence_opener(text)
        # An opener that is never closed hides nothing.
        if opener is not None and longest_closer[opener[0]][line + 1] >= opener[1]:
            open_fence, opened_at = opener, line
        elif opener is not None and unclosed is not None:
            unclosed.append(line)
    return found


def fence_at(text: str, line: int) -> Fence | None:
    """The fence `text` (line `line`) can be, or None (most lines: one test)."""
    if text[:1] not in _FENCE_STARTS:
        return None
    opener, closer = _fence_opener(text), _fence_closer(text)
    run = opener or closer
    if run is None:
        return None
    return Fence(line, run[0], run[1], opener is not None, closer is not None)


def fence_blocks(fences: list[Fence]) -> tuple[list[int], list[tuple[int, int]]]:
    """The lines of fences that open a code block no later line closes (they
    hide nothing, and a writer surely meant to close them), and the
    (opening, closing) lines of each closed block, as `_delimiter_lines`
    finds them."""
    longest = {"`": 0, "~": 0}
    longest_after = []
    for fence in reversed(fences):
        longest_after.append(longest[fence.char])
        if fence.closes:
            longest[fence.char] = max(longest[fence.char], fence.length)
    longest_after.reverse()
    unclosed, blocks = [], []
    open_fence: Fence | None = None
    for fence, closer_after in zip(fences, longest_after, strict=True):
        if open_fence is not None:
            if fence.closes and fence.char == open_fence.char and fence.length >= open_fence.length:
                blocks.append((open_fence.line, fence.line))
                open_fence = None
        elif fence.opens and closer_after >= fence.length:
            open_fence = fence
        elif fence.opens:
            unclosed.append(fence.line)
    return unclosed, blocks


def unclosed_fence(text: str, line: int) -> Problem:
    stripped = text.lstrip(" ")
    run = stripped[: len(stripped) - len(stripped.lstrip(stripped[0]))]
    message = f"this code block is never closed: add a line {run} after it (till then it hides nothing)"
    return warning(message, Range.of_line(line, 0, len(text)))


def _fence_opener(text: str) -> tuple[str, int] | None:
    if not text.lstrip(" ").startswith(("```", "~~~")):
        return None
    match = _FENCE_OPENER.fullmatch(text)
    if match is None:
        return None
    run, info = match.groups()
    if run[0] == "`" and "`" in info:
        return None
    return run[0], len(run)


def _fence_closer(text: str) -> tuple[str, int] | None:
    if not text.lstrip(" ").startswith(("```", "~~~")):
        return None
    match = _FENCE_CLOSER.fullmatch(text)
    return (match[1][0], len(match[1])) if match else None


def _closes(text: str, fence: tuple[str, int]) -> bool:
    closer = _fence_closer(text)
    return closer is not None and closer[0] == fence[0] and closer[1] >= fence[1]


def _longest_closers_after(texts: list[str], start: int) -> dict[str, list[int]]:
    """For each fence character, the longest closer at or after each line."""
    longest = {"`": [0] * (len(texts) + 1), "~": [0] * (len(texts) + 1)}
    backticks, tildes = longest["`"], longest["~"]
    for line in range(len(texts) - 1, start - 1, -1):
        backticks[line], tildes[line] = backticks[line + 1], tildes[line + 1]
        if texts[line][:1] not in _FENCE_STARTS:
            continue
        closer = _fence_closer(texts[line])
        if closer is not None:
            run = longest[closer[0]]
            run[line] = max(run[line], closer[1])
    return longest


def _content(texts: list[str], endings: list[str], start: int, end: int) -> str:
    """Lines [start, end) without leading and trailing blank lines, exact."""
    while start < end and not texts[start].strip(" \t"):
        start += 1
    while end > start and not texts[end - 1].strip(" \t"):
        end -= 1
    if start >= end:
        return ""
    return "".join(texts[i] + endings[i] for i in range(start, end - 1)) + texts[end - 1]
