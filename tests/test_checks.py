"""Diagnostics' logic (chatvim_ls/checks.py), without a server: the checks
kept change by change find exactly what parsing the whole chat finds."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatvim_ls.chat import parse_chat
from chatvim_ls.checks import ChatChecks, config_problems, global_config_problems
from chatvim_ls.config import ConfigError, GlobalConfig, ServerOptions
from chatvim_ls.problems import Severity
from chatvim_ls.providers import ProviderTable
from chatvim_ls.settings import Settings
from chatvim_ls.textdoc import Change, TextDocument

LINES = ["+++", "---", 'model = "gpt-4.1"', "temprature = 1", "model: x", "```", "```python", "````", "~~~",
         "  ```", "# === USER ===", "# === ASSISTANT ===", "text", "", "\ufeff+++",
         'userDelimiter = "## me"', "## me", 'userDelimiter = "~~~ me"', "~~~ me", 'userDelimiter = "~~~"']  # fmt: skip
texts = st.lists(st.sampled_from(LINES), max_size=14).map(lambda lines: "\n".join(lines))


def fresh(text: str) -> list:
    return parse_chat(text).problems


def last_question(text: str) -> tuple[int, int] | None:
    questions = [(t.start_line, t.end_line) for t in parse_chat(text).turns if t.role == "user"]
    return questions[-1] if questions else None


@settings(max_examples=400, deadline=None)
@given(texts, st.lists(st.tuples(st.integers(0, 20), st.integers(0, 3), texts), max_size=5))
def test_checks_kept_across_changes_are_those_of_a_fresh_parse(text: str, changes: list) -> None:
    doc = TextDocument("file:///c.md", text, encoding="utf-32")
    checks = ChatChecks(doc, Settings())
    assert checks.problems(doc) == fresh(doc.text)
    assert checks.question(doc) == last_question(doc.text)
    for change in changes:
        apply(doc, *change)
        checks.update(doc, doc.take_splices())
        assert checks.problems(doc) == fresh(doc.text), doc.text
        assert checks.question(doc) == last_question(doc.text), doc.text


def apply(doc: TextDocument, line: int, count: int, new: str) -> None:
    """Replace `count` whole lines from `line` (clamped) by `new`."""
    start = min(line, len(doc.lines) - 1)
    end = min(start + count, len(doc.lines) - 1)
    doc.apply(Change(doc.from_client(start, 0), doc.from_client(end, 0), new + "\n" if count else new))


def test_the_last_question_follows_delimiters_the_front_matter_sets() -> None:
    doc = TextDocument("file:///c.md", "+++\n+++\nintro\n## me\nsee\n# === ASSISTANT ===\nhi\n")
    checks = ChatChecks(doc, Settings())
    assert checks.question(doc) == (2, 4)  # text before the first delimiter
    doc.apply(Change.insert(doc.from_client(1, 0), 'userDelimiter = "## me"\n'))
    checks.update(doc, doc.take_splices())
    assert checks.question(doc) == last_question(doc.text) == (4, 5)


def test_an_unclosed_fence_is_a_warning_on_its_line() -> None:
    text = "# === USER ===\n\n```python\nprint()\n\n# === ASSISTANT ===\n~~~\nhi\n~~~\n"
    (problem,) = parse_chat(text).problems
    assert problem.severity is Severity.WARNING and problem.range.start.line == 2
    assert problem.message.startswith("this code block is never closed: add a line ``` after it")


def test_a_keystroke_far_from_fences_reads_only_its_lines() -> None:
    doc = TextDocument("file:///c.md", "+++\ntemprature = 1\n+++\n" + "```\ncode\n```\ntext\n" * 1000)
    checks = ChatChecks(doc, Settings())
    assert len(checks.fences) == 2000
    doc.apply(Change.insert(doc.end(), "```"))
    splices = doc.take_splices()
    assert splices is not None and splices[0].first_line >= len(doc.lines) - 2
    checks.update(doc, splices)
    assert [p.range.start.line for p in checks.problems(doc)] == [1, len(doc.lines) - 1]


def config(**tables: ProviderTable) -> GlobalConfig:
    return GlobalConfig(options=ServerOptions(providers=tables))


def test_a_model_no_provider_serves_is_an_error_at_its_value() -> None:
    chat = parse_chat('+++\nmodel = "mystery-1"\n+++\n')
    (problem,) = config_problems(chat, config(), {})
    assert problem.severity is Severity.ERROR and "which provider serves" in problem.message
    assert (problem.range.start.line, problem.range.start.character) == (1, 8)


def test_an_unknown_provider_is_an_error_with_a_guess() -> None:
    chat = parse_chat('+++\nprovider = "opnai"\n+++\n')
    (problem,) = config_problems(chat, config(), {})
    assert "did you mean 'openai'?" in problem.message and problem.range.start.line == 1


def test_a_model_missing_from_the_providers_list_is_a_warning() -> None:
    chat = parse_chat('+++\nprovider = "work"\nmodel = "gpt-5"\n+++\n')
    (problem,) = config_problems(chat, config(work=ProviderTable(base_url="http://x", models=("gpt-4.1",))), {})
    assert problem.severity is Severity.WARNING and problem.range.start.line == 2
    assert "provider `work` lists no model 'gpt-5'" in problem.message and "gpt-4.1" in problem.message
    assert config_problems(parse_chat('+++\nprovider = "work"\nmodel = "gpt-4.1"\n+++\n'),
                           config(work=ProviderTable(models=("gpt-4.1",))), {}) == []  # fmt: skip


def test_a_broken_config_md_is_said_in_every_chat() -> None:
    (problem,) = config_problems(parse_chat("hi"), ConfigError("x", short="config.md:3: bad"), {})
    assert problem.message.startswith("config.md:3: bad") and problem.range.start.line == 0


def test_config_md_gets_its_server_options_checked_at_their_place() -> None:
    text = '+++\nmodel = "gpt-4.1"\n[providers.local]\nbase_url = "ftp://x"\n+++\n'
    (problem,) = global_config_problems(text, Path("config.md"))
    assert "base_url must be an http:// or https:// URL" in problem.message
    assert problem.range.start.line == 3


@settings(max_examples=400, deadline=None)
@given(texts, st.lists(st.tuples(st.integers(0, 20), st.integers(0, 3), texts), min_size=2, max_size=5))
def test_several_changes_in_one_report_are_followed_too(text: str, changes: list) -> None:
    """One didChange may hold several changes (VS Code's multiple cursors, an
    answer's pieces beside the user's): read once, after the last."""
    doc = TextDocument("file:///c.md", text, encoding="utf-32")
    checks = ChatChecks(doc, Settings())
    for change in changes:
        apply(doc, *change)
    checks.update(doc, doc.take_splices())
    assert checks.problems(doc) == fresh(doc.text), doc.text


def test_a_delimiter_that_looks_like_a_fence_opens_no_code_block() -> None:
    text = '+++\nuserDelimiter = "~~~ me"\n+++\n~~~ me\nq\n~~~\n# === ASSISTANT ===\nhi\n~~~ me\nq2\n'
    doc = TextDocument("file:///c.md", text)
    checks = ChatChecks(doc, Settings())
    assert checks.problems(doc) == fresh(text) and fresh(text)[0].range.start.line == 5  # the bare ~~~
    assert checks.question(doc) == last_question(text) == (8, 10)
    doc.apply(Change.insert(doc.from_client(1, 0), 'assistantDelimiter = "~~~"\n'))  # (one that may close)
    checks.update(doc, doc.take_splices())
    assert checks.problems(doc) == fresh(doc.text) and checks.question(doc) == last_question(doc.text)
