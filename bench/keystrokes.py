"""Typing while an answer streams, in a real terminal: Neovim 0.11 with the
plugin and markdown highlighting runs in tmux; a keystroke goes in with
`tmux send-keys` and the time until it shows on the screen
(`tmux capture-pane`) is measured, idle, while an answer streams at
200 tokens/s below the line being typed, and while three do (two more chats
in windows below).

    python bench/keystrokes.py             # from the repository root, with the test extras installed

The screen is read by polling tmux (a few ms per look), so the figures
include that; compare the two columns rather than read them absolutely.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_provider import Scenario, ThreadedFake
from tests.terminal import Terminal
from tests.test_nvim import NVIM, REPO, eventually, make_home

KEYSTROKES = 40


def wait_for(terminal: Terminal, check: Callable[[str], object]) -> None:
    terminal.wait_for(check, every=0.002)  # a look every 2 ms: the figures include the wait for the next


def echo_times(terminal: Terminal, count: int) -> list[float]:
    """Type an x at the end of the first line (insert mode) `count` times, each
    taken back with a backspace (so the line stays clear of the spinner's
    float); the ms until each x shows."""

    def xs(screen: str) -> int:
        return screen.splitlines()[0][:60].count("x")

    times = []
    for _ in range(count):
        started = time.monotonic()
        terminal.keys("x")
        wait_for(terminal, lambda screen: xs(screen) == 1)
        times.append((time.monotonic() - started) * 1000)
        time.sleep(0.02)  # a fast typist's pace
        terminal.keys("BSpace")
        wait_for(terminal, lambda screen: xs(screen) == 0)
        time.sleep(0.02)
    return times


def start(home: Path, chat: Path, fake_url: str) -> Terminal:
    """Neovim with the plugin and markdown highlighting on `chat`, in a terminal."""
    make_home(home, fake_url)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
           "FAKE_API_KEY": "sk-bench", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "TERM": "xterm-256color", "LANG": "C.UTF-8"}  # fmt: skip
    command = [NVIM, "-n", "-i", "NONE", "-u", "NONE", "--cmd", f"set rtp^={REPO}", "--cmd", "filetype plugin on",
               "--cmd", "syntax on", "-c", "runtime plugin/chatvim.lua", "-c", "lua require('chatvim').setup()",
               str(chat)]  # fmt: skip
    return Terminal(command, env=env, cwd=home)


def measure() -> tuple[list[float], list[float], list[float]]:
    """The echo times idle, while one answer streams, and while three do."""
    threaded = ThreadedFake()
    fake = threaded.fake
    words = [f"word{i} " + ("\n" if i % 12 == 11 else "") for i in range(4000)]
    fake.scenarios["m"] = Scenario.text(words, delay=1 / 200, paced=True)  # 20 s of answer
    home = Path(tempfile.mkdtemp(prefix="chatvim-typing-"))
    chats = [home / name for name in ("chat.md", "chat2.md", "chat3.md")]
    for chat in chats:
        chat.write_text("notes: \n\n# === USER ===\n\nTell me **everything** about `markdown`.\n")
    terminal = start(home, chats[0], fake.base_url)
    try:
        wait_for(terminal, lambda screen: "USER" in screen)
        time.sleep(1.0)  # let the client attach; nothing to await from outside Neovim
        terminal.keys("g", "g", "A")
        idle = echo_times(terminal, KEYSTROKES)
        terminal.keys("Escape", ":ChatvimComplete", "Enter")
        wait_for(terminal, lambda screen: "word3 " in screen)
        terminal.keys("g", "g", "A")
        one = echo_times(terminal, KEYSTROKES)
        terminal.keys("Escape")
        for chat in chats[1:]:  # each in a window below, asked at once
            terminal.keys(f":belowright split {chat}", "Enter")
            wait_for(terminal, lambda screen: chat.name in screen)  # noqa: B023 (waited for within the iteration)
            terminal.keys(":ChatvimComplete", "Enter")
        terminal.wait_for(lambda _: len(fake.requests) == 3)
        wait_for(terminal, lambda screen: screen.count("word3 ") >= 3)
        terminal.keys(":wincmd t", "Enter", "g", "g", "A")
        three = echo_times(terminal, KEYSTROKES)
        assert all(len(r.sent) < len(words) for r in fake.requests), "an answer ended before the typing did"
    finally:
        terminal.close()
        eventually(lambda: all(r.closed.is_set() for r in fake.requests))  # Neovim and its server are gone
        threaded.stop()
    return idle, one, three


def table(idle: list[float], one: list[float], three: list[float]) -> str:
    def p95(values: list[float]) -> float:
        return sorted(values)[round(0.95 * len(values)) - 1]

    def row(name: str, values: list[float]) -> str:
        ratio = statistics.median(values) / statistics.median(idle)
        return f"| {name} | {statistics.median(values):.1f} | {p95(values):.1f} | {ratio:.2f}x |"

    return "\n".join([
        f"| keystroke -> screen ({KEYSTROKES} keys) | p50 ms | p95 ms | p50 vs idle |",
        "|---|---|---|---|",
        row("idle", idle),
        row("while an answer streams at 200 tokens/s", one),
        row("while three answers stream at 200 tokens/s each", three),
    ])  # fmt: skip


if __name__ == "__main__":
    print(table(*measure()))
