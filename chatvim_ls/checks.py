"""The problems of an open chat, kept up to date change by change; and of
config.md.

A keystroke in a 10 MB chat must not read it all again. What the parser can
find wrong stands in two places: the front matter (its syntax and settings)
and the body's code fences (one that is never closed). So `ChatChecks`
keeps
- the front matter's problems, found again only when a change touches its
  lines (or, while it is unclosed, adds a line that could close it);
- every line that can be a fence (`chat.Fence`), and every delimiter line,
  carried across each change (`textdoc.Splice`): only the changed lines are
  read again, and then the fences alone are matched (`chat.fence_blocks`).
Its problems are exactly `parse_chat`'s, and so is the last question it
finds (`question`: where `@file:` references are sent from, `context.py`);
the tests hold it to that.

`config_problems` adds what depends on the user's configuration: a model no
provider serves, an unknown provider, a model missing from its provider's
`models` list, and config.md itself being broken. `global_config_problems`
checks config.md as a document of its own. Pure: no LSP here.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .chat import BOM, Chat, Fence, fence_at, fence_blocks, parse_chat, parse_head, unclosed_fence
from .config import SERVER_KEYS, ConfigError, GlobalConfig, ServerOptions, setting_place
from .problems import Position, Problem, Range, error, warning
from .providers import ChoiceError, NoModel, choose
from .settings import Delimiters, Settings
from .textdoc import Splice, TextDocument, split_lines

_FRONT_FENCES = ("+++", "---")
T = TypeVar("T")


class ChatChecks:
    def __init__(self, doc: TextDocument, defaults: Settings) -> None:
        self.defaults = defaults
        self.fences: list[Fence] = []
        self.delimiters: list[tuple[int, str]] = []  # (line, role) of every delimiter line, hidden ones too
        self.head = parse_chat("")
        self._blocks: tuple[list[int], list[tuple[int, int]]] | None = None  # `fence_blocks`, till the next change
        self.reread(doc)

    def reread(self, doc: TextDocument) -> None:
        """Read the whole document (on open, or after too many changes unread)."""
        self._read_head(doc)
        self.fences = _fences_in(doc, 0, len(doc.lines), self._turn_delimiters)
        self.delimiters = _delimiters_in(doc, 0, len(doc.lines), self._turn_delimiters)
        self._blocks = None

    def update(self, doc: TextDocument, splices: list[Splice] | None) -> None:
        """Carry the checks across the changes `doc` went through, in order
        (None: too many to follow). Each change drops the fences of the lines
        it replaced and moves those after; the lines changes wrote are read
        once, in the document as it is now (a later change may have moved
        them: `dirty` follows them across)."""
        if splices is None:
            self.reread(doc)
            return
        self._blocks = None
        dirty: list[tuple[int, int]] = []  # [start, stop) of lines written, in today's numbers; no fences in them
        front = self.head.front_matter
        head_touched = False
        for splice in splices:
            first, old_count, new_count = splice.first_line, len(splice.old_lengths), len(splice.new_lengths)
            stop, shift = first + old_count, new_count - old_count
            head_touched = head_touched or first <= (front.end_line if front else 0) + 1
            _splice(self.fences, first, stop, shift, _fence_line, _moved)
            _splice(self.delimiters, first, stop, shift, _delimiter_line, _moved_delimiter)
            dirty = _carried(dirty, first, stop, first + new_count, shift)
        for start, stop in dirty:
            stop = min(stop, len(doc.lines))
            at = bisect.bisect_left(self.fences, start, key=_fence_line)
            self.fences[at:at] = _fences_in(doc, start, stop, self._turn_delimiters)
            at = bisect.bisect_left(self.delimiters, start, key=_delimiter_line)
            self.delimiters[at:at] = _delimiters_in(doc, start, stop, self._turn_delimiters)
            head_touched = head_touched or self._may_close_head(doc, start, stop)
        if head_touched:
            delimiters = self._turn_delimiters
            self._read_head(doc)
            if self._turn_delimiters != delimiters:  # the front matter changed them: read every line again
                self.fences = _fences_in(doc, 0, len(doc.lines), self._turn_delimiters)
                self.delimiters = _delimiters_in(doc, 0, len(doc.lines), self._turn_delimiters)

    def problems(self, doc: TextDocument) -> list[Problem]:
        """What `parse_chat` would find in `doc` now."""
        unclosed, _blocks = self._fence_blocks()
        return [*self.head.problems, *(unclosed_fence(_text(doc, line), line) for line in unclosed)]

    def question(self, doc: TextDocument) -> tuple[int, int] | None:
        """The lines (first, last; inclusive, as `chat.Turn`) of the chat's
        last user turn, wherever it stands (a regenerated answer resends it),
        or None. Cheap: from the delimiter lines and fences kept."""
        _unclosed, blocks = self._fence_blocks()
        body = self._body_start()

        def hidden(line: int) -> bool:
            at = bisect.bisect_left(blocks, line, key=_block_opening) - 1
            return at >= 0 and line < blocks[at][1]

        end = len(doc.lines)
        for line, role in reversed(self.delimiters):
            if line < body:
                break
            if hidden(line):
                continue
            if role == "user":
                return line, end - 1
            end = line
        first = end  # the first delimiter that is not hidden, or the end
        if any(doc.line_text(i).strip(" \t") for i in range(body, first)):
            return body, first - 1  # text before the first delimiter: a question
        return None

    @property
    def chat(self) -> Chat:
        """The front matter, parsed (its settings and where its keys stand); no turns."""
        return self.head

    def _body_start(self) -> int:
        front = self.head.front_matter
        return front.end_line + 1 if front else 0

    def _fence_blocks(self) -> tuple[list[int], list[tuple[int, int]]]:
        """`chat.fence_blocks` of the body's fences, found once per change."""
        if self._blocks is None:
            self._blocks = fence_blocks(
                self.fences[bisect.bisect_left(self.fences, self._body_start(), key=_fence_line) :]
            )
        return self._blocks

    # -- the front matter ----------------------------------------------------

    def _read_head(self, doc: TextDocument) -> None:
        self.head = parse_head(doc.lines, self.defaults)
        self._turn_delimiters = self.head.settings.over(self.defaults).delimiters  # (once, not per change)

    def _may_close_head(self, doc: TextDocument, start: int, stop: int) -> bool:
        """While the front matter is unclosed, whether lines [start, stop) hold its closing fence."""
        fence = doc.line_text(0).removeprefix(BOM).rstrip(" \t")
        if self.head.front_matter is not None or fence not in _FRONT_FENCES:
            return False
        return any(doc.line_text(i).rstrip(" \t") == fence for i in range(start, stop))


def _fences_in(doc: TextDocument, first: int, stop: int, delimiters: Delimiters) -> list[Fence]:
    """The fences of lines [first, stop). A delimiter line that looks like a
    fence (`userDelimiter = "~~~ me"`) opens no code block, as in `parse_chat`,
    but may close one."""
    found = []
    for line in range(first, stop):
        fence = fence_at(text := _text(doc, line), line)
        if fence is not None and fence.opens and delimiters.role_of(text) is not None:
            fence = replace(fence, opens=False) if fence.closes else None
        if fence is not None:
            found.append(fence)
    return found


def _delimiters_in(doc: TextDocument, first: int, stop: int, delimiters: Delimiters) -> list[tuple[int, str]]:
    return [(line, role) for line in range(first, stop) if (role := delimiters.role_of(_text(doc, line))) is not None]


def _splice(
    items: list[T], first: int, stop: int, shift: int, line_of: Callable[[T], int], moved: Callable[[T, int], T]
) -> None:
    """Drop from `items` (sorted by `line_of`) those of lines [first, stop), and move those after by `shift`."""
    before, after = bisect.bisect_left(items, first, key=line_of), bisect.bisect_left(items, stop, key=line_of)
    items[before:] = [moved(item, shift) for item in items[after:]] if shift else items[after:]


def _text(doc: TextDocument, line: int) -> str:
    return doc.line_text(line).removeprefix(BOM) if line == 0 else doc.line_text(line)


def _carried(dirty: list[tuple[int, int]], first: int, stop: int, new_stop: int, shift: int) -> list[tuple[int, int]]:
    """Line ranges written before, carried across a change that replaced lines
    [first, stop) by [first, new_stop), with the change's own range: a range
    the change touches joins it."""
    carried, low, high = [], first, new_stop
    for start, end in dirty:
        if end <= first:
            carried.append((start, end))
        elif start >= stop:
            carried.append((start + shift, end + shift))
        else:
            low, high = min(low, start), max(high, end + shift)
    return sorted([*carried, (low, high)])


def _moved(fence: Fence, shift: int) -> Fence:
    return Fence(fence.line + shift, fence.char, fence.length, fence.opens, fence.closes)


def _fence_line(fence: Fence) -> int:
    return fence.line


def _delimiter_line(delimiter: tuple[int, str]) -> int:
    return delimiter[0]


def _block_opening(block: tuple[int, int]) -> int:
    return block[0]


def _moved_delimiter(delimiter: tuple[int, str], shift: int) -> tuple[int, str]:
    return delimiter[0] + shift, delimiter[1]


# -- what depends on the configuration -------------------------------------


def config_problems(chat: Chat, config: GlobalConfig | ConfigError, env: Mapping[str, str]) -> list[Problem]:
    """The chat's model and provider against the configuration (or config.md's own error)."""
    if isinstance(config, ConfigError):
        return [error(f"{config.short} (every chat is refused until it is fixed)", Range.of_line(0))]
    front = chat.front_matter
    keys = front.keys if front else {}
    settings = chat.settings
    if settings.model is None and settings.provider is None:
        return []  # chosen by config.md or the keys set: `complete` says so if it cannot
    try:
        model, provider = choose(*_model_and_provider(chat, config), config.providers, env)
    except NoModel:
        return []
    except ChoiceError as exc:
        key = "provider" if settings.provider is not None else "model"
        place = keys.get(key)
        return [error(str(exc), place.value if place else Range.of_line(0))]
    table = config.providers.get(provider)
    if settings.model is None or table is None or not table.models or model in table.models:
        return []
    place = keys.get("model")
    listed = ", ".join(table.models[:5]) + (", …" if len(table.models) > 5 else "")
    message = f"provider `{provider}` lists no model {model!r} in config.md (it has {listed})"
    return [warning(message, place.value if place else Range.of_line(0))]


def _model_and_provider(chat: Chat, config: GlobalConfig) -> tuple[str | None, str | None]:
    settings = chat.settings.over(config.settings)
    return settings.model, settings.provider


def global_config_problems(text: str, path: Path) -> list[Problem]:
    """config.md's problems as the server reads it: every one in its settings,
    and the first in its server options (`providers`, timeouts)."""
    chat = parse_chat(text, extra_keys=SERVER_KEYS, forbidden=())
    if chat.errors:
        return chat.problems
    try:
        ServerOptions.from_mapping(chat.extra, path.name)
    except ConfigError as exc:
        line, column = setting_place(split_lines(text)[0], chat, exc.setting)
        message = str(exc).removeprefix(f"{path.name}: ")
        return [*chat.problems, error(message, Range(Position(line, column), Position(line, column + 1)))]
    return chat.problems
