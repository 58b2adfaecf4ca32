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
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_provider import Scenario, ThreadedFake
from tests.test_nvim import NVIM, REPO, make_home

KEYSTROKES = 40
SOCKET = "chatvim-bench"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", "bench")


def wait_for(check: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen did not show it")
        time.sleep(0.002)


def echo_times(count: int) -> list[float]:
    """Type an x at the end of the first line (insert mode) `count` times, each
    taken back with a backspace (so the line stays clear of the spinner's
    float); the ms until each x shows."""

    def xs() -> int:
        return screen().splitlines()[0][:60].count("x")

    times = []
    for _ in range(count):
        started = time.monotonic()
        tmux("send-keys", "-t", "bench", "x")
        wait_for(lambda: xs() == 1)
        times.append((time.monotonic() - started) * 1000)
        time.sleep(0.02)  # a fast typist's pace
        tmux("send-keys", "-t", "bench", "BSpace")
        wait_for(lambda: xs() == 0)
        time.sleep(0.02)
    return times


def start(home: Path, chat: Path, fake_url: str) -> None:
    make_home(home, fake_url)
    env = {"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
           "FAKE_API_KEY": "sk-bench", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "TERM": "xterm-256color"}  # fmt: skip
    command = [NVIM, "-n", "-i", "NONE", "-u", "NONE", "--cmd", f"set rtp^={REPO}", "--cmd", "filetype plugin on",
               "--cmd", "syntax on", "-c", "runtime plugin/chatvim.lua", "-c", "lua require('chatvim').setup()",
               str(chat)]  # fmt: skip
    shell = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.join(command)
    tmux("new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", f"env {shell}")


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
    start(home, chats[0], fake.base_url)
    try:
        wait_for(lambda: "USER" in screen())
        time.sleep(1.0)  # let the client attach; nothing to await from outside Neovim
        tmux("send-keys", "-t", "bench", "ggA")
        idle = echo_times(KEYSTROKES)
        tmux("send-keys", "-t", "bench", "Escape", ":ChatvimComplete", "Enter")
        wait_for(lambda: "word3 " in screen())
        tmux("send-keys", "-t", "bench", "ggA")
        one = echo_times(KEYSTROKES)
        tmux("send-keys", "-t", "bench", "Escape")
        for chat in chats[1:]:  # each in a window below, asked at once
            tmux("send-keys", "-t", "bench", f":belowright split {chat}", "Enter")
            wait_for(lambda: chat.name in screen())  # noqa: B023 (waited for within the iteration)
            tmux("send-keys", "-t", "bench", ":ChatvimComplete", "Enter")
        wait_for(lambda: len(fake.requests) == 3)
        wait_for(lambda: screen().count("word3 ") >= 3)
        tmux("send-keys", "-t", "bench", ":wincmd t", "Enter", "ggA")
        three = echo_times(KEYSTROKES)
        assert all(len(r.sent) < len(words) for r in fake.requests), "an answer ended before the typing did"
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        wait_for(lambda: all(r.closed.is_set() for r in fake.requests))  # Neovim and its server are gone
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
