"""chatvim-ls in a real Emacs (Debian's emacs-nox 28 with eglot 1.9 or
lsp-mode 8; and Emacs 30 with its own eglot 1.17, Debian 13's, from
tests/fetch_newer_editors.sh), in a terminal, driven by keys, with the
README's setup for each.

One Emacs per client for the whole module; each test opens a chat of its
own. The document is checked through Emacs: saved with C-x C-s, then read.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest

from .fake_provider import Scenario, ThreadedFake
from .terminal import (
    ANSWER,
    NEWER_EDITORS,
    QUESTION,
    WORDS,
    ServerLog,
    Terminal,
    editor_environment,
    make_home,
    newer_editor,
    readme_snippet,
    refused_key,
    stop_mid_answer,
)

pytestmark = pytest.mark.skipif(shutil.which("emacs") is None, reason="needs Emacs (.ci/run installs it)")

# Only for the test: `emacs -q` skips the user's init, which is what
# activates Debian's elpa packages; and Debian's Emacs reports its own native
# compilation warnings in a window of their own.
PRELUDE = "(package-initialize)\n(setq native-comp-async-report-warnings-errors 'silent)\n"
# Emacs 30 unpacked beside Debian 12's: its packages (markdown-mode) are its own.
EMACS_30_PRELUDE = """(with-temp-buffer
  (insert-file-contents "{packages}")
  (setq package-directory-list (list (string-trim (buffer-string)))))
"""
LSP_MODE_PRELUDE = """(setq lsp-session-file (expand-file-name "lsp-session" user-emacs-directory))
(with-eval-after-load 'lsp-mode (lsp-workspace-folders-add "{chats}"))  ; what answering "i" at its question does
"""


@dataclass
class Client:
    name: str  # the README's setup
    ask: tuple[str, ...]  # the command that runs a code action
    pick: bool  # whether a menu asks which action (eglot's does, even for one)
    connected: str  # what the mode line shows once the server runs (and not "/starting")


CLIENTS = {
    "eglot": Client("emacs-eglot", ("eglot-code-actions",), True, "[eglot:"),
    "lsp-mode": Client("emacs-lsp-mode", ("lsp-execute-code-action",), False, "LSP[chatvim:"),
}


class Emacs:
    def __init__(self, client: Client, emacs: str, home: Path) -> None:
        self.client = client
        self.version = 30 if emacs == EMACS_30 else 28
        self.home = home
        self.chats = home / "chats"
        self.log = ServerLog(home)
        init = home / "init.el"
        prelude = EMACS_30_PRELUDE.format(packages=NEWER_EDITORS / "emacs-30-packages") if self.version == 30 else ""
        prelude += PRELUDE + (LSP_MODE_PRELUDE.format(chats=self.chats) if client.name == "emacs-lsp-mode" else "")
        init.write_text(prelude + readme_snippet(client.name))
        env = editor_environment(home)
        self.terminal = Terminal([emacs, "-nw", "-q", "-l", str(init)], env=env, cwd=home)
        self.terminal.wait_for_text("*scratch*", 30)
        self.names = count()

    def open_chat(self, text: str = QUESTION) -> Path:
        path = self.chats / f"chat{next(self.names)}.md"
        path.write_text(text)
        self.log.mark(path)
        self.terminal.keys("C-x", "C-f")
        self.terminal.text(str(path))
        self.terminal.keys("Enter")
        self.terminal.wait_for(lambda s: any(self._connected(line, path) for line in s.splitlines()), 30, "the server")
        return path

    def _connected(self, line: str, path: Path) -> bool:
        """`line` is the chat's mode line, its server running. (The whole screen
        would do no good: the path typed at the prompt and the last chat's mode
        line show there before the chat is open.)"""
        return path.name in line and self.client.connected in line and "/starting" not in line

    def code_action(self, title: str) -> None:
        self.terminal.keys("M-x")
        self.terminal.text(self.client.ask[0])
        self.terminal.keys("Enter")
        if self.client.pick:
            self.terminal.wait_for_text(title, 10)
            self.terminal.keys("Enter")

    def wait_for_answer(self, last_word: str = "word120", timeout: float = 30.0) -> None:
        """Until the screen shows the answer's last word and the closing
        delimiter after it, and the server has ended the answer
        (eglot 1.17 may show a stale copy of both, before it is moved)."""

        def ended(screen: str) -> bool:
            joined = screen.replace("\\\n", "")  # Emacs marks a wrapped line with a backslash
            return last_word in joined and joined.count("# === USER ===") >= 2

        self.terminal.wait_for(ended, timeout, "the end of the answer")
        self.terminal.wait_for(lambda _: self.log.answer_ended(), 10, "the answer's end in the server's log")

    def saved(self, path: Path) -> str:
        """The buffer's text, as Emacs saves it."""
        before = path.stat().st_mtime_ns
        self.terminal.keys("C-x", "C-s")
        self.terminal.wait_for(
            lambda screen: path.stat().st_mtime_ns != before or "(No changes need to be saved)" in screen,
            10,
            "the save",
        )
        return path.read_text()

    def echo_area(self) -> str:
        return self.terminal.screen().rstrip("\n").rsplit("\n", 1)[-1]

    def close(self) -> None:
        self.terminal.close()


EMACS_30 = newer_editor("emacs-30")
SETUPS = [  # (the client, the Emacs it runs in)
    pytest.param(("eglot", "emacs"), id="eglot"),
    pytest.param(("lsp-mode", "emacs"), id="lsp-mode"),
    pytest.param(("eglot", EMACS_30), id="eglot-emacs-30",
                 marks=pytest.mark.skipif(EMACS_30 is None, reason="needs Emacs 30: tests/fetch_newer_editors.sh")),
]  # fmt: skip


@pytest.fixture(scope="module", params=SETUPS)
def emacs(
    request: pytest.FixtureRequest, module_provider: ThreadedFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emacs]:
    client, binary = request.param
    home = make_home(tmp_path_factory.mktemp(f"emacs-{client}"), module_provider.fake.base_url)
    editor = Emacs(CLIENTS[client], binary, home)
    yield editor
    editor.close()


@pytest.fixture
def fake(module_provider: ThreadedFake, emacs: Emacs) -> ThreadedFake:
    module_provider.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)
    return module_provider


def test_the_whole_answer_arrives_quietly(emacs: Emacs, fake: ThreadedFake) -> None:
    chat = emacs.open_chat()
    emacs.code_action("Chatvim: complete")
    emacs.wait_for_answer()
    assert "[eglot]" not in emacs.echo_area() and "LSP ::" not in emacs.echo_area(), emacs.echo_area()
    assert emacs.saved(chat) == QUESTION + ANSWER


def test_typing_above_and_below_while_it_streams(emacs: Emacs, fake: ThreadedFake) -> None:
    chat = emacs.open_chat()
    emacs.code_action("Chatvim: complete")
    emacs.terminal.wait_for_text("word3 ", 10)
    emacs.terminal.keys("M-<")  # the top of the chat
    emacs.terminal.type("a note above\n", every=0.08)
    emacs.terminal.keys("M->")  # the end, below the answer as it grows
    emacs.terminal.type("and below", every=0.08)
    emacs.wait_for_answer()
    # What is typed below the answer as it grows stays after it: the next question.
    assert emacs.saved(chat) == "a note above\n" + QUESTION + ANSWER + "and below\n"


def test_typing_in_another_buffer_while_it_streams(emacs: Emacs, fake: ThreadedFake) -> None:
    """eglot reports changes only after half a second of idleness in any buffer."""
    chat = emacs.open_chat()
    emacs.code_action("Chatvim: complete")
    emacs.terminal.wait_for_text("word1 ", 10)
    emacs.terminal.keys("C-x", "b")
    emacs.terminal.text("*scratch*")
    emacs.terminal.keys("Enter")
    started = time.monotonic()
    while time.monotonic() - started < 3:
        emacs.terminal.type("typing elsewhere ", every=0.05)
    emacs.terminal.keys("C-x", "b")
    emacs.terminal.text(chat.name)
    emacs.terminal.keys("Enter")
    emacs.wait_for_answer()
    assert emacs.saved(chat) == QUESTION + ANSWER


def test_holding_movement_keys_does_not_hold_the_answer(emacs: Emacs, fake: ThreadedFake) -> None:
    chat = emacs.open_chat()
    emacs.code_action("Chatvim: complete")
    emacs.terminal.wait_for_text("word1 ", 10)
    emacs.terminal.hold("Up", 0.75)
    emacs.terminal.hold("Down", 0.75)
    screen = emacs.terminal.screen()
    assert "word40 " in screen.replace("\\\n", ""), screen  # 1.5 s at 50 words a second went on arriving
    emacs.wait_for_answer()
    assert emacs.saved(chat) == QUESTION + ANSWER


def test_the_mode_line_shows_the_progress_until_the_answer_ends(emacs: Emacs, fake: ThreadedFake) -> None:
    """lsp-mode and eglot 1.17 (Emacs 30) show the progress in the mode line;
    eglot 1.9 shows none (README)."""
    if emacs.client.name != "emacs-lsp-mode" and emacs.version < 30:
        pytest.skip("eglot 1.9 shows no progress")
    # lsp-mode shows the message ("12 tokens · 40/s"); eglot only the percentage, "?" for none
    # (the message is in the indicator's tooltip), and "100%" once it ends.
    marks = ("⌛", "tokens") if emacs.client.name == "emacs-lsp-mode" else ("[eglot:", "/?%]")

    def progress(screen: str) -> bool:
        return any(all(mark in line for mark in marks) for line in screen.splitlines())

    fake.fake.scenarios["m"] = Scenario.text(WORDS[:40], delay=0.05)
    emacs.open_chat()
    emacs.code_action("Chatvim: complete")
    emacs.terminal.wait_for(progress, 10, "the progress in the mode line")
    emacs.wait_for_answer("word39")
    # the end, with no key pressed: lsp-mode's mark goes; eglot's says 100% (till the next redisplay)
    ended = (lambda s: not progress(s)) if emacs.client.name == "emacs-lsp-mode" else (lambda s: "/100%]" in s)
    emacs.terminal.wait_for(ended, 5, "the progress to end")


def test_stopping_mid_answer(emacs: Emacs, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.1)
    stop_mid_answer(emacs)


def test_a_provider_error_is_one_line(emacs: Emacs, fake: ThreadedFake) -> None:
    fake.fake.scenarios["m"] = Scenario(status=401, error_body={"error": {"message": "Incorrect API key provided"}})
    refused_key(emacs)
