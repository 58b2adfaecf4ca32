"""One answer streamed into one document: provider text in, edits and
progress out.

`Answer.run()` reads the provider's events and drives an `AnswerWriter`,
sending each edit through an `Editor` (the server's LSP edge) as soon as the
previous one is answered. It ends the same way on every path (done,
stopped, failed, document closed, server shutdown): the provider connection
is closed by cancelling the reader, the closing `# === USER ===` block is
written unless the document is gone, and then progress ends: when it ends,
the document holds the whole answer and the next answer can be asked for.

The writer's waits are timed here (stream.py never waits): after a refused
edit, for the change the editor has not reported yet; for a report that says
where an edit in doubt went; for a pause in the user's typing before a
repair; and at the end, for the echoes of the last edits (an editor that
never reports them is trusted after `ECHO_WAIT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from enum import Enum
from typing import Protocol

from .llm import Event, Finish, ProviderError, Reasoning, Text, Usage
from .problems import ChatvimError
from .providers import MissingKey
from .render import THINKING_AFTER, THINKING_BEFORE
from .stream import AnswerWriter, Edit
from .textdoc import Change, TextDocument

log = logging.getLogger(__name__)

REPORT_EVERY = 0.25  # seconds between progress reports
REFUSALS_BEFORE_GIVING_UP = 20  # in a row, with no edit applied and no user change heard between them
RETRY_AFTER_REFUSAL = 1.0  # seconds to wait for a didChange after a refused edit, doubled each time up to
RETRY_AT_MOST = 4.0  # these (eglot reports only once the user pauses)
ECHO_PATIENCE = 0.25  # seconds to wait for an edit's didChange before trusting the editor's replies
ECHO_WAIT = 3.0  # seconds to wait at the end for the didChange of the last applied edits
DOUBT_WAIT = 0.5  # seconds to wait for a report on an edit that may have been dropped
REPAIR_PAUSE = 0.3  # seconds without user changes before a misplaced copy is deleted (stream.py)


class EndedUnexpectedly(ChatvimError):
    """The provider's events stopped with no end, no error and no stop asked for."""


class Editor(Protocol):
    """What an answer needs from the editor (the server implements it)."""

    async def apply(self, doc: TextDocument, edit: Edit) -> bool: ...
    async def progress_begin(self, message: str) -> None: ...
    def progress_report(self, message: str) -> None: ...
    def progress_end(self, message: str) -> None: ...
    def show(self, message: str, *, error: bool) -> None: ...
    def log(self, message: str) -> None: ...


class Outcome(Enum):
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"
    CLOSED = "document closed"
    SHUTDOWN = "server shutting down"


class Answer:
    def __init__(self, writer: AnswerWriter, editor: Editor, events: Callable[[], AsyncGenerator[Event, None]],
                 *, model: str, provider: str, show_reasoning: bool = False,
                 repeats: str | None = None) -> None:  # fmt: skip
        self.writer = writer
        self.editor = editor
        self.events = events
        self.model = model
        self.provider = provider
        self.show_reasoning = show_reasoning  # the model's thinking goes into a Thinking block before the answer
        self._thinking = False  # ...and that block is open
        # Continuing an answer by asking for the rest: its end, which the new text may
        # repeat; the text is held until it is longer than that, and what it repeats cut.
        self._repeats = repeats
        self._held = ""
        self.outcome: Outcome | None = None
        self.error: str | None = None
        self.failure: ChatvimError | None = None  # what failed: the provider, the key, or the stream
        self.tokens = 0
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.finished_cleanly = False
        self._wake = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._abandoned = False  # the document is gone: write nothing more
        self._user_changes_seen = 0
        self._replied_at = 0.0  # when the editor last answered an edit: the waits below count from it
        self._last_user_change = -REPAIR_PAUSE
        self._started = time.monotonic()
        self._ended = 0.0  # when `cost` was first asked for
        self._last_report = 0.0

    # -- control from the server -----------------------------------------------

    def stop(self, outcome: Outcome = Outcome.STOPPED) -> None:
        if self.outcome is None:
            self.outcome = outcome
        if self._reader is not None:
            self._reader.cancel()
        self._wake.set()

    def apply_change(self, change: Change) -> None:
        """One content change of a didChange: the writer tells its own edits from the user's."""
        self.writer.apply_change(change)

    def reported(self, version: int | None) -> None:
        """The didChange is applied: the editor is at `version`."""
        self.writer.reported(version)
        if self.writer.user_changes != self._user_changes_seen:
            self._user_changes_seen = self.writer.user_changes
            self._last_user_change = time.monotonic()
        self._wake.set()

    # -- the run -----------------------------------------------------------------

    async def run(self) -> None:
        await self.editor.progress_begin(self.model)
        self._started = time.monotonic()
        self._reader = asyncio.create_task(self._read())
        if self.outcome is not None:  # stopped while progress was being set up
            self._reader.cancel()
        writing = asyncio.create_task(self._write())
        await asyncio.wait({self._reader, writing}, return_when=asyncio.FIRST_COMPLETED)
        if not self._reader.done():  # the writer failed first
            if not writing.cancelled() and isinstance(writing.exception(), EditorRefused):
                self.error = str(writing.exception())
            self.stop(Outcome.FAILED)
            await asyncio.wait({self._reader})
        self._settle_outcome()
        self._tell_user()
        if self.outcome in (Outcome.CLOSED, Outcome.SHUTDOWN) or writing.done():
            self._abandoned = True  # in case the cancel below is lost in a wait_for
            self._wake.set()
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writing
        else:
            self._end_thinking()
            self._release()
            self.writer.finish()
            self._wake.set()
            try:
                await writing
            except EditorRefused as exc:
                self.error = str(exc)
                self.outcome = Outcome.FAILED
                self._tell_user()
        # Only now: the document holds the whole answer, and a new one may be asked for.
        self.editor.progress_end(self._summary())

    async def _read(self) -> None:
        try:
            async with contextlib.aclosing(self.events()) as events:
                async for event in events:
                    if self.outcome is not None:  # stopped: Python < 3.12's wait_for can lose a cancel
                        return
                    self._on_event(event)
                    # Let the writer send it before reading on: reading on runs down the SDK's
                    # layers until the socket has nothing, 0.2 ms the edit would wait.
                    await asyncio.sleep(0)
            self.finished_cleanly = True
        except (ProviderError, MissingKey) as exc:
            self.error = str(exc)
            self.failure = exc
            detail = exc.detail if isinstance(exc, ProviderError) else None
            if detail:
                self.editor.log(f"{self.provider}: {detail}")  # what the message leaves out
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug or an unforeseen library error: say so, keep serving
            log.exception("the answer failed")
            self.editor.log(f"chatvim-ls failed: {type(exc).__name__}: {exc}")
            self.error = f"chatvim-ls failed ({type(exc).__name__}): the log says more; please report it"

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Text):
            self.tokens += 1
            self._end_thinking()
            self._add(event.text)
            self._wake.set()
            self._maybe_report(lambda: f"{self.tokens} tokens · {self._rate():.0f}/s")
        elif isinstance(event, Reasoning):
            if self.show_reasoning:
                self.writer.add(event.text if self._thinking else THINKING_BEFORE + event.text.lstrip())
                self._thinking = True
                self._wake.set()
            self._maybe_report(lambda: "thinking…")
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            self.finish_reason = event.reason

    def _add(self, text: str) -> None:
        if self._repeats is None:
            self.writer.add(text)
            return
        self._held += text
        if len(self._held) > len(self._repeats):
            self._release()

    def _release(self) -> None:
        if self._repeats is not None:
            self.writer.add(without_repeat(self._repeats, self._held))
            self._repeats, self._held = None, ""

    def _end_thinking(self) -> None:
        if self._thinking:
            self._thinking = False
            self.writer.add(THINKING_AFTER)

    async def _write(self) -> None:
        writer = self.writer
        while not self._abandoned:
            writer.hold_repairs = self._typing()
            edit = writer.next_edit()
            if edit is not None:
                try:
                    applied = await self.editor.apply(writer.doc, edit)
                except Exception:
                    log.warning("workspace/applyEdit failed", exc_info=True)
                    applied = False
                writer.on_reply(applied)
                self._replied_at = time.monotonic()
                if writer.refusals_in_a_row >= REFUSALS_BEFORE_GIVING_UP:
                    raise EditorRefused("the editor refused every edit of the answer; is the document still open?")
                continue
            if writer.done:
                return
            await self._wait_for_news()

    async def _wait_for_news(self) -> None:
        writer = self.writer
        deadline: float | None = None
        if writer.waiting_for_change:
            retry_after = RETRY_AFTER_REFUSAL * 2 ** max(writer.refusals_in_a_row - 1, 0)
            deadline = self._replied_at + min(retry_after, RETRY_AT_MOST)
        elif writer.in_doubt:
            deadline = self._replied_at + DOUBT_WAIT
        elif writer.repairs and writer.hold_repairs:
            deadline = self._last_user_change + REPAIR_PAUSE
        elif writer.unconfirmed and not writer.trust_replies:
            deadline = self._replied_at + ECHO_PATIENCE
        elif writer.all_sent and writer.unconfirmed:
            deadline = self._replied_at + ECHO_WAIT
        if not await self._woken_before(deadline):
            if writer.waiting_for_change:
                writer.retry_now()
            elif writer.in_doubt:
                log.info("no report on an edit that may have been dropped; writing its text again")
                writer.give_up_waiting()
            elif writer.unconfirmed and not writer.trust_replies:
                log.info("the editor reports its changes late: trusting its replies")
                writer.trust_replies = True
            elif writer.all_sent and writer.unconfirmed:
                log.info("the editor has not reported the answer's last edits; it said it applied them")
                writer.trust_unconfirmed()
        self._wake.clear()

    async def _woken_before(self, deadline: float | None) -> bool:
        """Wait for `_wake` until `deadline` (monotonic time; None: no end);
        False if the time was up first. One timer of the loop's: the writer
        waits once per token, and `asyncio.wait_for` made a task and a timer
        for each wait (`python bench/tokens.py --profile`)."""
        if deadline is None:
            await self._wake.wait()
            return True
        timed_out = False

        def time_up() -> None:
            nonlocal timed_out
            timed_out = True
            self._wake.set()

        timer = asyncio.get_running_loop().call_later(max(0.0, deadline - time.monotonic()), time_up)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()
        return not timed_out

    def _typing(self) -> bool:
        return time.monotonic() - self._last_user_change < REPAIR_PAUSE

    # -- reporting -----------------------------------------------------------------

    def _rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.tokens / elapsed if elapsed > 0 else 0.0

    def _maybe_report(self, message: Callable[[], str]) -> None:
        """Progress, at most every `REPORT_EVERY` (the message made only then: this runs per token)."""
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY:
            self._last_report = now
            self.editor.progress_report(message())

    def _settle_outcome(self) -> None:
        if self.outcome is not None:
            return
        if self.error is not None:
            self.outcome = Outcome.FAILED
        elif not self.finished_cleanly:
            self.outcome = Outcome.FAILED
            self.failure = EndedUnexpectedly("the answer ended unexpectedly: try again")
            self.error = str(self.failure)
        else:
            self.outcome = Outcome.DONE

    def _summary(self) -> str:
        if self.outcome is Outcome.FAILED:
            return self.error or "failed"
        if self.outcome is not Outcome.DONE:
            return self.outcome.value if self.outcome else "ended"
        summary = self.cost()
        if self.finish_reason is None:
            summary += " · cut off"
        elif self.finish_reason == "length":
            summary += " · hit max_tokens"
        return summary

    def cost(self) -> str:
        """What the answer took: tokens out, time, tokens in and money where the provider said."""
        self._ended = self._ended or time.monotonic()
        usage = self.usage
        tokens = usage.completion_tokens if usage and usage.completion_tokens else self.tokens
        cost = f"{tokens} tokens · {self._ended - self._started:.1f} s"
        if usage and usage.prompt_tokens:
            cost += f" · {usage.prompt_tokens} in"
        if usage and usage.cost is not None:
            cost += f" · ${usage.cost:.4f}"
        return cost

    def _tell_user(self) -> None:
        if self.outcome is Outcome.FAILED and self.error:
            self.editor.show(self.error, error=True)
        elif self.outcome is Outcome.DONE and self.tokens == 0:
            self.editor.show(f"{self.provider} sent an empty answer: try again, or another model", error=False)
        elif self.outcome is Outcome.DONE and self.finish_reason is None:
            self.editor.show(f"{self.provider} broke the answer off: try again (the text so far is kept)", error=True)
        elif self.outcome is Outcome.DONE and self.finish_reason == "content_filter":
            self.editor.show(f"{self.provider} stopped the answer with its content filter", error=False)


MIN_REPEAT = 12  # code points: a shorter overlap may be chance ("the" after "the")


def without_repeat(before: str, text: str) -> str:
    """`text` without its start where it repeats the end of `before` (at least `MIN_REPEAT`)."""
    for length in range(min(len(before), len(text)), MIN_REPEAT - 1, -1):
        if before.endswith(text[:length]):
            return text[length:]
    return text


class EditorRefused(ChatvimError):
    """The editor kept refusing the answer's edits."""
