"""What an answer writes into a chat, new chats, and chats written from messages.

The answer goes at the end of the document: `answer_opening` before the
first token, the answer as streamed, then `answer_closing`. Both shorten the
configured padding by the line breaks the text already ends with (and the
closing by those that already follow), so there is exactly one blank line
around each delimiter with the default padding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .chat import THINKING_CLOSE, THINKING_OPEN, Chat, Message
from .settings import Delimiters


def answer_opening(text_before: str, delimiters: Delimiters) -> str:
    """Text to insert after `text_before` (the document) before the answer."""
    return _block(text_before, delimiters.assistant, delimiters)


def answer_closing(text_before: str, delimiters: Delimiters, text_after: str = "") -> str:
    """Text to insert after `text_before` (ending with the answer) and
    before `text_after`, so the user can type the next question."""
    block = _block(text_before, delimiters.user, delimiters)
    line_breaks_after = _leading_line_breaks(text_after)
    if not line_breaks_after:
        return block
    delimiter_end = block.rindex(delimiters.user) + len(delimiters.user)
    return block[:delimiter_end] + _shorten(block[delimiter_end:], line_breaks_after)


def render_chat(messages: Iterable[Message], delimiters: Delimiters) -> str:
    """A chat document holding `messages`, each under its delimiter line."""
    text = ""
    for message in messages:
        text += _block(text, delimiters.for_role(message.role), delimiters) + message.content
    return text


@dataclass(frozen=True)
class Excerpt:
    """Text from a file, to ask about in a new chat."""

    label: str  # the file's path, as the user knows it
    language: str  # the editor's language id, or ""
    text: str


#: Around the model's thinking, with `reasoning = "show"` (a block any markdown viewer folds).
THINKING_BEFORE = f"{THINKING_OPEN}\n\n"
THINKING_AFTER = f"\n\n{THINKING_CLOSE}\n\n"


def new_chat(delimiters: Delimiters, model: str | None, excerpt: Excerpt | None = None) -> tuple[str, int]:
    """A new chat's text and the line the cursor goes to (its empty user
    turn). `model` is written as the chat's setting; None: as a comment
    (the configuration chooses)."""
    setting = f"model = {json.dumps(model)}" if model else '# model = "gpt-4.1"'  # a TOML string, escaped
    text = f"+++\n{setting}\n+++\n\n{delimiters.user}\n\n"
    if excerpt is not None:
        code = excerpt.text if excerpt.text.endswith("\n") else excerpt.text + "\n"
        info = f"{excerpt.language} {excerpt.label}".replace("\r", " ").replace("\n", " ")
        char = "~" if "`" in info else "`"  # a backtick fence's info may hold none
        fence = char * max(3, _longest_run(code, char) + 1)
        text += f"{fence}{info}\n{code}{fence}\n\n"
    return text + "\n", text.count("\n")


def forked_chat(lines: list[str], chat: Chat, line: int, delimiters: Delimiters) -> tuple[str, int]:
    """A new chat holding `chat` (whose lines, with their breaks, are `lines`)
    up to the end of the turn at `line`, front matter and all, and the line
    the cursor goes to: the end of that turn when it is a question (to ask
    it another way), else a new empty question after it."""
    turn = next((t for t in chat.turns if t.start_line <= line <= t.end_line), None)
    front_end = chat.front_matter.end_line if chat.front_matter else -1
    end = front_end if turn is None else turn.end_line  # (in the front matter: the settings and a first question)
    text = "".join(lines[: end + 1]).rstrip(" \t\r\n")
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"  # the chat's own, as the editor keeps it
    if turn is not None and turn.role == "user" and turn.content:
        return text + newline, text.count("\n")
    text = (text + newline * 2 if text else "") + delimiters.user + newline * 2
    return text + newline, text.count("\n")


def _longest_run(text: str, char: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == char else 0
        longest = max(longest, run)
    return longest


def _block(text_before: str, delimiter: str, delimiters: Delimiters) -> str:
    prefix = _shorten(delimiters.prefix, _trailing_line_breaks(text_before)) if text_before else ""
    if text_before and not (text_before + prefix).endswith(("\n", "\r")):
        prefix += "\n"  # the delimiter must start a line of its own
    suffix = delimiters.suffix if "\n" in delimiters.suffix else delimiters.suffix + "\n"
    return prefix + delimiter + suffix


def _trailing_line_breaks(text: str) -> int:
    """How many line breaks `text` ends with (`\\r\\n` counts once)."""
    stripped = text.rstrip("\r\n")
    tail = text[len(stripped) :]
    return tail.count("\n") + tail.count("\r") - tail.count("\r\n")


def _leading_line_breaks(text: str) -> int:
    return _trailing_line_breaks(text[: len(text) - len(text.lstrip("\r\n"))])


def _shorten(padding: str, line_breaks: int) -> str:
    """`padding` less its first `line_breaks` line breaks."""
    for _ in range(line_breaks):
        cut = padding.find("\n")
        if cut == -1:
            break
        padding = padding[cut + 1 :]
    return padding
