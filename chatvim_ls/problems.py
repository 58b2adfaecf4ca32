"""Where a document is wrong: positions, ranges and problems; and the one
error type that stops a request.

These are plain values with no LSP types, so the parser and the settings
checks stay pure. Lines and characters count from 0; a character is a code
point of the line (the server converts to the client's position encoding).

`ChatvimError` is what every module raises for something the user must fix:
its message is one line that says what to do, and `short` the same line for
the editor, where the file is the one in front of the user (no paths).
Callers catch this one type; nothing re-wraps it to change its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, order=True)
class Position:
    line: int
    character: int


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position

    @staticmethod
    def of_line(line: int, start: int = 0, end: int = 0) -> Range:
        return Range(Position(line, start), Position(line, end))


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    range: Range

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def one_line(self, where: str) -> str:
        """`where:LINE:COL: error: message`, lines and columns from 1."""
        start = self.range.start
        return f"{where}:{start.line + 1}:{start.character + 1}: {self.severity.value}: {self.message}"


class ChatvimError(Exception):
    """Something the user must fix or know, in one line with the fix."""

    def __init__(self, message: str, *, short: str | None = None) -> None:
        super().__init__(message)
        self.short = short or message

    def one_line(self, where: str) -> str:
        """For the command line: `where: error: message`."""
        return f"{where}: error: {self}"


def error(message: str, range_: Range) -> Problem:
    return Problem(Severity.ERROR, message, range_)


def warning(message: str, range_: Range) -> Problem:
    return Problem(Severity.WARNING, message, range_)
