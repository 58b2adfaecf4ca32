"""Shared fixtures: the fake provider, and an LSP client talking to a real
chatvim-ls over stdio (with the editor presets of pytest-lsp)."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, client_capabilities

from chatvim_ls.messages import WIDTH
from chatvim_ls.providers import BUILTIN_PROVIDERS

from .fake_provider import FakeProvider, ThreadedFake
from .lsp_editor import EditorClient

FAKE_KEY = "sk-fake-secret-0123456789"
# Every built-in provider's key variable, and OpenAI's base URL: none may leak in from the environment.
KEY_VARIABLES = (*(p.key_env for p in BUILTIN_PROVIDERS.values() if p.key_env), "OPENAI_BASE_URL")
CONFIG_HOME = tempfile.mkdtemp(prefix="chatvim-test-config-")
SERVER_ENV = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES} | {
    "XDG_CONFIG_HOME": CONFIG_HOME,
    "FAKE_API_KEY": FAKE_KEY,
    "OPENAI_ORG_ID": "org-must-stay-with-openai",
}
CLIENTS = ["neovim@0.11", "visual-studio-code", "emacs"]


@pytest.fixture
def fake() -> FakeProvider:
    """The fake provider; the `client` fixture starts and stops it in its loop."""
    return FakeProvider()


def init_options(fake: FakeProvider, **extra: object) -> dict[str, object]:
    return {
        "providers": {"fake": {"base_url": fake.base_url, "api_key_env": "FAKE_API_KEY"}},
        "max_retries": 0,
        **extra,
    }


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "chatvim_ls", "--log-level", "DEBUG"],
        server_env=SERVER_ENV,
        client_factory=EditorClient,
    ),
    params=CLIENTS,
)
async def client(lsp_client: EditorClient, request: pytest.FixtureRequest, fake: FakeProvider) -> AsyncIterator[None]:
    await fake.start()
    lsp_client.preset = request.param
    capabilities = client_capabilities(request.param)
    if request.node.get_closest_marker("without_progress"):
        capabilities.window = None
    extra = request.node.get_closest_marker("init_options")
    await lsp_client.start_session(capabilities, init_options(fake, **(extra.kwargs if extra else {})))
    yield
    for message in lsp_client.messages:  # every message the server showed: one line that fits (messages.py)
        assert "\n" not in message.message and len(message.message) <= WIDTH, message.message
    if not lsp_client.shut_down:
        await lsp_client.shutdown_session()
    await fake.stop()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """The fake provider in a thread of its own, for one test (a subprocess or an editor that is not asyncio)."""
    threaded = ThreadedFake()
    yield threaded.fake
    threaded.stop()


@pytest.fixture(scope="module")
def module_provider() -> Iterator[ThreadedFake]:
    """The fake provider in a thread of its own, for one editor per test module."""
    threaded = ThreadedFake()
    yield threaded
    threaded.stop()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound but not listening, for the whole test: connecting to it is refused,
    and no other process can take it meanwhile (a port closed and reused once answered)."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]
