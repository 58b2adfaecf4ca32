"""The shape of a chat for an editor's outline and folds, from the parsed
chat (`chat.Chat`); pure, no LSP.

- Sections: one for the front matter ("settings") and one per turn, named
  by its role and first words, spanning the turn's lines (its delimiter line
  is where the editor puts the cursor).
- Folds: the front matter, each turn, each closed code block, and an
  answer's Thinking block (`reasoning = "show"`); a fold
  ends on the last line that is not blank, so a folded turn keeps the blank
  line before the next delimiter in view.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chat import THINKING_CLOSE, THINKING_OPEN, Chat, Turn

NAME_WIDTH = 48  # characters of a turn's first words in its name


@dataclass(frozen=True)
class Section:
    kind: str  # "settings", "user", "assistant" or "system"
    name: str
    first_line: int
    last_line: int  # inclusive
    head_line: int  # the delimiter line (or the first line)


@dataclass(frozen=True)
class Fold:
    kind: str  # "settings", "turn", "code" or "thinking"
    first_line: int
    last_line: int


def sections(chat: Chat, lines: list[str]) -> list[Section]:
    found = []
    front = chat.front_matter
    if front is not None:
        found.append(Section("settings", "Settings", front.start_line, front.end_line, front.start_line))
    for turn in chat.turns:
        name = turn.role.capitalize()
        words = _first_words(turn.content)
        found.append(Section(turn.role, f"{name}: {words}" if words else name, turn.start_line,
                             _last_written(lines, turn.start_line, turn.end_line), turn.start_line))  # fmt: skip
    return found


def folds(chat: Chat, lines: list[str]) -> list[Fold]:
    found = []
    front = chat.front_matter
    if front is not None and front.end_line > front.start_line:
        found.append(Fold("settings", front.start_line, front.end_line))
    for turn in chat.turns:
        last = _last_written(lines, turn.start_line, turn.end_line)
        if last > turn.start_line:
            found.append(Fold("turn", turn.start_line, last))
    found += [Fold("code", first, last) for first, last in chat.code_blocks]
    found += [Fold("thinking", *block) for turn in chat.turns if (block := _thinking_block(lines, turn)) is not None]
    return sorted(found, key=lambda f: (f.first_line, -f.last_line))


def _thinking_block(lines: list[str], turn: Turn) -> tuple[int, int] | None:
    """The lines of the Thinking block an answer starts with (`reasoning = "show"`)."""
    if turn.role != "assistant":
        return None
    first = next((i for i in range(turn.start_line + 1, turn.end_line + 1) if lines[i].strip()), None)
    if first is None or lines[first].strip() != THINKING_OPEN:
        return None
    last = next((i for i in range(first + 1, turn.end_line + 1) if lines[i].strip() == THINKING_CLOSE), None)
    return (first, last) if last is not None else None


def last_question(chat: Chat) -> int | None:
    """The delimiter line of the last user turn: where "Complete" (or "Stop")
    is offered above the text."""
    return next((t.start_line for t in reversed(chat.turns) if t.role == "user"), None)


def _first_words(content: str) -> str:
    line = next((x.strip() for x in content.splitlines() if x.strip()), "")
    if len(line) <= NAME_WIDTH:
        return line
    cut = line[: NAME_WIDTH - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(",.;: ") + "…"  # at a word's end


def _last_written(lines: list[str], first: int, last: int) -> int:
    """The last line from `first` to `last` that is not blank (or `first`)."""
    while last > first and not lines[last].strip():
        last -= 1
    return last
