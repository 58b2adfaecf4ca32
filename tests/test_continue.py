"""Continuing a cut answer, without a server: how each provider is asked,
and the text a continuation repeats."""

from __future__ import annotations

import pytest

from chatvim_ls.answer import without_repeat
from chatvim_ls.chat import Message
from chatvim_ls.llm import CONTINUE_PROMPT, _body, continue_url
from chatvim_ls.providers import (
    BUILTIN_PROVIDERS,
    ProviderConfigError,
    ProviderTable,
    check_provider_tables,
    provider_named,
)
from chatvim_ls.request import ChatRequest

REQUEST = ChatRequest("m", "p", [Message("user", "q"), Message("assistant", "The keeper climbed")], continues=True)


def test_a_repeated_end_is_cut_and_a_short_match_is_chance() -> None:
    assert without_repeat("The keeper climbed the stairs", "climbed the stairs to the lamp") == " to the lamp"
    assert without_repeat("by the", "the end") == "the end"  # under MIN_REPEAT: kept
    assert without_repeat("anything", "") == ""


@pytest.mark.parametrize(
    ("provider", "last"),
    [
        ("mistral", {"role": "assistant", "content": "The keeper climbed", "prefix": True}),
        ("anthropic", {"role": "assistant", "content": "The keeper climbed"}),
        ("openai", {"role": "user", "content": CONTINUE_PROMPT}),
    ],
)
def test_each_provider_is_asked_its_own_way(provider: str, last: dict) -> None:
    messages = _body(REQUEST, BUILTIN_PROVIDERS[provider])["messages"]
    assert messages[-1] == last and messages[1]["content"] == "The keeper climbed"


def test_deepseek_continues_at_its_beta_url_and_a_table_can_say_how() -> None:
    assert continue_url(BUILTIN_PROVIDERS["deepseek"]) == "https://api.deepseek.com/beta"
    assert continue_url(BUILTIN_PROVIDERS["openai"]) == "https://api.openai.com/v1"
    local = provider_named("local", {"local": ProviderTable(base_url="http://x/v1", continues_by="prefill")}, {})
    assert local.continues_by == "prefill"
    with pytest.raises(ProviderConfigError, match="continues_by must be"):
        check_provider_tables({"local": {"base_url": "http://x", "continues_by": "guess"}}, "config.md")
