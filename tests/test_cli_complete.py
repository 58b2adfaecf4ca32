"""`chatvim-ls complete FILE`, run as a subprocess against the fake provider,
as a user or a script runs it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import pytest

from chatvim_ls import answer_file
from chatvim_ls.answer import Answer
from chatvim_ls.answer_file import Exit, FileEditor
from chatvim_ls.files import CannotCreate
from chatvim_ls.llm import Event
from chatvim_ls.secrets import remember_secret
from chatvim_ls.settings import Settings
from chatvim_ls.stream import AnswerWriter
from chatvim_ls.textdoc import TextDocument

from .conftest import KEY_VARIABLES
from .fake_provider import FakeProvider, Scenario
from .terminal import make_home

QUESTION = "# === USER ===\n\nWho keeps the lamp?\n"
KEY = "sk-cli-secret-0123456789"


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


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_keeps_the_answer_so_far_with_its_closing_delimiter(
    chat: Path, provider: FakeProvider, signum: int, status: int
) -> None:
    provider.scenarios["m"] = Scenario.text(["First words ", *["and more "] * 200], delay=0.05)
    process = subprocess.Popen(command("complete", str(chat)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(chat), cwd=chat.parent)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.read(len("First words "))  # the answer has begun
    process.send_signal(signum)
    rest = process.stdout.read()
    assert process.wait(30) == status
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


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_chat_is_read_quits_quietly(
    chat: Path, provider: FakeProvider, signum: int, status: int
) -> None:
    slow = chat.parent / "slow.md"  # a FIFO: chatvim-ls waits in its read until the test writes
    os.mkfifo(slow)
    process = subprocess.Popen(command("complete", str(slow)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(chat), cwd=chat.parent)  # fmt: skip
    opened: list[int] = []
    opener = threading.Thread(target=lambda: opened.append(os.open(slow, os.O_WRONLY)), daemon=True)
    opener.start()
    opener.join(30)  # returns once chatvim-ls has opened the chat to read it
    assert opened, "chatvim-ls opened the chat"
    # A signal that lands before the read() is entered is only run after it
    # returns (CPython checks for signals when a read is interrupted): wait
    # till chatvim-ls waits in the kernel for the pipe's data.
    wait_in_the_kernel(process, "pipe_read")
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    os.close(opened[0])
    assert (process.returncode, out, err) == (status, b"", b"")
    assert provider.requests == []


def wait_in_the_kernel(process: subprocess.Popen[bytes], where: str) -> None:
    """Until `process` waits in the kernel function `where` (/proc/PID/wchan;
    the test skips where the kernel does not tell)."""
    wchan = Path(f"/proc/{process.pid}/wchan")
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while where not in (now := wchan.read_text()) and time.monotonic() < deadline:
        seen.add(now)
        time.sleep(0.01)
    if where not in now and seen <= {"0", ""}:
        pytest.skip("this kernel does not say where a process waits (/proc/PID/wchan)")
    assert where in now, f"chatvim-ls waits in {where}; it is in {seen}"


def test_a_signal_while_the_chat_is_printed_leaves_it_whole(chat: Path, provider: FakeProvider) -> None:
    """FILE `-`, its stdout a pipe not read yet: the completed chat does not fit, the write blocks,
    SIGTERM comes. (A write a signal cuts short returns what it wrote: the rest must follow.)"""
    provider.scenarios["m"] = Scenario.text(["Fine."])
    reading, writing = os.pipe()
    question = QUESTION + "long " * 40_000 + "\n"  # (more than a pipe holds)
    # (unbuffered, as with PYTHONUNBUFFERED: a buffered stdout would finish the write itself)
    process = subprocess.Popen(command("complete", "-"), stdin=subprocess.PIPE, stdout=writing,
                               stderr=subprocess.PIPE, env=environment(chat, PYTHONUNBUFFERED="1"))  # fmt: skip
    os.close(writing)
    with open(reading, "rb") as output:
        assert process.stdin is not None and process.stderr is not None
        process.stdin.write(question.encode())
        process.stdin.close()
        wait_in_the_kernel(process, "pipe_write")
        process.send_signal(signal.SIGTERM)
        printed = output.read()
        assert (process.wait(30), process.stderr.read()) == (143, b"")
    assert printed.decode() == answered(question, "Fine.")


def test_once_the_answer_has_ended_a_second_signal_quits() -> None:
    """The first is heard (the chat is written all the same); a second, say while
    stdout is not read, quits."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        signals = answer_file.Signals()

        async def streamed() -> None:
            signals.streaming(lambda: None, lambda: None)
            signals.ended()

        asyncio.run(streamed())
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.status == Exit.TERMINATED
        with pytest.raises(answer_file.Quit):
            os.kill(os.getpid(), signal.SIGTERM)  # (its handler runs before the next line)
            raise AssertionError("not quit")
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_stdin_mode_with_its_reader_gone_quits_quietly(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Never read."])
    reading, writing = os.pipe()
    os.close(reading)  # as `| head -1` does once it has its line
    process = subprocess.Popen(command("complete", "-"), stdin=subprocess.PIPE, stdout=writing,
                               stderr=subprocess.PIPE, env=environment(chat))  # fmt: skip
    os.close(writing)
    _, err = process.communicate(QUESTION.encode(), timeout=30)
    assert (process.returncode, err) == (141, b"")


def test_dry_run_reads_the_chat_from_stdin(chat: Path, provider: FakeProvider) -> None:
    result = run(chat, "--dry-run", "-", stdin="# === USER ===\n\nA question from a pipe\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert "A question from a pipe" in json.dumps(json.loads(result.stdout)["messages"])
    assert provider.requests == []


def test_an_answer_the_terminal_cannot_show_is_printed_as_it_can(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Café ", "— ✓"])
    result = run(chat, str(chat), PYTHONIOENCODING="ascii")  # (LANG=C on an older Python)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Caf? ? ?\n", "")
    assert chat.read_text() == answered(QUESTION, "Café — ✓")  # the file gets it as it is


def test_a_message_the_terminal_cannot_show_is_printed_as_it_can(chat: Path, provider: FakeProvider) -> None:
    named = chat.parent / "café.md"
    named.write_text("# === USER ===\n\n")
    result = run(chat, str(named), PYTHONIOENCODING="ascii:strict")
    assert (
        result.returncode == 3
        and result.stderr.startswith(f"{chat.parent}/caf?.md")
        and "Traceback" not in result.stderr
    )


def test_a_key_in_the_providers_words_is_redacted(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.error(500, f"overloaded; your key {KEY} is fine")
    result = run(chat, str(chat))
    assert result.returncode == 5 and result.stderr.count("\n") == 1
    assert "[redacted]" in result.stderr and KEY not in result.stderr


def test_library_logs_go_to_stderr_redacted_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    remember_secret(KEY)
    handler = answer_file.log_to_stderr()
    try:
        try:
            raise RuntimeError(f"refused {KEY}")
        except RuntimeError:
            logging.getLogger("chatvim_ls.answer").exception("the answer failed for %s", KEY)
        logging.getLogger("chatvim_ls.answer").info("not shown")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.captureWarnings(False)
    assert capsys.readouterr().err == "chatvim-ls: the answer failed for [redacted]: RuntimeError: refused [redacted]\n"


def test_a_read_only_chat_is_kept_and_the_answer_goes_beside_it(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["Kept."])
    chat.chmod(0o444)
    result = run(chat, str(chat))
    beside = chat.parent / "chat-answered.md"
    assert (result.returncode, result.stdout) == (7, "Kept.\n")
    assert result.stderr == f"{chat} is read-only: it is kept as it is; the answered chat is in {beside}\n"
    assert chat.read_text() == QUESTION and beside.read_text() == answered(QUESTION, "Kept.")


def test_with_every_name_beside_taken_the_answer_goes_to_the_temporary_folder(
    chat: Path, provider: FakeProvider
) -> None:
    provider.scenarios["m"] = Scenario.text(["Kept."])
    chat.chmod(0o444)
    for number in range(1, 100):
        (chat.parent / ("chat-answered.md" if number == 1 else f"chat-answered-{number}.md")).write_text("taken")
    temporary = chat.parent.parent / "tmp"
    temporary.mkdir()
    result = run(chat, str(chat), TMPDIR=str(temporary))
    kept = temporary / "chat-answered.md"
    assert result.returncode == 7
    assert result.stderr == f"{chat} is read-only: it is kept as it is; the answered chat is in {kept}\n"
    assert kept.read_text() == answered(QUESTION, "Kept.") and chat.read_text() == QUESTION


def test_a_full_disk_leaves_the_chat_as_it_was_and_no_half_file(chat: Path, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["A long answer that does not fit."])
    temporary = chat.parent.parent / "tmp"
    temporary.mkdir()
    limit = len(QUESTION.encode()) + 8  # bytes a file may have (RLIMIT_FSIZE): as a full disk, every file
    limited = [sys.executable, "-c", f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, "
               f"({limit}, {limit})); os.execv(sys.argv[1], sys.argv[1:])", *command("complete", str(chat))]  # fmt: skip
    result = subprocess.run(limited, capture_output=True, text=True, timeout=30, cwd=chat.parent,
                            env=environment(chat, TMPDIR=str(temporary), PYTHONDONTWRITEBYTECODE="1"))  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "A long answer that does not fit.\n")
    assert result.stderr == (f"cannot write {chat}: File too large; it is as it was; nor could the answered chat "
                             "be kept anywhere: only stdout has the answer\n")  # fmt: skip
    assert chat.read_text() == QUESTION
    assert [p.name for p in chat.parent.iterdir()] == ["chat.md"] and list(temporary.iterdir()) == []


def test_a_chat_that_cannot_be_written_goes_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chat.md"
    path.write_text(QUESTION)

    def disk_full(*_: object) -> None:
        raise CannotCreate(f"cannot write {path}: No space left on device; it is as it was")

    monkeypatch.setattr(answer_file, "replace_chat", disk_full)
    assert answer_file._save(path, QUESTION.encode(), answered(QUESTION, "Saved.")) is Exit.FAILED
    beside = tmp_path / "chat-answered.md"
    assert capsys.readouterr().err == (
        f"cannot write {path}: No space left on device; it is as it was; the answered chat is in {beside}\n"
    )
    assert beside.read_text() == answered(QUESTION, "Saved.") and path.read_text() == QUESTION


def test_a_chat_saved_meanwhile_with_no_room_beside_goes_to_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chats" / "chat.md"
    path.parent.mkdir()
    path.write_text(QUESTION + "An edit saved by an editor.\n")
    monkeypatch.setattr(answer_file, "write_new_chat", failing_in(path.parent, answer_file.write_new_chat))
    monkeypatch.setattr(answer_file.tempfile, "tempdir", str(tmp_path / "tmp"))
    assert answer_file._save(path, QUESTION.encode(), answered(QUESTION, "Saved.")) is Exit.KEPT_BOTH
    kept = tmp_path / "tmp" / "chat-answered.md"
    assert capsys.readouterr().err == (
        f"{path} changed on disk while the answer streamed: it is kept as it is; the answered chat is in {kept}\n"
    )
    assert kept.read_text() == answered(QUESTION, "Saved.")


def failing_in(folder: Path, write: Callable[[Path, str, str, int], Path]) -> Callable[[Path, str, str, int], Path]:
    def write_new_chat(where: Path, stem: str, text: str, mode: int = 0o666) -> Path:
        if where == folder:
            raise CannotCreate(f"cannot write a new chat in {folder}: Read-only file system")
        return write(where, stem, text, mode)

    return write_new_chat


def test_an_answer_that_just_stops_is_a_network_failure_by_its_kind() -> None:
    async def cut_off() -> AsyncGenerator[Event, None]:
        raise asyncio.CancelledError  # as a lost connection may surface: no end, no error
        yield  # (a generator)

    doc = TextDocument("file:///chat.md", QUESTION, 0)
    editor = FileEditor("chat.md", None)
    answer = Answer(AnswerWriter(doc, Settings().delimiters, versioned=False), editor, cut_off,
                    model="m", provider="fake")  # fmt: skip
    editor.answer = answer
    asyncio.run(answer.run())
    assert answer_file._status(answer) is Exit.NETWORK
    answer.error = "the stream stopped"  # the words may change; the kind says it
    assert answer_file._status(answer) is Exit.NETWORK


def test_a_lone_surrogate_from_the_provider_is_written_as_a_replacement_character(
    chat: Path, provider: FakeProvider
) -> None:
    """JSON allows "\\ud800", which no UTF-8 file can hold: the answer is saved, with U+FFFD for it."""
    provider.scenarios["m"] = Scenario.text(["broken \ud800 ", "pair."])
    result = run(chat, str(chat))
    assert (result.returncode, result.stderr) == (0, "")
    assert chat.read_text() == answered(QUESTION, "broken \ufffd pair.")


def test_a_key_pasted_into_a_chat_is_redacted_in_a_dry_runs_error(chat: Path, provider: FakeProvider) -> None:
    chat.write_text(f'+++\nmodel = "m"\ntemperature = "{KEY}"\n+++\n' + QUESTION)
    result = run(chat, "--dry-run", str(chat))
    assert result.returncode == 1 and "`temperature` must be a number" in result.stderr, result.stderr
    assert KEY not in result.stderr and "[redacted]" in result.stderr
