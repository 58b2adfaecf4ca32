"""What a hover says about a setting (chatvim_ls/hover.py), without a server."""

from __future__ import annotations

from chatvim_ls.chat import parse_head
from chatvim_ls.config import ConfigError, GlobalConfig, ServerOptions
from chatvim_ls.hover import hover_at
from chatvim_ls.problems import Position
from chatvim_ls.providers import ProviderTable
from chatvim_ls.settings import Settings

TEXT = '+++\nmodel = "gpt-4.1"\ntemperature = 0.2\nbase_url = "http://evil"\n+++\n'
HEAD = parse_head(TEXT.split("\n"))


def test_a_key_says_its_type_meaning_and_value_in_effect_from_the_chat() -> None:
    text, place = hover_at(HEAD, Position(2, 3), GlobalConfig(), {})  # type: ignore[misc]
    assert text.startswith("**temperature** · number 0..2") and "In effect: `0.2`, from this chat" in text
    assert (place.start.character, place.end.character) == (0, 11)


def test_a_setting_from_config_md_or_the_default() -> None:
    head = parse_head(["+++", 'model = "gpt-4.1"', "seed = 3", 'userDelimiter = "## me"', "+++", ""])
    config = GlobalConfig(settings=Settings(seed=7))
    assert "In effect: `3`, from this chat" in hover_at(head, Position(2, 1), config, {})[0]  # type: ignore[index]
    bare = parse_head(["+++", 'stop = "x"', "+++", ""])
    assert hover_at(bare, Position(1, 1), GlobalConfig(), {}) is not None


def test_the_model_says_where_the_chat_goes_and_which_key_without_its_value() -> None:
    text, place = hover_at(HEAD, Position(1, 10), GlobalConfig(), {"OPENAI_API_KEY": "sk-secret"})  # type: ignore[misc]
    assert "Sent to **openai** as `gpt-4.1`, at https://api.openai.com/v1; key from `OPENAI_API_KEY` (set)" in text
    assert "sk-secret" not in text and place.start.character == 8
    work = GlobalConfig(
        options=ServerOptions(providers={"work": ProviderTable(base_url="http://w", models=("gpt-4.1",))})
    )
    assert "Sent to **work**" in hover_at(HEAD, Position(1, 2), work, {})[0]  # type: ignore[index]
    broken = ConfigError("x", short="config.md:2: bad")
    assert "config.md is broken: config.md:2: bad" in hover_at(HEAD, Position(1, 2), broken, {})[0]  # type: ignore[index]


def test_a_key_a_chat_may_not_set_and_nothing_elsewhere() -> None:
    assert "may only be set in config.md" in hover_at(HEAD, Position(3, 2), GlobalConfig(), {})[0]  # type: ignore[index]
    assert hover_at(HEAD, Position(2, 16), GlobalConfig(), {}) is None  # on a value other than model's
    assert hover_at(parse_head(["hello"]), Position(0, 1), GlobalConfig(), {}) is None


def test_a_base_url_is_shown_without_a_password_or_query() -> None:
    config = GlobalConfig(options=ServerOptions(providers={"work": ProviderTable(
        base_url="https://me:s3cret@llm.example:8443/v1?key=abc", models=("gpt-4.1",))}))  # fmt: skip
    text = hover_at(HEAD, Position(1, 2), config, {})[0]  # type: ignore[index]
    assert "at https://llm.example:8443/v1;" in text and "s3cret" not in text and "abc" not in text
