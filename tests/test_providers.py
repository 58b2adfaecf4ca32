"""Provider lookup and keys: environment overrides and `api_key_cmd`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chatvim_ls import providers
from chatvim_ls.providers import MissingKey, Provider, ProviderTable, api_key, forget_keys, provider_named

SECRET = "sk-from-a-command-0123456789"


def command_provider(*argv: str) -> Provider:
    return provider_named("p", {"p": ProviderTable(base_url="http://127.0.0.1:1/v1", api_key_cmd=tuple(argv))}, {})


@pytest.fixture(autouse=True)
def no_cached_keys() -> None:
    forget_keys()


def test_openai_base_url_and_ollama_host_are_honoured() -> None:
    env = {"OPENAI_BASE_URL": "http://proxy.local/v1", "OLLAMA_HOST": "gpu-box:11434"}
    assert provider_named("openai", {}, env).base_url == "http://proxy.local/v1"
    assert provider_named("ollama", {}, env).base_url == "http://gpu-box:11434/v1"
    assert provider_named("xai", {}, env).base_url == "https://api.x.ai/v1"  # only openai reads OPENAI_BASE_URL


def test_a_configured_table_overrides_a_builtin() -> None:
    provider = provider_named("openai", {"openai": ProviderTable(api_key_env="WORK_OPENAI_KEY", models=("gpt-5",))}, {})
    assert provider.base_url == "https://api.openai.com/v1"
    assert provider.key_env == "WORK_OPENAI_KEY" and provider.default_model == "gpt-5"


async def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingKey, match="XAI_API_KEY is not set"):
        await api_key(provider_named("xai", {}, {}), {})


async def test_api_key_cmd_runs_without_a_shell_and_is_cached(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = f"open({str(runs)!r}, 'a').write('x'); print({SECRET!r})"
    provider = command_provider(sys.executable, "-c", script, "$HOME")  # "$HOME" stays literal: no shell
    assert await api_key(provider) == SECRET
    assert await api_key(provider) == SECRET
    assert runs.read_text() == "x"  # run once, then cached
    forget_keys()
    assert await api_key(provider) == SECRET and runs.read_text() == "xx"


async def test_api_key_cmd_failure_never_shows_its_output() -> None:
    provider = command_provider(sys.executable, "-c", f"print({SECRET!r}); raise SystemExit(3)")
    with pytest.raises(MissingKey) as caught:
        await api_key(provider)
    assert "exit status 3" in str(caught.value) and SECRET not in str(caught.value)


async def test_api_key_cmd_that_hangs_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(providers, "KEY_COMMAND_TIMEOUT", 0.3)
    with pytest.raises(MissingKey, match=r"took longer than 0\.3 s"):
        await api_key(command_provider(sys.executable, "-c", "import time; time.sleep(30)"))


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(("/nonexistent/pass-helper",), "could not start"), ((sys.executable, "-c", "pass"), "printed nothing")],
)
async def test_api_key_cmd_problems_are_one_line(argv: tuple[str, ...], fragment: str) -> None:
    with pytest.raises(MissingKey, match=fragment) as caught:
        await api_key(command_provider(*argv))
    assert "\n" not in str(caught.value)
