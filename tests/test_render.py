"""What a completion writes (shared/chat-format.md, "What a completion writes")."""

from __future__ import annotations

import pytest

from chatvim_ls.chat import Message, parse_chat
from chatvim_ls.render import Excerpt, answer_closing, answer_opening, forked_chat, new_chat, render_chat
from chatvim_ls.settings import Settings
from chatvim_ls.textdoc import split_keeping_ends

DEFAULTS = Settings().delimiters


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("question", "\n\n# === ASSISTANT ===\n\n"),
        ("question\n", "\n# === ASSISTANT ===\n\n"),
        ("question\n\n", "# === ASSISTANT ===\n\n"),
        ("question\n\n\n", "# === ASSISTANT ===\n\n"),
        ("question\r\n", "\n# === ASSISTANT ===\n\n"),
        ("question  ", "\n\n# === ASSISTANT ===\n\n"),
    ],
)
def test_opening_is_shortened_by_the_newlines_already_there(before: str, expected: str) -> None:
    assert answer_opening(before, DEFAULTS) == expected


def test_whole_exchange_with_defaults() -> None:
    text = "# === USER ===\n\nquestion\n"
    text += answer_opening(text, DEFAULTS) + "answer"
    text += answer_closing(text, DEFAULTS)
    assert text == "# === USER ===\n\nquestion\n\n# === ASSISTANT ===\n\nanswer\n\n# === USER ===\n\n"


def test_closing_after_an_answer_ending_in_newlines() -> None:
    assert answer_closing("answer\n", DEFAULTS) == "\n# === USER ===\n\n"
    assert answer_closing("answer\n\n", DEFAULTS) == "# === USER ===\n\n"


def test_custom_padding_and_delimiters() -> None:
    delimiters = Settings(delimiter_prefix="\n", delimiter_suffix="\n", assistant_delimiter="## AI").delimiters
    assert answer_opening("q", delimiters) == "\n## AI\n"
    assert answer_opening("q\n", delimiters) == "## AI\n"


def test_delimiter_always_stands_on_its_own_line() -> None:
    delimiters = Settings(delimiter_prefix="", delimiter_suffix="").delimiters
    assert answer_opening("q", delimiters) == "\n# === ASSISTANT ===\n"
    assert answer_closing("a\n", delimiters) == "# === USER ===\n"


def test_render_chat_round_trips() -> None:
    messages = [Message("system", "s"), Message("user", "q\n\n  x"), Message("assistant", "a")]
    text = render_chat(messages, DEFAULTS)
    assert text == "# === SYSTEM ===\n\ns\n\n# === USER ===\n\nq\n\n  x\n\n# === ASSISTANT ===\n\na"
    assert parse_chat(text).messages == messages


def test_a_new_chat_quotes_its_model_and_fences_any_selection() -> None:
    text, line = new_chat(Settings().delimiters, 'gp"t', Excerpt("we`ird.py", "python", "# === ASSISTANT ===\nx"))
    chat = parse_chat(text)
    assert chat.settings.model == 'gp"t' and [t.role for t in chat.turns] == ["user"] and chat.problems == []
    assert text.split("\n")[line] == "" and line == len(text.split("\n")) - 2


FORKED = (
    '+++\nmodel = "m"\n+++\n# === USER ===\n\nQ1\n\n# === ASSISTANT ===\n\nA1\n\n'
    "# === USER ===\n\nQ2\n\n# === ASSISTANT ===\n\nA2\n\n# === USER ===\n\n"
)


@pytest.mark.parametrize(
    ("line", "ends_with", "cursor_text"),
    [
        (5, "# === USER ===\n\nQ1\n", "Q1"),  # a question: to ask it another way
        (9, "A1\n\n# === USER ===\n\n\n", ""),  # an answer: a new question after it
        (1, "+++\n\n# === USER ===\n\n\n", ""),  # the settings: a first question
    ],
)
def test_a_fork_holds_the_chat_up_to_the_turn_at_the_line(line: int, ends_with: str, cursor_text: str) -> None:
    text, cursor = forked_chat(split_keeping_ends(FORKED), parse_chat(FORKED), line, Settings().delimiters)
    assert text.startswith('+++\nmodel = "m"\n+++\n') and text.endswith(ends_with)
    assert text.split("\n")[cursor] == cursor_text and "A2" not in text


def test_a_fork_of_a_crlf_chat_is_crlf() -> None:
    crlf = FORKED.replace("\n", "\r\n")
    text, cursor = forked_chat(split_keeping_ends(crlf), parse_chat(crlf), 9, Settings().delimiters)
    assert "\n" not in text.replace("\r\n", "") and text.endswith("A1\r\n\r\n# === USER ===\r\n\r\n\r\n")
    assert text.split("\r\n")[cursor] == ""
