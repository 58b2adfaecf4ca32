"""Open documents as the server keeps them: lines, versions and positions.

The server keeps its own copy of every open document and edits it in place on
each `didChange`, so a change costs time in proportion to its own size, not
the document's. Lines break only where LSP breaks them (`\\n`, `\\r\\n`,
`\\r`): U+2028 and friends stay inside a line.

Here a column counts code points; `to_client` and `from_client` convert to
the position encoding negotiated with the editor (utf-8, utf-16 or utf-32).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .problems import Position

LINE_BREAK = re.compile(r"(\r\n|\r|\n)")  # where LSP breaks lines: the one splitter of every module
ENCODINGS = ("utf-8", "utf-16", "utf-32")
_SPLICES_KEPT = 1000  # a document applied more changes than this unread: it is read whole again


def split_lines(text: str) -> tuple[list[str], list[str]]:
    """The lines of `text` without their line breaks, and the breaks ("" last)."""
    parts = LINE_BREAK.split(text)
    return parts[0::2], [*parts[1::2], ""]


def split_keeping_ends(text: str) -> list[str]:
    """Lines with their line breaks; the last item has none (maybe "")."""
    texts, endings = split_lines(text)
    return [line + ending for line, ending in zip(texts, endings, strict=True)]


def common_ends(a: str, b: str) -> tuple[int, int]:
    """How many code points `a` and `b` share at their start, and then at their end."""
    limit = min(len(a), len(b))
    prefix = 0
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def _without_break(line: str) -> str:
    return line.rstrip("\r\n")


@dataclass(frozen=True)
class Change:
    """Replace the text between `start` and `end` (code points) by `text`."""

    start: Position
    end: Position
    text: str

    @staticmethod
    def insert(at: Position, text: str) -> Change:
        return Change(at, at, text)


@dataclass(frozen=True)
class Splice:
    """What one change did to the lines, to carry positions across it.

    Lines [first_line, first_line + len(old_lengths)) became
    [first_line, first_line + len(new_lengths)); inside that window the
    change replaced offsets [start, old_end) by [start, new_end).
    """

    first_line: int
    old_lengths: list[int]
    new_lengths: list[int]
    start: int
    old_end: int
    new_end: int

    def map(self, pos: Position, *, stick_after: bool = False) -> Position:
        """Where `pos` is after the change. A position where text was
        inserted stays before it unless `stick_after`."""
        last_old = self.first_line + len(self.old_lengths)
        if pos.line < self.first_line:
            return pos
        if pos.line >= last_old:
            return Position(pos.line + len(self.new_lengths) - len(self.old_lengths), pos.character)
        offset = sum(self.old_lengths[: pos.line - self.first_line]) + pos.character
        if offset < self.start or (offset == self.start < self.old_end):
            new_offset = offset
        elif offset > self.old_end:
            new_offset = offset + self.new_end - self.old_end
        elif offset == self.start == self.old_end and not stick_after:
            new_offset = offset
        else:  # inside what was replaced, or at its end
            new_offset = self.new_end
        return self._position_in_window(new_offset)

    @property
    def inserted(self) -> tuple[Position, Position]:
        """Where the new text stands after the change."""
        return self._position_in_window(self.start), self._position_in_window(self.new_end)

    def _position_in_window(self, offset: int) -> Position:
        line = self.first_line
        for length in self.new_lengths[:-1]:
            if offset < length:
                break
            offset -= length
            line += 1
        return Position(line, offset)


class TextDocument:
    """One open document: its lines, version, language and position encoding."""

    def __init__(self, uri: str, text: str, version: int | None = None, *, encoding: str = "utf-16",
                 language_id: str = "") -> None:  # fmt: skip
        self.uri = uri
        self.version = version
        self.encoding = encoding
        self.language_id = language_id
        self.lines = split_keeping_ends(text)
        self.splices: list[Splice] = []  # what `apply` did since `take_splices`, for those who follow lines

    # -- reading -------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def line_text(self, line: int) -> str:
        """Line `line` without its line break."""
        return _without_break(self.lines[line])

    def end(self) -> Position:
        return Position(len(self.lines) - 1, len(self.lines[-1]))

    def text_before(self, pos: Position, limit: int) -> str:
        """Up to `limit` code points just before `pos`."""
        pieces = [self.lines[pos.line][: pos.character]]
        size = len(pieces[0])
        line = pos.line
        while size < limit and line > 0:
            line -= 1
            pieces.append(self.lines[line])
            size += len(self.lines[line])
        return "".join(reversed(pieces))[-limit:]

    def text_between(self, start: Position, end: Position) -> str:
        """The text from `start` to `end` (O(lines between))."""
        if start.line == end.line:
            return self.lines[start.line][start.character : end.character]
        middle = "".join(self.lines[start.line + 1 : end.line])
        return self.lines[start.line][start.character :] + middle + self.lines[end.line][: end.character]

    def text_after(self, pos: Position, limit: int) -> str:
        """Up to `limit` code points just after `pos`."""
        pieces = [self.lines[pos.line][pos.character :]]
        size = len(pieces[0])
        line = pos.line
        while size < limit and line < len(self.lines) - 1:
            line += 1
            pieces.append(self.lines[line])
            size += len(self.lines[line])
        return "".join(pieces)[:limit]

    def before_final_line_break(self) -> Position:
        """The end of the document, but before its final line break if it
        ends with one: editors keep that line break last (Neovim adds it
        back after anything inserted behind it)."""
        if len(self.lines) > 1 and self.lines[-1] == "":
            return Position(len(self.lines) - 2, len(self.line_text(len(self.lines) - 2)))
        return self.end()

    def line_break(self) -> str:
        r"""The line break of the document's last ended line, "\r\n" or "\n"
        (also for a lone "\r", which no editor of ours writes)."""
        if len(self.lines) > 1 and self.lines[-2].endswith("\r\n"):
            return "\r\n"
        return "\n"

    def advance(self, pos: Position, count: int) -> Position:
        """The position `count` code points after `pos` (line breaks count
        as their length)."""
        line, col = pos.line, pos.character + count
        while line < len(self.lines) - 1 and col >= len(self.lines[line]):
            col -= len(self.lines[line])
            line += 1
        return Position(line, col)

    def advance_back(self, pos: Position, count: int) -> Position:
        """The position `count` code points before `pos` (or the start)."""
        line, col = pos.line, pos.character - count
        while col < 0 and line > 0:
            line -= 1
            col += len(self.lines[line])
        return Position(line, max(col, 0))

    # -- positions in the client's encoding ----------------------------------

    def to_client(self, pos: Position) -> tuple[int, int]:
        """(line, character) in the client's position encoding."""
        return pos.line, self.units(self.lines[pos.line][: pos.character])

    def units(self, text: str) -> int:
        """The length of `text` (within a line) in the client's position encoding."""
        if self.encoding == "utf-32" or text.isascii():
            return len(text)
        # surrogatepass: a lone surrogate (JSON allows "\\ud800") counts as one
        # UTF-16 unit, or the three bytes UTF-8 would give it.
        if self.encoding == "utf-16":
            return len(text.encode("utf-16-le", "surrogatepass")) // 2
        return len(text.encode("utf-8", "surrogatepass"))

    def to_client_after(self, pos: Position, text: str) -> tuple[int, int]:
        """Where `text` inserted at `pos` would end, in the client's units,
        without inserting it."""
        line, character = self.to_client(pos)
        *ended, last = split_keeping_ends(text)
        if not ended:
            return line, character + self.units(last)
        return line + len(ended), self.units(last)

    def from_client(self, line: int, character: int) -> Position:
        """A client position in code points, clamped to the document (a
        column inside a character or past the line's end is rounded down)."""
        if line >= len(self.lines):
            return self.end()
        if line < 0:
            return Position(0, 0)
        text = self.line_text(line)
        if self.encoding == "utf-32" or text.isascii():
            return Position(line, max(0, min(character, len(text))))
        # The first `character` units, decoded: a character cut in two is dropped (rounded down).
        try:
            if self.encoding == "utf-16":
                head = text.encode("utf-16-le")[: 2 * max(character, 0)].decode("utf-16-le", "ignore")
            else:
                head = text.encode("utf-8")[: max(character, 0)].decode("utf-8", "ignore")
            return Position(line, len(head))
        except UnicodeEncodeError:  # a lone surrogate: count character by character
            return Position(line, self._code_points_within(text, character))

    def _code_points_within(self, text: str, character: int) -> int:
        """How many of `text`'s code points end within `character` client units."""
        used = 0
        for index, ch in enumerate(text):
            used += self.units(ch)
            if used > character:
                return index
        return len(text)

    # -- changing ------------------------------------------------------------

    def apply(self, change: Change) -> Splice:
        """Apply one change in place and say what moved."""
        first = max(change.start.line - 1, 0)
        stop = min(change.end.line + 2, len(self.lines))  # one line around, for \r + \n joining
        old = self.lines[first:stop]
        window = "".join(old)
        start = self._offset_in(old, change.start.line - first, change.start.character)
        old_end = self._offset_in(old, change.end.line - first, change.end.character)
        new_lines = split_keeping_ends(window[:start] + change.text + window[old_end:])
        if stop < len(self.lines) and new_lines[-1] == "":
            new_lines.pop()  # the window ends with a line break; the next line follows
        self.lines[first:stop] = new_lines
        new_end = start + len(change.text)
        splice = Splice(first, [len(x) for x in old], [len(x) for x in new_lines], start, old_end, new_end)
        if len(self.splices) < _SPLICES_KEPT:
            self.splices.append(splice)
        return splice

    def take_splices(self) -> list[Splice] | None:
        """What `apply` did since the last call, in order; None if more
        than `_SPLICES_KEPT` (then read the whole document again)."""
        splices, self.splices = self.splices, []
        return None if len(splices) >= _SPLICES_KEPT else splices

    def minimal_change(self, text: str) -> Change:
        """The smallest change that turns this document into `text` (for
        clients that send the whole text)."""
        old = self.text
        prefix, suffix = common_ends(old, text)
        return Change(self.position_of(prefix), self.position_of(len(old) - suffix), text[prefix : len(text) - suffix])

    def position_of(self, offset: int) -> Position:
        """The position of a code point offset (O(lines); for rare uses)."""
        for line, text in enumerate(self.lines):
            if offset <= len(_without_break(text)) or line == len(self.lines) - 1:
                return Position(line, min(offset, len(text)))
            offset -= len(text)
        return self.end()

    def same_result(self, a: Change, b: Change) -> bool:
        """Would applying `a` or `b` give the same document?"""
        if len(a.text) - self._span(a) != len(b.text) - self._span(b):
            return False
        if a == b:
            return True
        first = max(min(a.start.line, b.start.line) - 1, 0)
        stop = min(max(a.end.line, b.end.line) + 2, len(self.lines))
        old = self.lines[first:stop]
        window = "".join(old)

        def result(change: Change) -> str:
            start = self._offset_in(old, change.start.line - first, change.start.character)
            end = self._offset_in(old, change.end.line - first, change.end.character)
            return window[:start] + change.text + window[end:]

        return result(a) == result(b)

    def _span(self, change: Change) -> int:
        """How many code points `change` removes."""
        if change.start.line == change.end.line:
            return change.end.character - change.start.character
        middle = sum(len(x) for x in self.lines[change.start.line + 1 : change.end.line])
        return len(self.lines[change.start.line]) - change.start.character + middle + change.end.character

    @staticmethod
    def _offset_in(lines: list[str], line: int, col: int) -> int:
        return sum(len(x) for x in lines[:line]) + col
