"""chatvim-ls in a real Vim (Debian's vim 9.0) with the two common LSP
plugins, yegappan/lsp and vim-lsp (snapshots in ../shared/clients), in a
terminal, driven by keys, with the README's setup for each.

One Vim per plugin for the whole module; each test opens a chat of its own.
The document is checked through Vim: written with :w, then read.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .fake_provider import Scenario, ThreadedFake
from .terminal import (
    ANSWER,
    QUESTION,
    WORDS,
    ViEditor,
    make_home,
    readme_snippet,
    refused_key,
    stop_mid_answer,
    whole_answer_quietly,
)

CLIENTS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "clients"
pytestmark = pytest.mark.skipif(
    shutil.which("vim") is None or not CLIENTS_DIR.is_dir(),
    reason="needs Vim (.ci/run installs it) and ../shared/clients",
)

# Only for the test: other chats left open unsaved, no swap files, wrapping at word boundaries (so a word is
# never split across screen lines), and Esc read as Esc at once.
PRELUDE = "set hidden noswapfile linebreak ttimeout ttimeoutlen=20 shortmess+=I\n"
# A statusline that shows the progress the way a user's would, each plugin's way.
STATUSLINE = {
    "vim-yegappan": "set laststatus=2 statusline=%f%{empty(get(g:,'LspProgress',[]))?'':'[streaming]'}\n"
    "autocmd User LspProgressUpdate redrawstatus\n",
    "vim-lsp": "set laststatus=2 statusline=%f%{empty(lsp#get_progress())?'':'[streaming]'}\n"
    "autocmd User lsp_progress_updated redrawstatus\n",
}


@dataclass
class Client:
    name: str  # the README's setup
    plugin: str  # the folder in ../shared/clients
    menu: bool  # whether :LspCodeAction opens a menu to pick from (vim-lsp's quick pick)


CLIENTS = {
    "yegappan": Client("vim-yegappan", "vim-yegappan-lsp", False),
    "vim-lsp": Client("vim-lsp", "vim-lsp", True),
}


class Vim(ViEditor):
    def __init__(self, client: Client, home: Path) -> None:
        self.client = client
        pack = home / ".vim" / "pack" / "clients" / "start"
        pack.mkdir(parents=True)
        (pack / client.plugin).symlink_to(CLIENTS_DIR / client.plugin)
        (home / ".vimrc").write_text(PRELUDE + STATUSLINE[client.name] + readme_snippet(client.name))
        super().__init__(["vim"], home)

    def code_action(self, title: str) -> None:
        if self.client.menu:
            self.command("LspCodeAction")
            self.terminal.wait_for_text(title, 10)
            self.terminal.keys("Enter")
        else:
            self.command(f"LspCodeAction {title}")


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def vim(
    request: pytest.FixtureRequest, module_provider: ThreadedFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Vim]:
    home = make_home(tmp_path_factory.mktemp(f"vim-{request.param}"), module_provider.fake.base_url)
    editor = Vim(CLIENTS[request.param], home)
    yield editor
    editor.close()


@pytest.fixture
def fake(module_provider: ThreadedFake, vim: Vim) -> ThreadedFake:
    module_provider.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)
    return module_provider


def test_the_whole_answer_arrives(vim: Vim, fake: ThreadedFake) -> None:
    whole_answer_quietly(vim)


def test_the_statusline_shows_the_progress_until_the_answer_ends(vim: Vim, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario.text(WORDS[:40], delay=0.05)
    vim.open_chat()
    vim.code_action("Chatvim: complete")
    vim.terminal.wait_for_text("[streaming]", 10)
    vim.wait_for_answer("word39")
    vim.terminal.wait_for(lambda s: "[streaming]" not in s, 5, "the progress to end")  # with no key pressed


def test_typing_above_and_below_while_it_streams(vim: Vim, fake: ThreadedFake) -> None:
    chat = vim.open_chat()
    vim.code_action("Chatvim: complete")
    vim.terminal.wait_for_text("word3 ", 10)
    vim.terminal.keys("g", "g", "O")  # a new line at the top
    vim.terminal.type("a note above", every=0.08)
    vim.terminal.keys("Escape")
    vim.terminal.type("Goand below", every=0.08)  # a line of its own below the answer as it grows
    vim.terminal.keys("Escape")
    vim.wait_for_answer()
    text = vim.saved(chat)
    assert text == "a note above\n" + QUESTION + ANSWER + "and below\n", text


def test_typing_a_line_above_every_150_ms(vim: Vim, fake: ThreadedFake) -> None:
    """yegappan/lsp reports a keystroke and the server's edit in one whole
    text; vim-lsp applies an edit at the line it was sent for, which the new
    line has moved (clamped to the shorter line now there), and reports both
    in one diff."""
    chat = vim.open_chat()
    vim.code_action("Chatvim: complete")
    vim.terminal.wait_for_text("word1 ", 10)
    lines = [f"line {i}" for i in range(12)]
    for line in lines:
        vim.terminal.keys("g", "g", "O")
        vim.terminal.text(line)
        vim.terminal.keys("Escape")
        time.sleep(0.15)  # a person's pace, not a synchronisation
    vim.wait_for_answer()
    text = vim.saved(chat)
    assert text == "".join(line + "\n" for line in reversed(lines)) + QUESTION + ANSWER, text


def test_typing_in_another_buffer_while_it_streams(vim: Vim, fake: ThreadedFake) -> None:
    chat = vim.open_chat()
    vim.code_action("Chatvim: complete")
    vim.terminal.wait_for_text("word1 ", 10)
    # A file in a window above. (Not an unnamed buffer: vim-lsp shows the chat in
    # its place at the next edit, README "Vim (vim-lsp)".)
    vim.command(f"new {vim.home / 'notes.txt'}")
    vim.terminal.keys("i")
    started = time.monotonic()
    while time.monotonic() - started < 3:
        vim.terminal.type("typing elsewhere ", every=0.05)
    vim.terminal.keys("Escape")
    vim.command("q!")
    vim.wait_for_answer()
    assert vim.saved(chat) == QUESTION + ANSWER


def test_holding_movement_keys_does_not_hold_the_answer(vim: Vim, fake: ThreadedFake) -> None:
    chat = vim.open_chat()
    vim.code_action("Chatvim: complete")
    vim.terminal.wait_for_text("word1 ", 10)
    vim.terminal.hold("k", 0.75)
    vim.terminal.hold("j", 0.75)
    screen = vim.terminal.screen()
    assert "word40 " in screen, screen  # 1.5 s at 50 words a second went on arriving
    vim.wait_for_answer()
    assert vim.saved(chat) == QUESTION + ANSWER


def test_stopping_mid_answer(vim: Vim, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.1)
    stop_mid_answer(vim)


def test_a_provider_error_is_one_line(vim: Vim, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario(status=401, error_body={"error": {"message": "Incorrect API key provided"}})
    refused_key(vim)
