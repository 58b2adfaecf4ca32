"""From document plus configuration to the exact request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatvim_ls.chat import Message, parse_chat
from chatvim_ls.config import ConfigError, GlobalConfig, config_path, load_global_config, parse_global_config
from chatvim_ls.messages import WIDTH
from chatvim_ls.providers import ChoiceError, ProviderTable, choose, provider_for_model
from chatvim_ls.request import RequestError, build_request
from chatvim_ls.settings import NEVER_FROM_DOCUMENT, Settings

NO_KEYS: dict[str, str] = {}


def request_for(text: str, config: GlobalConfig | None = None, env: dict[str, str] | None = None):
    config = config or GlobalConfig()
    return build_request(parse_chat(text, config.settings), config, env if env is not None else NO_KEYS)


# -- provider inference --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4.1", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
        ("grok-3", "xai"),
        ("claude-sonnet-4-5", "anthropic"),
        ("gemini-2.5-pro", "gemini"),
        ("deepseek-reasoner", "deepseek"),
        ("mistral-small-latest", "mistral"),
        ("magistral-medium", "mistral"),
        ("codestral-latest", "mistral"),
        ("llama3", None),
    ],
)
def test_provider_inferred_from_model(model: str, provider: str | None) -> None:
    assert provider_for_model(model) == provider


def test_configured_models_win_over_prefixes() -> None:
    assert provider_for_model("gpt-4.1", {"proxy": ProviderTable(models=("gpt-4.1",))}) == "proxy"


def test_explicit_provider_wins() -> None:
    assert choose("gpt-4.1", "openrouter", {}, NO_KEYS) == ("gpt-4.1", "openrouter")


def test_no_model_picks_the_first_provider_with_a_key() -> None:
    assert choose(None, None, {}, {"MISTRAL_API_KEY": "k", "GROQ_API_KEY": "k"}) == ("mistral-medium-latest", "mistral")
    assert choose(None, "xai", {}, NO_KEYS) == ("grok-3", "xai")
    assert choose(None, "mine", {"mine": ProviderTable(models=("m1", "m2"))}, NO_KEYS) == ("m1", "mine")


@pytest.mark.parametrize(
    ("model", "provider", "fragment"),
    [
        (None, None, "set `model`, or export e.g. OPENAI_API_KEY"),
        ("llama3", None, "which provider serves model 'llama3'? set `provider`"),
        ("x", "xia", "unknown provider 'xia': did you mean 'xai'?"),
        ("x", "nope", "unknown provider 'nope': define [providers.nope] in config.md"),
        (None, "mine", "no default model"),
    ],
)
def test_choice_errors_say_what_to_set(model: str | None, provider: str | None, fragment: str) -> None:
    with pytest.raises(ChoiceError, match=re.escape(fragment)):
        choose(model, provider, {"mine": ProviderTable()}, NO_KEYS)


# -- messages -------------------------------------------------------------------


def test_spec_example() -> None:
    text = (
        '+++\nmodel = "gpt-4.1"\ntemperature = 0.2\n+++\n\n# === SYSTEM ===\n\nYou are terse.\n\n'
        "# === USER ===\n\nWhat is 1 + 1?\n\n# === ASSISTANT ===\n\n2.\n\n# === USER ===\n\nAnd 2 + 2?\n"
    )
    assert request_for(text).to_json() == {
        "model": "gpt-4.1",
        "provider": "openai",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is 1 + 1?"},
            {"role": "assistant", "content": "2."},
            {"role": "user", "content": "And 2 + 2?"},
        ],
        "temperature": 0.2,
    }


def test_order_is_system_setting_then_preamble_then_document() -> None:
    config = GlobalConfig(
        preamble=[Message("system", "global"), Message("user", "ctx")], settings=Settings(model="grok-3")
    )
    request = request_for('+++\nsystem = "doc system"\n+++\nq\n', config)
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "doc system"),
        ("system", "global"),
        ("user", "ctx"),
        ("user", "q"),
    ]
    assert request.model == "grok-3"


def test_all_sampling_options_pass_through() -> None:
    text = '+++\nmodel = "o3"\ntop_p = 0.5\nmax_tokens = 9\nreasoning_effort = "low"\nseed = 4\nstop = "x"\n+++\nq'
    assert request_for(text).options == {
        "top_p": 0.5,
        "max_tokens": 9,
        "reasoning_effort": "low",
        "seed": 4,
        "stop": "x",
    }


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("", "the chat is empty", None),
        ("\n\n  \n", "the chat is empty", None),
        ('+++\nmodel = "gpt-4.1"\n+++\n', "the chat is empty", None),
        ("# === USER ===\n\n", "under the last `# === USER ===`", 0),
        ("q\n# === ASSISTANT ===\na\n", "add a `# === USER ===` line at the end and write under it", 1),
        ("# === SYSTEM ===\ns\n", "add a `# === USER ===` line at the end", 0),
        # chatvim swallowed a trailing empty USER into the assistant message.
        ("# === USER ===\nq\n# === ASSISTANT ===\na\n# === USER ===\n", "under the last `# === USER ===`", 4),
    ],
)
def test_nothing_to_send(text: str, fragment: str, line: int | None) -> None:
    with pytest.raises(RequestError, match=fragment) as caught:
        request_for(text, GlobalConfig(settings=Settings(model="gpt-4.1")))
    assert caught.value.line == line


def test_document_errors_stop_the_request_with_their_place() -> None:
    with pytest.raises(RequestError) as caught:
        request_for('+++\nmodel = "gpt-4.1"\nbase_url = "http://evil"\n+++\nq\n')
    assert caught.value.one_line("chat.md").startswith("chat.md:3:1: error: `base_url` may only be set in config.md")
    assert caught.value.short.startswith("line 3: `base_url` may only be set in config.md")


# -- differences from chatvim.nvim -----------------------------------------------


def test_difference_delimiter_on_first_line() -> None:
    assert request_for("# === SYSTEM ===\ns\n# === USER ===\nq", env={"XAI_API_KEY": "k"}).messages[0] == Message(
        "system", "s"
    )


def test_difference_fences_hide_delimiters() -> None:
    request = request_for("q\n```\n# === ASSISTANT ===\n```\n", env={"XAI_API_KEY": "k"})
    assert [m.role for m in request.messages] == ["user"]


def test_difference_no_blank_lines_needed() -> None:
    request = request_for("# === USER ===\nq\n# === ASSISTANT ===\na\n# === USER ===\nr", env={"XAI_API_KEY": "k"})
    assert [m.content for m in request.messages] == ["q", "a", "r"]


def test_difference_crlf_front_matter() -> None:
    assert request_for('+++\r\nmodel = "grok-3"\r\n+++\r\nq\r\n').model == "grok-3"


# -- global config -----------------------------------------------------------------


def test_config_path_follows_xdg() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == Path("/x/chatvim/config.md")
    assert config_path({"XDG_CONFIG_HOME": "relative", "HOME": "/h"}) == Path("/h/.config/chatvim/config.md")
    assert config_path({"HOME": "/h"}) == Path("/h/.config/chatvim/config.md")


def test_missing_config_is_silent(tmp_path: Path) -> None:
    assert load_global_config({"XDG_CONFIG_HOME": str(tmp_path)}) == GlobalConfig()


def test_config_gives_defaults_providers_and_preamble(tmp_path: Path) -> None:
    path = tmp_path / "chatvim" / "config.md"
    path.parent.mkdir()
    path.write_text(
        '+++\nmodel = "m1"\ntemperature = 1\n[providers.local]\nbase_url = "http://127.0.0.1:1/v1"\nmodels = ["m1"]\n+++\n'
        "# === SYSTEM ===\nAlways answer in French.\n"
    )
    config = load_global_config({"XDG_CONFIG_HOME": str(tmp_path)})
    request = request_for("+++\ntemperature = 0.5\n+++\nq\n", config)
    assert (request.model, request.provider, request.options) == ("m1", "local", {"temperature": 0.5})
    assert request.messages[0] == Message("system", "Always answer in French.")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("+++\nmodel = \n+++\n", "config.md:2:9: error: TOML front matter"),
        ("+++\ntemperature = 9\n+++\n", "config.md:2:15: error: `temperature`"),
        ('+++\nproviders = "x"\n+++\n', "`providers` must hold one table per provider"),
    ],
)
def test_broken_config_is_one_line_naming_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_global_config(text, tmp_path / "config.md")
    message = str(caught.value)
    assert fragment in message and "\n" not in message and str(tmp_path) in message


def test_config_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "chatvim" / "config.md"
    path.parent.mkdir()
    path.write_bytes(b"+++\n\xff\n+++\n")
    with pytest.raises(ConfigError, match=re.escape("config.md:2:1: not UTF-8")):
        load_global_config({"XDG_CONFIG_HOME": str(tmp_path)})


BAD_VALUES = {"model": 1, "provider": 1, "system": 1, "temperature": 7, "top_p": 2, "max_tokens": 0, "seed": "x",
              "stop": 3, "reasoning_effort": 1, "userDelimiter": "", "assistantDelimiter": "a\nb",
              "systemDelimiter": 5, "delimiterPrefix": "x", "delimiterSuffix": "y"}  # fmt: skip


@pytest.mark.parametrize("key", [*BAD_VALUES, *NEVER_FROM_DOCUMENT])
def test_every_refusal_of_a_chat_fits_one_line(key: str) -> None:
    """As the editor shows it (`line N: …`, messages.WIDTH), even on line 1000 of a chat."""
    value = json.dumps(BAD_VALUES.get(key, "x"))
    chat = parse_chat(f"+++\n{key} = {value}\n+++\n" + "\n" * 1000 + "# === USER ===\n\nq\n")
    with pytest.raises(RequestError) as caught:
        build_request(chat, GlobalConfig(settings=Settings(model="gpt-4.1")), {})
    assert len(caught.value.short.replace("line 2:", "line 1000:")) <= WIDTH, caught.value.short


@pytest.mark.parametrize(
    ("front_matter", "place"),
    [
        ('+++\nmodel = "m"\n\n[providers.local]\nmodels = ["a"]\nbase_url = 5\n+++\n', "config.md:6:1"),
        ('+++\n[providers]\nlocal = { base_url = "ftp://x" }\n+++\n', "config.md:3:11"),
        ("---\nproviders:\n  local:\n    models: [a]\n    base_url: 7\n---\n", "config.md:5:5"),
        ('+++\n[providers.local]\nbase_url = "http://x"\nmodel = ["a"]\n+++\n', "config.md:4:1"),
        ('+++\nmodel = "m"\nflush = "sometimes"\n+++\n', "config.md:3:1"),
    ],
    ids=["toml-table", "inline-table", "yaml", "unknown-key", "flush"],
)
def test_a_broken_provider_or_option_names_its_line(front_matter: str, place: str) -> None:
    path = Path("/home/u/.config/chatvim/config.md")
    with pytest.raises(ConfigError) as caught:
        parse_global_config(front_matter, path)
    assert str(caught.value).startswith(f"/home/u/.config/chatvim/{place}: error: ")
    assert caught.value.short.startswith(place.rsplit(":", 1)[0] + ": ")
