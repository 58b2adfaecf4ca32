"""Real editors in a real terminal: each runs in a tmux server of its own,
driven by keys the way a person types them, and read off the screen.

Batch modes never go idle, so they hide exactly the bugs of editors that
report their changes only when idle (eglot) or after a key (vim-lsp): these
tests run the editor as a person does. The only waits are for what the
screen shows (`wait_for`) and the pauses of a person's typing (`type`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

TMUX = shutil.which("tmux") or "tmux"
# Neovim 0.10 and Emacs 30, from Debian 13, where tests/fetch_newer_editors.sh puts them.
NEWER_EDITORS = Path(os.environ.get("CHATVIM_E2E_CACHE") or Path.home() / ".cache" / "chatvim-ls-e2e") / "trixie"


def newer_editor(name: str) -> str | None:
    """The path of `nvim-0.10` or `emacs-30`, if tests/fetch_newer_editors.sh fetched it."""
    path = NEWER_EDITORS / "bin" / name
    return str(path) if path.exists() else None


# What the editor tests ask and are answered: 121 words, one chunk each.
WORDS = [f"word{i} " for i in range(121)]
QUESTION = "# === USER ===\n\nTell me about lighthouses\n"
CLOSING = "\n\n# === USER ===\n\n"
ANSWER = "\n# === ASSISTANT ===\n\n" + "".join(WORDS) + CLOSING  # after QUESTION, once whole


class Terminal:
    """One program in a tmux pane of `width` by `height` cells."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, width: int = 120,
                 height: int = 40) -> None:  # fmt: skip
        self.socket = Path(tempfile.mkdtemp(prefix="chatvim-tmux-")) / "socket"
        environment = [f"{key}={value}" for key, value in env.items()]
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height), "-c", str(cwd),
                   "env", "-i", *environment, *argv)  # fmt: skip
        self._tmux("set-option", "-g", "escape-time", "0")

    def _tmux(self, *args: str) -> str:
        result = subprocess.run([TMUX, "-S", str(self.socket), *args], capture_output=True, text=True, check=False)
        if result.returncode != 0 and "no server running" not in result.stderr:
            raise RuntimeError(f"tmux {args[0]}: {result.stderr.strip()}")
        return result.stdout

    # -- keys ------------------------------------------------------------------

    def keys(self, *keys: str) -> None:
        """Keys by tmux's names (`Enter`, `C-x`, `M-x`, `Up`), one write each."""
        for key in keys:
            self._tmux("send-keys", key)

    def text(self, text: str) -> None:
        """`text` as one burst of typed characters (a paste, for the editor)."""
        self._tmux("send-keys", "-l", text)

    def type(self, text: str, every: float = 0.05) -> None:
        """`text` a character at a time, `every` seconds apart: a person typing."""
        for char in text:
            if char == "\n":
                self.keys("Enter")
            else:
                self._tmux("send-keys", "-l", char)
            time.sleep(every)

    def hold(self, key: str, seconds: float, every: float = 0.03) -> None:
        """`key` held down: repeated every `every` seconds for `seconds`."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            self.keys(key)
            time.sleep(every)

    # -- the screen ----------------------------------------------------------------

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J")

    def wait_for(
        self, check: Callable[[str], object], timeout: float = 20.0, what: str = "", every: float = 0.02
    ) -> str:
        """Poll the screen every `every` seconds until `check(screen)` holds; the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or 'the screen'}; it shows:\n{screen}")
            time.sleep(every)

    def wait_for_text(self, text: str, timeout: float = 20.0) -> str:
        return self.wait_for(lambda screen: text in screen, timeout, repr(text))

    def close(self) -> None:
        self._tmux("kill-server")
        shutil.rmtree(self.socket.parent, ignore_errors=True)


def editor_environment(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for an editor: HOME and XDG folders in `home`, no
    provider keys but the fake one, and first on PATH a `chatvim-ls` that
    runs this checkout's server with its log in `home/server.log`."""
    shim = home / "bin"
    shim.mkdir(exist_ok=True)
    server = shim / "chatvim-ls"
    log = home / "server.log"
    server.write_text(f'#!/bin/sh\nexec {sys.executable} -m chatvim_ls --log-file {log} --log-level DEBUG "$@"\n')
    server.chmod(0o755)
    path = os.pathsep.join([str(shim), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {
        "HOME": str(home),
        "PATH": path,
        "TERM": "tmux-256color" if _has_terminfo("tmux-256color") else "screen-256color",
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "FAKE_API_KEY": "sk-editor-test",
        **extra,
    }


def _has_terminfo(name: str) -> bool:
    return subprocess.run(["infocmp", name], capture_output=True, check=False).returncode == 0


def make_home(home: Path, base_url: str) -> Path:
    """XDG config with the fake provider at `base_url` as the default, and a chats directory."""
    config = home / "config" / "chatvim"
    config.mkdir(parents=True)
    (config / "config.md").write_text(
        f'+++\nmodel = "m"\nprovider = "fake"\n\n[providers.fake]\nbase_url = "{base_url}"\n'
        'api_key_env = "FAKE_API_KEY"\n+++\n'
    )
    (home / "chats").mkdir()
    return home


def readme_snippet(name: str) -> str:
    """The README's code block for an editor setup, after its
    `<!-- setup: NAME -->` line: the tests use exactly what users copy."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    marker = f"<!-- setup: {name} -->"
    if marker not in readme:
        raise AssertionError(f"README.md has no {marker}")
    after = readme[readme.index(marker) + len(marker) :]
    fence_start = after.index("```")
    body_start = after.index("\n", fence_start) + 1
    return after[body_start : after.index("```", body_start)]


# -- what every editor's tests ask of it -------------------------------------------


class Editor(Protocol):
    """An editor under test (tests/test_emacs.py, test_vim.py, test_nvim_lspconfig.py)."""

    terminal: Terminal
    home: Path

    def open_chat(self) -> Path: ...
    def code_action(self, title: str) -> None: ...
    def wait_for_answer(self, last_word: str = "word120", timeout: float = 30.0) -> None: ...
    def saved(self, path: Path) -> str: ...
    def close(self) -> None: ...


class ServerLog:
    """The server's log in an editor's home (`editor_environment`), read from
    where the last chat was opened (`mark`) on."""

    def __init__(self, home: Path) -> None:
        self.path = home / "server.log"
        self.since = 0
        self.chat = ""

    def mark(self, chat: Path) -> None:
        """`chat` is being opened: read what comes after."""
        self.since = self.path.stat().st_size if self.path.exists() else 0
        self.chat = chat.name

    def has(self, *words: str) -> bool:
        """A line since the mark has all of `words`."""
        if not self.path.exists():
            return False
        with self.path.open("rb") as log:
            log.seek(self.since)
            lines = log.read().decode(errors="replace").splitlines()
        return any(all(word in line for word in words) for line in lines)

    def answer_ended(self) -> bool:
        """The chat's answer has ended (INFO: "the answer in chat0.md has ended (done)")."""
        return self.has(f"the answer in {self.chat} has ended (")


class ViEditor:
    """Vim or Neovim, in `home`, set up by the caller: chats opened with :e,
    known open once the server's log has their didOpen, written with :w."""

    def __init__(self, argv: Sequence[str], home: Path, notice: str | None = None) -> None:
        """`notice`: what the editor says at start with a "Press ENTER" prompt, which the user dismisses."""
        self.home = home
        self.chats = home / "chats"
        self.log = ServerLog(home)
        self.terminal = Terminal(argv, env=editor_environment(home), cwd=home)
        if notice is not None:
            screen = self.terminal.wait_for_text("Press ENTER", 30)
            assert notice in screen, screen
            self.terminal.keys("Enter")
        self.terminal.wait_for(lambda s: "~" in s, 30, argv[0])  # the empty buffer's lines
        self.names = itertools.count()

    def open_chat(self, text: str = QUESTION) -> Path:
        path = self.chats / f"chat{next(self.names)}.md"
        path.write_text(text)
        self.log.mark(path)
        self.command(f"e {path}")
        self.terminal.wait_for(lambda _: self.log.has("didOpen ", path.name), 30, "the server's didOpen")
        return path

    def command(self, command: str) -> None:
        self.terminal.keys("Escape")
        self.terminal.text(":" + command)
        self.terminal.keys("Enter")

    def wait_for_answer(self, last_word: str = "word120", timeout: float = 30.0) -> None:
        """Until the screen shows the answer's last word and the closing
        delimiter after it, and the server has ended the answer."""
        self.terminal.wait_for(
            lambda s: last_word in s and s.count("# === USER ===") >= 2, timeout, "the end of the answer"
        )
        self.terminal.wait_for(lambda _: self.log.answer_ended(), 10, "the answer's end in the server's log")

    def message_line(self) -> str:
        """The screen's last line: messages, or the command being typed."""
        return self.terminal.screen().splitlines()[-1]

    def saved(self, path: Path) -> str:
        """The buffer's text, as the editor writes it."""
        before = path.stat().st_mtime_ns
        self.command("w")
        self.terminal.wait_for(lambda _: path.stat().st_mtime_ns != before, 10, "the write")
        return path.read_text()

    def close(self) -> None:
        self.terminal.close()


def whole_answer_quietly(editor: ViEditor) -> None:
    """The whole answer, and then nothing on the message line but the command typed."""
    chat = editor.open_chat()
    editor.code_action("Chatvim: complete")  # type: ignore[attr-defined]
    editor.wait_for_answer()
    message = editor.message_line()
    assert not message.strip() or message.startswith(":"), message
    assert editor.saved(chat) == QUESTION + ANSWER


def stop_mid_answer(editor: Editor) -> None:
    """Asked, then stopped at its third word (the provider sends one word every 0.1 s)."""
    chat = editor.open_chat()
    editor.code_action("Chatvim: complete")
    editor.terminal.wait_for_text("word2 ", 10)
    editor.code_action("Chatvim: stop")
    editor.terminal.wait_for(lambda s: s.count("# === USER ===") >= 2, 10, "the closing delimiter")
    text = editor.saved(chat)
    assert text.startswith(QUESTION + "\n# === ASSISTANT ===\n\nword0 word1 word2 "), text
    assert text.endswith(CLOSING) and "word120" not in text, text


def refused_key(editor: Editor) -> None:
    """The provider refuses the key: its one line on screen, the chat as it was."""
    chat = editor.open_chat()
    editor.code_action("Chatvim: complete")
    editor.terminal.wait_for(lambda s: "rejected the API key" in s, 15, "the error")
    assert editor.saved(chat) == QUESTION
