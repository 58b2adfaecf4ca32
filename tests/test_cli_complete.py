"""`chatvim-ls complete FILE`, run as a subprocess against the fake provider,
as a user or a script runs it."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import KEY_VARIABLES
from .fake_provider import FakeProvider, Scenario, ThreadedFake
from .terminal import make_home

QUESTION = "# === USER ===\n\nWho keeps the lamp?\n"
KEY = "sk-cli-secret-0123456789"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    threaded = ThreadedFake()
    yield threaded.fake
    threaded.stop()


@pytest.fixture
def chat(tmp_path: Path, provider: FakeProvider) -> Path:
    make_home(tmp_path, provider.base_url)
    path = tmp_path / "chats" / "chat.md"
    path.write_text(QUESTION)
    return path


def command(*args: str) -> list[str]:
    found = shutil.which("chatvim-ls", path=str(Path(sys.executable).parent))
    assert found, "the chatvim-ls console script is installed beside the interpreter"
    return [found, *args]


def environment(chat: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    return clean | {"XDG_CONFIG_HOME": str(chat.parent.parent / "config"), "FAKE_API_KEY": KEY, **extra}


def run(chat: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command("complete", *args), capture_output=True, text=True, input=stdin,
                          env=environment(chat, **env), timeout=30, cwd=chat.parent)  # fmt: skip


def answered(question: str, answer: str) -> str:
    return f"{question}\n# === ASSISTANT ===\n\n{answer}\n\n# === USER ===\n\n"


def test_a_whole_answer_streams_to_stdout_and_into_the_file(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["The keeper ", "does."])
    dry_run = json.loads(run(chat, "--dry-run", str(chat)).stdout)
    result = run(chat, str(chat))
    assert (result.returncode, result.stdout, result.stderr) == (0, "The keeper does.\n", "")
    assert chat.read_text() == answered(QUESTION, "The keeper does.")
    assert provider.requests[0].body["messages"] == dry_run["messages"]  # sent as the server sends it
    assert KEY not in result.stdout + result.stderr
    assert [p.name for p in chat.parent.iterdir()] == ["chat.md"]  # no temporary file left


def test_a_reader_that_goes_away_still_gets_the_answer_written(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Read ", *["on "] * 50], delay=0.01)
    process = subprocess.Popen(command("complete", str(chat)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(chat), cwd=chat.parent)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(len("Read ")) == b"Read "
    process.stdout.close()  # as `| head -c 5` does
    assert process.wait(30) == 0 and process.stderr.read() == b""
    assert chat.read_text() == answered(QUESTION, "Read " + "on " * 50)


def test_no_write_only_prints(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Printed."])
    result = run(chat, "--no-write", str(chat))
    assert (result.returncode, result.stdout) == (0, "Printed.\n")
    assert chat.read_text() == QUESTION


def test_stdin_in_the_answered_chat_out(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["From stdin."])
    result = subprocess.run(
        command("complete", "-"),
        capture_output=True,
        input=b"A question from a pipe\r\n",
        env=environment(chat),
        timeout=30,
    )  # fmt: skip (bytes: the line breaks as they are)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode() == answered("A question from a pipe\n", "From stdin.").replace("\n", "\r\n")
    assert chat.read_text() == QUESTION


def test_ctrl_c_keeps_the_answer_so_far_with_its_closing_delimiter(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["First words ", *["and more "] * 200], delay=0.05)
    process = subprocess.Popen(command("complete", str(chat)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(chat), cwd=chat.parent)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.read(len("First words "))  # the answer has begun
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    assert process.wait(30) == 130
    assert first == b"First words " and process.stderr.read() == b""
    text = chat.read_text()
    assert text.startswith(QUESTION + "\n# === ASSISTANT ===\n\nFirst words ")
    assert text.endswith("\n\n# === USER ===\n\n") and text.count("and more") < 200
    assert (first + rest).decode().strip() in text


def test_a_provider_error_is_one_line_and_leaves_the_chat(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.error(401, "invalid key sk-cli-secret-0123456789")
    result = run(chat, str(chat))
    assert result.returncode == 5
    assert result.stderr == f"{chat}: fake rejected the API key (401): check FAKE_API_KEY\n"
    assert result.stdout == "" and chat.read_text() == QUESTION


def test_a_stream_cut_midway_keeps_the_text_and_says_so(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Half ", "an ", "answer ", "lost"], cut_after=3)
    result = run(chat, str(chat))
    assert result.returncode == 6
    assert result.stderr.startswith(f"{chat}: ") and "broke" in result.stderr and result.stderr.count("\n") == 1
    text = chat.read_text()
    assert "Half an " in text and "lost" not in text and text.endswith("\n\n# === USER ===\n\n")


def test_a_file_saved_meanwhile_is_kept_and_the_answer_goes_beside_it(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Slow ", *["words "] * 20], delay=0.05)
    process = subprocess.Popen(command("complete", str(chat)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(chat), cwd=chat.parent, text=True)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(len("Slow "))
    chat.write_text(QUESTION + "An edit saved by an editor.\n")
    assert process.wait(30) == 7
    beside = chat.parent / "chat-answered.md"
    assert process.stderr.read() == (
        f"{chat} changed on disk while the answer streamed: it is kept as it is; the answered chat is in {beside}\n"
    )
    assert chat.read_text() == QUESTION + "An edit saved by an editor.\n"
    assert beside.read_text() == answered(QUESTION, "Slow " + "words " * 20)


@pytest.mark.parametrize(
    ("text", "env", "status", "message"),
    [
        ("# === USER ===\n\n", {}, 3, "nothing to send"),
        (QUESTION, {"FAKE_API_KEY": ""}, 4, "FAKE_API_KEY"),
        (QUESTION + "@file:../../config/chatvim/config.md\n", {}, 3, "outside this chat's folder"),
    ],
)
def test_what_cannot_be_sent_is_refused_before_anything_goes(
    chat: Path, provider: FakeProvider, text: str, env: dict[str, str], status: int, message: str
) -> None:
    chat.write_text(text)
    result = run(chat, str(chat), **env)
    assert result.returncode == status and message in result.stderr and result.stderr.count("\n") == 1
    assert provider.requests == [] and chat.read_text() == text


def test_a_provider_that_cannot_be_reached_is_a_network_failure(chat: Path, provider: FakeProvider) -> None:
    config = chat.parent.parent / "config" / "chatvim" / "config.md"
    config.write_text(config.read_text().replace(provider.base_url, "http://127.0.0.1:9/v1"))
    result = run(chat, str(chat))
    assert result.returncode == 6 and "cannot reach fake" in result.stderr and chat.read_text() == QUESTION


def test_a_progress_line_only_on_a_terminal(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Counted ", "words."], delay=0.3)
    screen, terminal = pty.openpty()
    with open(chat.parent / "answer.txt", "w") as out:
        process = subprocess.Popen(command("complete", str(chat)), stdout=out, stderr=terminal,
                                   env=environment(chat), cwd=chat.parent)  # fmt: skip
    os.close(terminal)
    shown = b""
    while process.poll() is None or select.select([screen], [], [], 0)[0]:
        if select.select([screen], [], [], 1)[0]:
            try:
                shown += os.read(screen, 4096)
            except OSError:
                break
    os.close(screen)
    assert process.wait(30) == 0
    assert b"\r\x1b[Km \xc2\xb7 waiting" in shown and b" tokens \xc2\xb7 " in shown  # redrawn in place
    assert re.fullmatch(r"m · 2 tokens · [\d.]+ s · 5 in\r\n", shown.decode().rsplit("\r\x1b[K", 1)[1])  # it stays
