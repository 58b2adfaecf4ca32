"""The chat format, rule by rule (shared/chat-format.md)."""

from __future__ import annotations

import pytest

from chatvim_ls.chat import Turn, is_chat, parse_chat
from chatvim_ls.problems import Position, Severity
from chatvim_ls.settings import Settings
from chatvim_ls.textdoc import split_lines


def sent(text: str, defaults: Settings | None = None) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in parse_chat(text, defaults).messages]


# -- turns -------------------------------------------------------------------

TURN_CASES = [
    ("plain text is one user turn", "hello\n", [("user", "hello")]),
    (
        "text before the first delimiter is a user turn",
        "hi\n# === ASSISTANT ===\nyo\n",
        [("user", "hi"), ("assistant", "yo")],
    ),
    (
        "delimiter on the first line",
        "# === SYSTEM ===\nbe terse\n# === USER ===\nq\n",
        [("system", "be terse"), ("user", "q")],
    ),
    (
        "no blank lines needed around delimiters",
        "# === USER ===\na\n# === ASSISTANT ===\nb\n# === USER ===\nc",
        [("user", "a"), ("assistant", "b"), ("user", "c")],
    ),
    ("trailing spaces and tabs after a delimiter", "# === USER === \t\nq\n", [("user", "q")]),
    ("CRLF delimiters", "# === USER ===\r\nq\r\n# === ASSISTANT ===\r\na\r\n", [("user", "q"), ("assistant", "a")]),
    ("lone CR line breaks", "# === USER ===\rq\r", [("user", "q")]),
    ("leading space: not a delimiter", " # === USER ===\nq\n", [("user", " # === USER ===\nq")]),
    ("other text on the line: not a delimiter", "# === USER === please\nq\n", [("user", "# === USER === please\nq")]),
    ("lower case: not a delimiter", "# === user ===\nq\n", [("user", "# === user ===\nq")]),
    ("leading and trailing blank lines trimmed", "# === USER ===\n\n \n\t\nq\n\n  \n", [("user", "q")]),
    (
        "inner blank lines, indentation and trailing spaces kept",
        "# === USER ===\n\n  a  \n\n\n\tb \n\n",
        [("user", "  a  \n\n\n\tb ")],
    ),
    ("CRLF inside content kept exactly", "# === USER ===\r\na\r\nb\r\n", [("user", "a\r\nb")]),
    (
        "empty turns are not sent",
        "# === USER ===\nq\n# === ASSISTANT ===\n\n# === USER ===\nr\n",
        [("user", "q"), ("user", "r")],
    ),
    ("blank text before the first delimiter is no turn", "\n\n# === USER ===\nq\n", [("user", "q")]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in TURN_CASES], ids=[c[0] for c in TURN_CASES])
def test_turns(text: str, expected: list[tuple[str, str]]) -> None:
    assert sent(text) == expected


FENCE_CASES = [
    (
        "backtick fence hides a delimiter",
        "q\n```\n# === ASSISTANT ===\n```\nmore\n",
        [("user", "q\n```\n# === ASSISTANT ===\n```\nmore")],
    ),
    (
        "tilde fence hides a delimiter",
        "q\n~~~\n# === ASSISTANT ===\n~~~\n",
        [("user", "q\n~~~\n# === ASSISTANT ===\n~~~")],
    ),
    ("info string allowed", "q\n```python\n# === SYSTEM ===\n```\n", [("user", "q\n```python\n# === SYSTEM ===\n```")]),
    ("opener indented 3 spaces", "q\n   ```\n# === SYSTEM ===\n```\n", [("user", "q\n   ```\n# === SYSTEM ===\n```")]),
    (
        "4 spaces is not a fence",
        "q\n    ```\n# === SYSTEM ===\ns\n```\n",
        [("user", "q\n    ```"), ("system", "s\n```")],
    ),
    (
        "closer must be the same character",
        "q\n```\n~~~\n# === SYSTEM ===\n```\n",
        [("user", "q\n```\n~~~\n# === SYSTEM ===\n```")],
    ),
    (
        "shorter closer does not close",
        "q\n````\n```\n# === SYSTEM ===\n````\n",
        [("user", "q\n````\n```\n# === SYSTEM ===\n````")],
    ),
    (
        "longer closer closes",
        "q\n```\n# === SYSTEM ===\n`````\n# === ASSISTANT ===\na\n",
        [("user", "q\n```\n# === SYSTEM ===\n`````"), ("assistant", "a")],
    ),
    (
        "closer with text is not a closer",
        "q\n```\n``` x\n# === SYSTEM ===\n```\n",
        [("user", "q\n```\n``` x\n# === SYSTEM ===\n```")],
    ),
    (
        "backtick info string with a backtick is no opener",
        "q\n``` a`b\n# === SYSTEM ===\ns\n",
        [("user", "q\n``` a`b"), ("system", "s")],
    ),
    (
        "an unclosed fence hides nothing",
        "q\n```\n# === ASSISTANT ===\na\n# === USER ===\nr\n",
        [("user", "q\n```"), ("assistant", "a"), ("user", "r")],
    ),
    (
        "fences after an unclosed one still hide",
        "```\n# === USER ===\n~~~\n# === SYSTEM ===\n~~~\n",
        [("user", "```"), ("user", "~~~\n# === SYSTEM ===\n~~~")],
    ),
    (
        "unclosed longer fence, then a balanced shorter one",
        "q\n````\n```\n# === SYSTEM ===\n```\n# === ASSISTANT ===\na",
        [("user", "q\n````\n```\n# === SYSTEM ===\n```"), ("assistant", "a")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in FENCE_CASES], ids=[c[0] for c in FENCE_CASES])
def test_fences(text: str, expected: list[tuple[str, str]]) -> None:
    assert sent(text) == expected


def test_custom_delimiters_replace_the_defaults() -> None:
    text = '+++\nuserDelimiter = "## Me"\nassistantDelimiter = "## Bot  "\n+++\n## Me\nq\n## Bot\na\n# === USER ===\nstill a\n'
    assert sent(text) == [("user", "q"), ("assistant", "a\n# === USER ===\nstill a")]


def test_custom_delimiters_from_defaults() -> None:
    defaults = Settings(user_delimiter=">>> me", assistant_delimiter=">>> ai")
    assert sent(">>> me\nq\n>>> ai\na\n", defaults) == [("user", "q"), ("assistant", "a")]


def test_turn_ranges_include_empty_turns() -> None:
    text = "+++\n+++\nintro\n\n# === USER ===\nq\n\n# === ASSISTANT ===\n\n# === USER ===\n"
    assert parse_chat(text).turns == [
        Turn("user", "intro", 2, 3, has_delimiter=False),
        Turn("user", "q", 4, 6),
        Turn("assistant", "", 7, 8),
        Turn("user", "", 9, 10),
    ]


# -- front matter ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '+++\nmodel = "grok-3"\n+++\nq\n',
        "---\nmodel: grok-3\n---\nq\n",
        '\ufeff+++\nmodel = "grok-3"\n+++\nq\n',
        '+++\r\nmodel = "grok-3"\r\n+++\r\nq\r\n',
        "---\r\nmodel: grok-3\r\n---\r\nq\r\n",
        '+++  \nmodel = "grok-3"\n+++\t\nq\n',
    ],
    ids=["toml", "yaml", "bom", "toml-crlf", "yaml-crlf", "trailing-space-fences"],
)
def test_front_matter_kinds(text: str) -> None:
    chat = parse_chat(text)
    assert chat.problems == []
    assert chat.settings.model == "grok-3"
    assert sent(text) == [("user", "q")]


def test_front_matter_must_start_at_the_first_byte() -> None:
    chat = parse_chat('\n+++\nmodel = "grok-3"\n+++\nq\n')
    assert chat.settings.model is None
    assert chat.front_matter is None


def test_unclosed_front_matter_is_text_with_a_warning() -> None:
    chat = parse_chat('+++\nmodel = "grok-3"\nq\n')
    assert chat.front_matter is None
    assert [p.severity for p in chat.problems] == [Severity.WARNING]
    assert "unclosed" in chat.problems[0].message
    assert sent('+++\nmodel = "grok-3"\nq\n') == [("user", '+++\nmodel = "grok-3"\nq')]


def test_empty_front_matter() -> None:
    for text in ("+++\n+++\nq", "---\n---\nq"):
        assert parse_chat(text).problems == []
        assert sent(text) == [("user", "q")]


@pytest.mark.parametrize(
    ("text", "line", "character", "fragment"),
    [
        ("+++\nmodel = \n+++\nq\n", 1, 8, "invalid value"),
        ('+++\nmodel = "a"\nseed = [1\n+++\n', 2, 9, "TOML"),
        ("---\nmodel: [a\nseed: 1\n---\n", 2, 4, "YAML"),
        ("---\n- a\n- b\n---\n", 1, 0, "key: value"),
        ("---\njust text\n---\n", 1, 0, "key: value"),
    ],
)
def test_front_matter_parse_errors_have_a_place(text: str, line: int, character: int, fragment: str) -> None:
    chat = parse_chat(text)
    (problem,) = chat.errors
    assert fragment in problem.message
    assert problem.range.start == Position(line, character)


def test_yaml_loads_safely() -> None:
    chat = parse_chat("---\nmodel: !!python/object/apply:os.system ['echo hi']\n---\nq\n")
    assert chat.errors and "YAML" in chat.errors[0].message


def test_split_lines_follows_lsp() -> None:
    assert split_lines("a\r\nb\rc\nd\u2028e\x0cf") == (["a", "b", "c", "d\u2028e\x0cf"], ["\r\n", "\r", "\n", ""])
    assert split_lines("a\n") == (["a", ""], ["\n", ""])


@pytest.mark.parametrize(
    ("text", "chat"),
    [
        ("# === USER ===\n\nHi\n", True),
        ("\ufeff# === ASSISTANT ===\r\nyes\r\n", True),
        ('+++\nmodel = "grok-3"\n+++\nNo delimiter line\n', True),
        ("---\nprovider: xai\n---\nNo delimiter line\n", True),
        ('+++\nuserDelimiter = "## me"\n+++\n## me\nHi\n', True),
        ("```\n# === USER ===\n", True),  # an unclosed fence hides nothing
        ("A chat looks like this:\n\n```markdown\n# === USER ===\n\nHi\n```\n", False),
        ("---\ntitle: A blog post\n---\nText.\n", False),
        ("# Notes\n\n## === USER === is not a delimiter\n", False),
        ("", False),
        ("# === USER ===\rHi\r", True),  # old Mac line breaks
        ("----\n# === USER ===\n---\nq\n", True),  # "----" is no front matter fence
        ('+++\nsystem = """\n# === USER ===\n"""\n+++\nNo delimiter line\n', False),  # in the front matter
    ],
)
def test_is_chat(text: str, chat: bool) -> None:
    assert is_chat(text) is chat


def test_a_toml_value_too_big_for_python_is_a_problem_not_a_crash() -> None:
    for front in (f"seed = {'9' * 5000}", "stop = " + "[" * 3000 + "]" * 3000):
        (problem,) = parse_chat(f"+++\n{front}\n+++\nq\n").problems
        assert problem.message == "TOML front matter: a value too big, or nested too deep"
