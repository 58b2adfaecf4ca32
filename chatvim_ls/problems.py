"""Where a document is wrong: positions, ranges and problems.

These are plain values with no LSP types, so the parser and the settings
checks stay pure. Lines and characters count from 0; a character is a code
point of the line (the server converts to the client's position encoding).
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


def error(message: str, range_: Range) -> Problem:
    return Problem(Severity.ERROR, message, range_)


def warning(message: str, range_: Range) -> Problem:
    return Problem(Severity.WARNING, message, range_)
