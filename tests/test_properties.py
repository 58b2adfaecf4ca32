"""Properties of the parser and the renderer, checked with hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatvim_ls.document import Message, parse_chat
from chatvim_ls.render import answer_closing, answer_opening, render_chat
from chatvim_ls.settings import Settings

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


LINE_CHARS = st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",))
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
