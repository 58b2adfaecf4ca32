"""What the user is told: one line, short enough to read at a glance.

The rules every message follows:
- one line: the cause, then what to do (`cause: fix` or `cause; fix`);
- at most `WIDTH` characters, so that an editor's prefix (Neovim shows
  `LSP[chatvim] `) still leaves it within 100 columns and no "Press ENTER"
  prompt appears; long details (a provider's own words, a URL, a file's full
  path) go to the log instead, where nothing is lost;
- a hint names something the user can do in their editor (`Hints`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .secrets import redact

WIDTH = 87  # 100 columns less Neovim's "LSP[chatvim] " (errors; warnings get "LSP[chatvim][Warning] ", keep them short)


def one_line(text: str) -> str:
    """`text` on one line: runs of whitespace (line breaks too) become one space."""
    return " ".join(text.split())


def shorten(text: str, room: int) -> str:
    """`text` cut to `room` characters, with an ellipsis if it was longer;
    keys redacted first (a key cut in half would no longer be recognised)."""
    text = one_line(redact(text)).rstrip(".")
    return text if len(text) <= room else text[: max(room - 1, 0)].rstrip() + "…"


def with_detail(cause: str, detail: str | None, fix: str = "") -> str:
    """`cause: detail; fix`, the detail shortened so that the whole fits
    `WIDTH` (dropped if there is too little room for it to say anything)."""
    tail = f"; {fix}" if fix else ""
    room = WIDTH - len(cause) - len(tail) - 2
    if detail and detail.strip() and room >= 16:
        return f"{cause}: {shorten(detail, room)}{tail}"
    return cause + tail


def first_fitting(*candidates: str) -> str:
    """The first message that fits `WIDTH`, else the shortest."""
    return next((c for c in candidates if len(c) <= WIDTH), min(candidates, key=len))


@dataclass(frozen=True)
class Hints:
    """How to do things in the user's editor: its commands, or the code actions
    every LSP editor has."""

    stop: str = 'the code action "Chatvim: stop"'


#: Editors whose own commands are known, by the `editor` initialization option.
EDITOR_HINTS = {
    "chatvim.nvim": Hints(stop=":ChatvimStop"),
}
