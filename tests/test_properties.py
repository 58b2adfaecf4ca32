"""Properties of the parser, the renderer and the position/edit logic,
checked with hypothesis (long runs: `pytest -m slow tests/test_properties.py`)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatvim_ls.chat import Message, parse_chat
from chatvim_ls.problems import Position
from chatvim_ls.render import answer_closing, answer_opening, render_chat
from chatvim_ls.settings import Settings
from chatvim_ls.textdoc import Change, TextDocument

FRAGMENTS = [
    "# === USER ===",
    "# === ASSISTANT ===",
    "# === SYSTEM ===",
    "# === USER === \t",
    "```",
    "````",
    "~~~",
    "   ```py",
    "    ```",
    "+++",
    "---",
    'model = "gpt-4.1"',
    "temperature = 9",
    "model: [",
    "api_key: x",
    'userDelimiter = ""',
    "\ufeff",
    "",
    " ",
    "\t",
    "text",
    "\u2028",
    "\x00",
    "é",
    "🙂",
]
LINE_ENDINGS = ["\n", "\r\n", "\r"]

documents = st.one_of(
    st.text(),
    st.lists(
        st.tuples(st.sampled_from(FRAGMENTS) | st.text(max_size=8), st.sampled_from(LINE_ENDINGS)), max_size=30
    ).map(lambda pairs: "".join(a + b for a, b in pairs)),
)


@settings(max_examples=400)
@given(documents)
def test_parser_never_raises_and_ranges_are_inside(text: str) -> None:
    chat = parse_chat(text)
    line_count = len(text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    for turn in chat.turns:
        assert 0 <= turn.start_line <= turn.end_line < line_count
    for problem in chat.problems:
        assert 0 <= problem.range.start.line < line_count


LINE_CHARS = st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"])
DEFAULT_DELIMITERS = Settings().delimiters


def is_plain_line(line: str) -> bool:
    """Lines that cannot change a chat's structure: no delimiter, no fence."""
    return DEFAULT_DELIMITERS.role_of(line) is None and not line.lstrip(" ").startswith(("```", "~~~"))


def canonical(lines: list[str], endings: list[str]) -> str:
    return "".join(line + end for line, end in zip(lines, endings, strict=False)) + lines[-1]


contents = (
    st.lists(st.text(LINE_CHARS, max_size=12).filter(is_plain_line), min_size=1, max_size=6)
    .flatmap(
        lambda lines: st.tuples(
            st.just(lines), st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(lines) - 1, max_size=len(lines) - 1)
        )
    )
    .map(lambda pair: canonical(*pair))
    .filter(
        lambda c: (
            c.strip(" \t") != "" and c.split("\n")[0].strip(" \t\r") != "" and c.split("\n")[-1].strip(" \t") != ""
        )
    )
)
messages = st.lists(st.builds(Message, st.sampled_from(["user", "assistant", "system"]), contents), max_size=8)
paddings = st.sampled_from(["\n\n", "\n", "", "\n\n\n", "\r\n"])


@settings(max_examples=300)
@given(messages, paddings, paddings)
def test_render_then_parse_returns_the_messages(sent: list[Message], prefix: str, suffix: str) -> None:
    delimiters = Settings(delimiter_prefix=prefix, delimiter_suffix=suffix).delimiters
    text = render_chat(sent, delimiters)
    defaults = Settings(delimiter_prefix=prefix, delimiter_suffix=suffix)
    assert parse_chat(text, defaults).messages == sent


@settings(max_examples=200)
@given(messages.filter(bool), contents)
def test_a_completion_appends_exactly_one_assistant_turn(history: list[Message], answer: str) -> None:
    text = render_chat(history, DEFAULT_DELIMITERS)
    text += answer_opening(text, DEFAULT_DELIMITERS) + answer
    text += answer_closing(text, DEFAULT_DELIMITERS)
    chat = parse_chat(text)
    assert chat.messages == [*history, Message("assistant", answer)]
    assert chat.turns[-1].role == "user" and chat.turns[-1].content == ""


# -- positions and edits (textdoc.py) ---------------------------------------------------

TEXT_CHARS = st.sampled_from(["a", "é", "🙂", "\t", "\u2028", "\x85", "\x0c", "\x00", "\r", "\n", "\r\n", "ש"])
texts = st.lists(TEXT_CHARS, max_size=40).map("".join)
_BREAK = re.compile(r"\r\n|\r|\n")


def reference_position(text: str, offset: int) -> Position:
    """An offset as LSP counts it: lines break at \\r\\n, \\r and \\n only."""
    before = text[:offset]
    breaks = list(_BREAK.finditer(before))
    start = breaks[-1].end() if breaks else 0
    return Position(len(breaks), offset - start)


def valid_offsets(text: str) -> list[int]:
    """Offsets that are positions (not between the \\r and \\n of a CRLF)."""
    return [i for i in range(len(text) + 1) if not (0 < i < len(text) and text[i - 1 : i + 1] == "\r\n")]


@st.composite
def edited_documents(draw: st.DrawFn) -> tuple[str, str, list[tuple[int, int, str]]]:
    """A text, a position encoding, and changes (start, end, new text) as offsets."""
    start = text = draw(texts)
    changes = []
    for _ in range(draw(st.integers(0, 6))):
        offsets = valid_offsets(text)
        a, b = sorted((draw(st.sampled_from(offsets)), draw(st.sampled_from(offsets))))
        new = draw(texts)
        changes.append((a, b, new))
        text = text[:a] + new + text[b:]
    return start, draw(st.sampled_from(["utf-8", "utf-16", "utf-32"])), changes


def check_positions_and_edits(start: str, encoding: str, changes: list[tuple[int, int, str]]) -> None:
    doc = TextDocument("file:///t.md", start, encoding=encoding)
    text = start
    for a, b, new in changes:
        doc.apply(Change(reference_position(text, a), reference_position(text, b), new))
        text = text[:a] + new + text[b:]
        assert doc.text == text
        for offset in valid_offsets(text):
            pos = reference_position(text, offset)
            assert doc.from_client(*doc.to_client(pos)) == pos  # the client's units and back


@settings(max_examples=300, deadline=None)
@given(edited_documents())
def test_positions_and_edits_match_a_plain_string(case: tuple[str, str, list[tuple[int, int, str]]]) -> None:
    check_positions_and_edits(*case)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None)
@given(documents)
def test_parser_never_raises_long(text: str) -> None:
    test_parser_never_raises_and_ranges_are_inside.hypothesis.inner_test(text)  # type: ignore[attr-defined]


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None)
@given(edited_documents())
def test_positions_and_edits_long(case: tuple[str, str, list[tuple[int, int, str]]]) -> None:
    check_positions_and_edits(*case)


def units_of(ch: str, encoding: str) -> int:
    return {"utf-8": len(ch.encode("utf-8", "surrogatepass")), "utf-16": 2 if ord(ch) > 0xFFFF else 1, "utf-32": 1}[
        encoding
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.sampled_from("ab é€😀\t\ud800\udfff")),
    st.sampled_from(["utf-8", "utf-16", "utf-32"]),
    st.integers(-2, 40),
)
def test_a_client_column_rounds_down_inside_a_character(line: str, encoding: str, column: int) -> None:
    doc = TextDocument("file:///t.md", line, encoding=encoding)
    units, expected = 0, len(line)  # a column past the line's end is its end
    for index, ch in enumerate(line):
        if units + units_of(ch, encoding) > column:
            expected = index
            break
        units += units_of(ch, encoding)
    assert doc.from_client(0, column) == Position(0, max(expected, 0))
    assert doc.units(line) == sum(units_of(ch, encoding) for ch in line)
