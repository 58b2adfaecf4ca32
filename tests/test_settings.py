"""Front matter settings: types, ranges, unknown and forbidden keys."""

from __future__ import annotations

import pytest

from chatvim_ls.chat import parse_chat
from chatvim_ls.problems import Range, Severity
from chatvim_ls.settings import NEVER_FROM_DOCUMENT, SETTINGS, Settings

GOOD = {
    "model": '"gpt-4.1"',
    "provider": '"openai"',
    "system": '"be terse"',
    "temperature": "0.2",
    "top_p": "1",
    "max_tokens": "100",
    "reasoning_effort": '"high"',
    "seed": "-3",
    "stop": '["a", "b"]',
    "userDelimiter": '"## me"',
    "assistantDelimiter": '"## ai"',
    "systemDelimiter": '"## sys"',
    "delimiterPrefix": '"\\n"',
    "delimiterSuffix": '"\\n\\n\\n"',
    "reasoning": '"show"',
}


def test_every_setting_is_covered() -> None:
    assert set(GOOD) == set(SETTINGS)


@pytest.mark.parametrize(("key", "value"), GOOD.items())
def test_good_values_are_accepted(key: str, value: str) -> None:
    chat = parse_chat(f"+++\n{key} = {value}\n+++\nq\n")
    assert chat.problems == []
    assert getattr(chat.settings, SETTINGS[key].field) is not None


BAD = [
    ("model", "1"),
    ("provider", "true"),
    ("system", "[1]"),
    ("temperature", "2.5"),
    ("temperature", "-0.1"),
    ("temperature", '"hot"'),
    ("temperature", "true"),
    ("top_p", "1.5"),
    ("max_tokens", "0"),
    ("max_tokens", "1.5"),
    ("max_tokens", "false"),
    ("reasoning_effort", "3"),
    ("seed", "1.0"),
    ("stop", "[1, 2]"),
    ("stop", "4"),
    ("userDelimiter", '""'),
    ("userDelimiter", '"   "'),
    ("assistantDelimiter", '"a\\nb"'),
    ("systemDelimiter", "1"),
    ("delimiterPrefix", '"--"'),
    ("delimiterPrefix", '" \\n"'),
    ("delimiterSuffix", "2"),
    ("reasoning", '"shown"'),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_bad_values_are_errors_at_the_value(key: str, value: str) -> None:
    chat = parse_chat(f"+++\n# a comment\n{key} = {value} # note\n+++\nq\n")
    (problem,) = chat.errors
    assert f"`{key}`" in problem.message
    start = len(key) + 3
    assert problem.range == Range.of_line(2, start, start + len(value))
    assert getattr(chat.settings, SETTINGS[key].field) is None


def test_bad_value_in_yaml_is_at_the_value() -> None:
    chat = parse_chat("---\nmax_tokens:   lots\n---\nq\n")
    (problem,) = chat.errors
    assert problem.range == Range.of_line(1, 14, 18)


@pytest.mark.parametrize(
    ("key", "guess"),
    [
        ("temprature", "temperature"),
        ("Model", "model"),
        ("max_token", "max_tokens"),
        ("user_delimiter", "userDelimiter"),
    ],
)
def test_unknown_keys_warn_with_a_guess(key: str, guess: str) -> None:
    chat = parse_chat(f"+++\n{key} = 1\n+++\nq\n")
    (problem,) = chat.problems
    assert problem.severity is Severity.WARNING
    assert problem.message.endswith(f"did you mean `{guess}`?")
    assert problem.range == Range.of_line(1, 0, len(key))


def test_unknown_key_without_a_near_miss() -> None:
    (problem,) = parse_chat("+++\ncolour = 1\n+++\nq\n").problems
    assert "did you mean" not in problem.message


@pytest.mark.parametrize("key", NEVER_FROM_DOCUMENT)
def test_keys_a_document_may_never_set(key: str) -> None:
    line = f"[{key}.evil]" if key == "providers" else f'{key} = "x"'
    chat = parse_chat(f'+++\nmodel = "gpt-4.1"\n{line}\nbase = 1\n+++\nq\n')
    errors = chat.errors
    assert len(errors) == 1
    assert f"`{key}` may only be set in config.md" in errors[0].message
    assert errors[0].range.start.line == 2


def test_forbidden_key_in_yaml_nested() -> None:
    chat = parse_chat("---\nheaders:\n  X-Key: secret\n---\nq\n")
    (problem,) = chat.errors
    assert problem.range == Range.of_line(1, 0, 7)


def test_reasoning_effort_near_miss_warns() -> None:
    (problem,) = parse_chat('+++\nreasoning_effort = "hihg"\n+++\nq\n').problems
    assert problem.severity is Severity.WARNING and "'high'" in problem.message
    assert parse_chat('+++\nreasoning_effort = "xhigh-custom-level"\n+++\nq\n').problems == []


def test_clashing_delimiters_are_an_error() -> None:
    (problem,) = parse_chat('+++\nassistantDelimiter = "# === USER ==="\n+++\nq\n').errors
    assert "same line" in problem.message


def test_precedence_document_over_base() -> None:
    base = Settings(model="grok-3", temperature=1.0, delimiter_prefix="\n")
    doc = Settings(model="gpt-4.1")
    merged = doc.over(base)
    assert (merged.model, merged.temperature, merged.delimiters.prefix) == ("gpt-4.1", 1.0, "\n")
    assert Settings().delimiters.prefix == "\n\n"
