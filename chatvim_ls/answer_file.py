"""`chatvim-ls complete FILE`: a chat answered from the command line, as the
server answers it in an editor.

- The chat is sent as the server sends it (`asking.ask`: the same parser,
  settings, config.md, providers, keys and `@file:` files), and the answer
  is written by the same `answer.Answer` into the chat held in memory:
  `FileEditor` applies each edit at once, as the quickest editor would. So
  the file gets what an editor gets: the assistant delimiter, the answer,
  the closing user delimiter.
- stdout: the answer's text as it arrives; with FILE `-`, the chat is read
  from stdin and the completed chat is written to stdout once it is whole
  (if stdout's reader has gone, as with `| head -1`, the exit is quiet,
  status 141, as for a tool that SIGPIPE ended). Text the terminal's
  encoding cannot show is printed as `?`; the file gets it as it is.
- stderr: warnings and errors, one line each (the server's messages),
  library logs at WARNING and above, one line each, and a progress line
  while stderr is a terminal (`ProgressLine`). Every key the command
  obtained is replaced by `[redacted]` in all of it (`secrets`).
- The file is written once the answer has ended (`files.replace_chat`: a
  crash, a Ctrl-C or a full disk leaves the chat as it was). Nothing the
  user wrote or the answer brought is lost: if the file changed on disk
  meanwhile (an editor saved it) or is read-only, it is left as it is; if
  it cannot be written, it is as it was; either way the answered chat goes
  beside it, `NAME-answered.md` (`NAME-answered-2.md`... if taken), else
  into the temporary folder (`$TMPDIR`), and one line says where.
  `--no-write` only prints.
- Signals (`Signals`): Ctrl-C or SIGTERM before the answer streams quits at
  once, quietly (nothing was sent). While it streams, the first stops the
  answer as `chatvim.stop` does: the text that came is kept, with its
  closing delimiter, and written; a second quits at once and writes
  nothing. Once the answer has ended, the chat is written all the same.
  The exit status is then 130 for Ctrl-C, 143 for SIGTERM.
- The exit status says what happened (`Exit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Callable
from enum import IntEnum
from pathlib import Path
from typing import TextIO

from .answer import Answer, EndedUnexpectedly, Outcome
from .asking import ask, events
from .chat import parse_chat
from .config import load_global_config, read_file, text_of
from .files import CannotCreate, KeptAsIs, mode_of_copy, replace_chat, write_new_chat
from .llm import Event, ProviderError, Text
from .problems import ChatvimError
from .providers import MissingKey
from .secrets import RedactingFilter, redact
from .stream import AnswerWriter, Edit
from .textdoc import Change, TextDocument

PROGRESS_EVERY = 0.2  # seconds between redraws of the progress line


class Exit(IntEnum):
    ANSWERED = 0
    FAILED = 1  # the chat could not be written (the message says where it is), or chatvim-ls failed
    BAD_CHAT = 3  # the chat, config.md or an @file: reference cannot be sent (nothing was)
    NO_KEY = 4  # no API key for the provider
    REFUSED = 5  # the provider answered with an error, or with nothing
    NETWORK = 6  # the provider could not be reached, went silent, or broke the answer off
    KEPT_BOTH = 7  # the file changed meanwhile or is read-only: it is kept, the answered chat is beside it
    STOPPED = 130  # Ctrl-C (SIGINT): the answer so far is written
    BROKEN_PIPE = 141  # FILE `-`: stdout's reader went away before the completed chat was written
    TERMINATED = 143  # SIGTERM: the answer so far is written


def complete_file(source: str, *, write: bool) -> int:
    """Answer the chat in the file `source` (`-`: stdin); the exit status."""
    for stream in (sys.stdout, sys.stderr):  # what the terminal cannot show is `?`, not a crash
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    log_to_stderr()
    signals = Signals()
    try:
        return _complete(None if source == "-" else Path(source), write, signals)
    except KeyboardInterrupt:  # (`Quit`: a signal before the answer streamed, or a second after it)
        return signals.status or Exit.STOPPED


def _complete(path: Path | None, write: bool, signals: Signals) -> int:
    where = "<stdin>" if path is None else str(path)
    try:
        config = load_global_config()
        was = sys.stdin.buffer.read() if path is None else read_file(path)
        text = text_of(was, where)
    except ChatvimError as exc:
        return _fail(str(exc), Exit.BAD_CHAT)
    chat = parse_chat(text, config.settings)
    for line in config.warnings + [p.one_line(where) for p in chat.problems if not p.is_error]:
        _say(line)
    try:
        asked = ask(text, path, config, os.environ)
    except MissingKey as exc:
        return _fail(exc.one_line(where), Exit.NO_KEY)
    except ChatvimError as exc:
        return _fail(exc.one_line(where), Exit.BAD_CHAT)
    doc = TextDocument("file:///chat.md", text, 0)
    editor = FileEditor(where, None if path is None else sys.stdout)
    answer = Answer(AnswerWriter(doc, asked.settings.delimiters, versioned=False), editor,
                    lambda: editor.printing(events(asked)), model=asked.request.model,
                    provider=asked.request.provider, show_reasoning=asked.settings.reasoning == "show")  # fmt: skip
    editor.answer = answer
    progress = ProgressLine.on(sys.stderr, sharing=None if path is None else sys.stdout)
    if not asyncio.run(_run(answer, progress, signals)):
        return _fail(f"{where}: stopped; nothing written", signals.status or Exit.STOPPED)
    editor.end_text()
    if path is None:
        failed = _print_chat(doc.text)
    elif write and answer.writer.started:
        failed = _save(path, was, doc.text)
    else:
        failed = None
    return failed or signals.status or _status(answer)  # (a signal heard while it was written counts too)


class Quit(KeyboardInterrupt):
    """A signal before the answer streams, or a second after it ended: quit at once."""


class Signals:
    """SIGINT (Ctrl-C) and SIGTERM, for the whole command. Before the answer
    streams they quit at once (nothing was sent); while it streams, the first
    stops it as `chatvim.stop` does and a second quits, writing nothing;
    after, the chat is written all the same, unless a second comes (a stdout
    no one reads, a hung disk): then it quits. The first says the exit status."""

    def __init__(self) -> None:
        self.status: Exit | None = None
        self._streamed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # while the answer streams
        self._stop: Callable[[], object] = lambda: None
        self._quit: Callable[[], object] = lambda: None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._heard)

    def streaming(self, stop: Callable[[], object], quit: Callable[[], object]) -> None:
        """The answer streams now, in the running loop: `stop` stops it, `quit` cuts it short."""
        self._streamed, self._loop, self._stop, self._quit = True, asyncio.get_running_loop(), stop, quit

    def ended(self) -> None:
        self._loop = None

    def _heard(self, signum: int, _frame: object) -> None:
        first = self.status is None
        if first:
            self.status = Exit.TERMINATED if signum == signal.SIGTERM else Exit.STOPPED
        if not self._streamed or (self._loop is None and not first):
            raise Quit
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop if first else self._quit)


class FileEditor:
    """The `answer.Editor` of a chat in memory: every edit applied at once,
    and reported at once (as `didChange` would), the answer's text printed."""

    def __init__(self, where: str, out: TextIO | None) -> None:
        self.where = where
        self.out = out  # where the answer's text goes as it comes; None: nowhere
        self.answer: Answer | None = None
        self.progress: ProgressLine | None = None
        self.printed = ""

    async def apply(self, doc: TextDocument, edit: Edit) -> bool:
        assert self.answer is not None
        self.answer.apply_change(Change(doc.from_client(*edit.start), doc.from_client(*edit.end), edit.text))
        doc.version = (doc.version or 0) + 1
        self.answer.reported(doc.version)
        return True

    async def printing(self, source: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        """The provider's events, the answer's text printed as it passes."""
        async with contextlib.aclosing(source) as passing:
            async for event in passing:
                if isinstance(event, Text) and self.out is not None and event.text:
                    if self.progress is not None and self.progress.shares_screen:
                        self.progress.clear()
                    self._print(event.text)
                yield event

    def _print(self, text: str) -> None:
        assert self.out is not None
        try:
            self.out.write(text)
            self.out.flush()
            self.printed = (self.printed + text)[-1:]
        except BrokenPipeError:  # (`| head`): the rest goes into the file only
            self.out = None
            _quiet_stdout()

    def end_text(self) -> None:
        if self.out is not None and self.printed and self.printed != "\n":
            self._print("\n")  # the shell's prompt on a line of its own

    async def progress_begin(self, message: str) -> None:
        if self.progress is not None:
            self.progress.begin(message)

    def progress_report(self, message: str) -> None:
        pass  # (the progress line counts for itself)

    def progress_end(self, message: str) -> None:
        if self.progress is not None:
            self.progress.end(message)

    def show(self, message: str, *, error: bool) -> None:
        if self.progress is not None:
            self.progress.clear()
        _say(f"{self.where}: {'' if error else 'warning: '}{message}")

    def log(self, message: str) -> None:
        pass  # (the server's log; the message shown says what to do)


class ProgressLine:
    """One line on a terminal's stderr: the model, tokens, rate, elapsed
    time, redrawn in place while the answer streams. When stdout is that
    terminal too, the answer's text has the screen: the line shows only
    until the first text, and the summary comes after the answer."""

    def __init__(self, err: TextIO, shares_screen: bool) -> None:
        self.err = err
        self.shares_screen = shares_screen
        self.answer: Answer | None = None
        self.model = ""
        self.started = time.monotonic()
        self.first_text: float | None = None  # the rate counts from it
        self.drawn = False

    @staticmethod
    def on(err: TextIO, *, sharing: TextIO | None) -> ProgressLine | None:
        if not _is_terminal(err):
            return None
        return ProgressLine(err, sharing is not None and _is_terminal(sharing))

    def begin(self, model: str) -> None:
        self.model, self.started = model, time.monotonic()
        self.draw()

    def draw(self) -> None:
        if self.answer is None or (self.shares_screen and self.answer.tokens):
            return
        now = time.monotonic()
        tokens = self.answer.tokens
        if tokens and self.first_text is None:
            self.first_text = now
        streaming = now - self.first_text if self.first_text is not None else 0
        state = (
            f"{tokens} tokens · {tokens / streaming:.0f}/s"
            if streaming
            else f"{tokens} tokens"
            if tokens
            else "waiting"
        )
        self.err.write(f"\r\x1b[K{self.model} · {state} · {now - self.started:.1f} s")
        self.err.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self.drawn = False

    def end(self, summary: str) -> None:
        self.drawn = True  # (the terminal may have echoed a ^C since)
        self.clear()
        if self.answer is not None and self.answer.outcome is not Outcome.FAILED:  # (a failure was said)
            self.err.write(redact(f"{self.model} · {summary}\n"))
            self.err.flush()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            self.draw()


async def _run(answer: Answer, progress: ProgressLine | None, signals: Signals) -> bool:
    """Run the answer to its end; False if a second signal cut it short."""
    editor = answer.editor
    assert isinstance(editor, FileEditor)
    editor.progress = progress
    task = asyncio.current_task()
    assert task is not None
    signals.streaming(answer.stop, task.cancel)
    drawing = None
    if progress is not None:
        progress.answer = answer
        drawing = asyncio.create_task(progress.run())
    try:
        await answer.run()
        return True
    except asyncio.CancelledError:
        return False
    finally:
        signals.ended()
        if drawing is not None:
            drawing.cancel()
        if progress is not None:
            progress.clear()


def _status(answer: Answer) -> Exit:
    if answer.outcome is Outcome.STOPPED:
        return Exit.STOPPED
    if answer.outcome is Outcome.FAILED:
        failure = answer.failure
        if isinstance(failure, MissingKey):
            return Exit.NO_KEY
        if isinstance(failure, ProviderError):
            return Exit.NETWORK if failure.network else Exit.REFUSED
        return Exit.NETWORK if isinstance(failure, EndedUnexpectedly) else Exit.FAILED
    if answer.tokens == 0 or answer.finish_reason == "content_filter":
        return Exit.REFUSED
    if answer.finish_reason is None:
        return Exit.NETWORK  # broken off: the text so far is kept
    return Exit.ANSWERED


def _print_chat(text: str) -> Exit | None:
    """The completed chat on stdout; a reader gone (`| head -1`) is no error to show."""
    data = memoryview(text.encode("utf-8"))
    try:
        while data:  # (a signal in a long write returns what was written so far)
            data = data[sys.stdout.buffer.write(data) :]
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return Exit.BROKEN_PIPE
    return None


def _save(path: Path, was: bytes, text: str) -> Exit | None:
    """Write the answered chat over `path`; where it cannot go there, beside
    it, else into the temporary folder; the status if not over `path`."""
    try:
        replace_chat(path, was, text)
        return None
    except KeptAsIs as exc:
        problem, status = f"{exc}: it is kept as it is", Exit.KEPT_BOTH
    except CannotCreate as exc:
        problem, status = str(exc), Exit.FAILED
    target = path.resolve()
    for folder in (target.parent, Path(tempfile.gettempdir())):
        with contextlib.suppress(CannotCreate):
            kept = write_new_chat(folder, f"{target.stem}-answered", text, mode_of_copy(target))
            return _fail(f"{problem}; the answered chat is in {kept}", status)
    return _fail(f"{problem}; nor could the answered chat be kept anywhere: only stdout has the answer", Exit.FAILED)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fail(message: str, status: Exit) -> Exit:
    _say(message)
    return status


def _say(message: str) -> None:
    """One line on stderr, with no key in it."""
    print(redact(message), file=sys.stderr, flush=True)


def _quiet_stdout() -> None:
    """stdout's reader is gone: what is still written to it goes nowhere, with no complaint at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def log_to_stderr() -> logging.Handler:
    """Library logs at WARNING and above on stderr: one line each, with no key in it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(_OneLine())
    logging.getLogger().addHandler(handler)
    logging.captureWarnings(True)
    return handler


class _OneLine(logging.Formatter):
    """A record's message and, for a failure, the exception's last line (both
    redacted by then: `RedactingFilter` runs first)."""

    def format(self, record: logging.LogRecord) -> str:
        line = record.getMessage() + (f": {record.exc_text.splitlines()[-1]}" if record.exc_text else "")
        return "chatvim-ls: " + " ".join(line.split())
