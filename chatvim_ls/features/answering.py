"""Asking for an answer, and stopping it: commands, code actions, progress.

- `chatvim.complete [uri]` checks the chat, answers at once, then streams
  the answer in the background (`answer.Answer`), with the files of the
  question's `@file:` references (`context.py`). A refusal is one message
  (showMessage) and the answer `{"started": false, "reason": …}`, never also
  an error answer, which editors would show a second time.
- `chatvim.regenerate [uri]`: the same request again, in place of the last
  answer; `chatvim.continue [uri]`: the rest of a cut last answer, after
  its last character (`last_answer`; the writer takes out what goes, as a
  repair, with the first new text).
- `chatvim.stop [uri]` (or `[]` for all), `window/workDoneProgress/cancel`
  and `$/cancelRequest` of a complete request stop an answer.
- Code actions: "Chatvim: complete" in chats only, "Chatvim: stop" instead
  while an answer streams (the commands themselves work in any document);
  "Chatvim: regenerate" after a last answer, "Chatvim: continue" after one
  that was cut.
- `shutdown` is answered once every answer has ended its progress.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from ..answer import Answer, Outcome
from ..asking import ask, events
from ..chat import Chat
from ..problems import ChatvimError, Position
from ..secrets import redact
from ..stream import AnswerWriter, Edit, EditorWays
from ..textdoc import Change, TextDocument
from .documents import Listener, short_name, written_path

if TYPE_CHECKING:
    from ..server import ChatvimServer

log = logging.getLogger(__name__)

COMPLETE = "chatvim.complete"
CONTINUE = "chatvim.continue"
REGENERATE = "chatvim.regenerate"
STOP = "chatvim.stop"
SHUTDOWN_WAIT = 1.0  # seconds `shutdown` waits for answers to end
REPEAT_TAIL = 200  # code points of a cut answer that its continuation, asked for, may repeat


class Refused(ChatvimError):
    """`chatvim.complete` cannot start."""


class Answers(Listener):
    """The answers streaming, one per document at most, and those about to
    start (waiting for settings being read)."""

    def __init__(self, server: ChatvimServer) -> None:
        self.server = server
        self.by_uri: dict[str, Answer] = {}
        self.starting: dict[str, bool] = {}  # uri -> stop asked for, while it waits for settings
        self.requests: dict[Any, str] = {}  # complete request id -> uri
        self.runs: set[asyncio.Task[None]] = set()
        self.last: dict[str, Answer] = {}  # uri -> the answer that ended last there
        self.ways: EditorWays | None = None  # the editor's, learned by one answer for the next (once it is known)
        server.documents.listeners.append(self)

    def streaming(self, uri: str) -> bool:
        answer = self.by_uri.get(uri)
        return (answer is not None and answer.outcome is None) or uri in self.starting

    async def start(self, uri: str, request_id: Any, *, how: str = COMPLETE) -> bool:
        """Start streaming an answer into `uri` (`how`: COMPLETE; REGENERATE,
        in place of the last one, from the request that made it; CONTINUE,
        the rest of the last one); False if it was stopped or closed before
        it could start. `Refused` says why it cannot."""
        server = self.server
        doc = server.documents.get(uri)
        if doc is None:
            raise Refused(f"{short_name(uri)} is not open in the editor: open it first")
        if uri in self.by_uri or uri in self.starting:
            raise Refused(f"an answer is already streaming here: stop it with {server.settings.hints.stop}")
        if server.settings.changing:  # settings just changed: use the new ones
            self.starting[uri] = False
            try:
                await server.settings.settled()
            finally:
                stopped_meanwhile = self.starting.pop(uri)
            if stopped_meanwhile or server.documents.get(uri) is not doc:  # stopped, or closed, meanwhile
                return False
        replacing, text, repeats = None, doc.text, None
        if how != COMPLETE:
            parsed = server.documents.parsed(uri)
            old = last_answer(doc, parsed.chat, whole=how == REGENERATE) if parsed is not None else None
            if old is None:
                raise Refused(
                    f"nothing to {how.split('.')[1]}: the chat must end with an answer (and an empty question)"
                )
            replacing, text, repeats = old
        try:
            asked = ask(text, written_path(uri), server.settings.global_config(), os.environ, continues=how == CONTINUE)
        except ChatvimError as exc:
            if str(exc) != exc.short:
                server.log_detail(str(exc))  # the whole story: file, line and column
            raise Refused(exc.short) from None
        if self.ways is None:
            self.ways = EditorWays.first_guess(*server.settings.client)
        writer = AnswerWriter(
            doc, asked.settings.delimiters, whole_lines=asked.options.flush == "line",
            versioned=_supports_versioned_edits(server), replacing=replacing, continuing=how == CONTINUE,
            ways=self.ways,
        )  # fmt: skip
        asks_for_rest = how == CONTINUE and asked.provider.continues_by == "ask"
        answer = Answer(
            writer, LspEditor(server, uri), lambda: events(asked), model=asked.request.model,
            provider=asked.request.provider, show_reasoning=how != CONTINUE and asked.settings.reasoning == "show",
            repeats=repeats[-REPEAT_TAIL:] if repeats and asks_for_rest else None,
        )  # fmt: skip
        self.by_uri[uri] = answer
        server.documents.take_changes(uri, answer)
        if request_id is not None:
            self.requests[request_id] = uri
        task = asyncio.create_task(answer.run())
        self.runs.add(task)
        task.add_done_callback(lambda _: self._forget(uri, answer, request_id, task))
        return True

    def _forget(self, uri: str, answer: Answer, request_id: Any, task: asyncio.Task[None]) -> None:
        log.info("the answer in %s has ended (%s)", short_name(uri), answer.outcome.value if answer.outcome else "?")
        if self.by_uri.get(uri) is answer:
            del self.by_uri[uri]
            self.last[uri] = answer
            self.server.documents.take_changes(uri, None)
        self.requests.pop(request_id, None)
        self.runs.discard(task)

    def cut(self, uri: str) -> bool:
        """Whether the answer that ended last in `uri` was cut: stopped, at
        max_tokens, broken off (known for answers since the server started)."""
        answer = self.last.get(uri)
        if answer is None or not answer.tokens:
            return False
        return answer.outcome in (Outcome.STOPPED, Outcome.FAILED) or answer.finish_reason in (None, "length")

    def stop(self, uri: str | None, outcome: Outcome = Outcome.STOPPED) -> int:
        """Stop the answer in `uri` (None: every one); how many were stopped."""
        targets = [u for u in self.by_uri if uri is None or u == uri]
        for target in targets:
            self.by_uri[target].stop(outcome)
        starting = [u for u in self.starting if uri is None or u == uri]
        for target in starting:
            self.starting[target] = True  # it will not start
        return len(targets) + len(starting)

    def stop_request(self, request_id: Any) -> bool:
        """Stop the answer a `chatvim.complete` request started; False if none."""
        uri = self.requests.pop(request_id, None)
        return uri is not None and self.stop(uri) > 0

    def closed(self, uri: str) -> None:
        self.last.pop(uri, None)
        answer = self.by_uri.get(uri)
        if answer is not None:
            answer.stop(Outcome.CLOSED)


def last_answer(doc: TextDocument, chat: Chat, *, whole: bool = True) -> tuple[Change, str, str] | None:
    """The chat's last answer, to regenerate (`whole`) or continue: the
    deletion that takes it out (from the end of the question to the final
    line break, as `complete` found it), or only the closing block after it
    (from its last character); the text without that; and the answer's
    text. None unless the chat ends with an answer and, at most, an empty
    question after it."""
    answers = [i for i, t in enumerate(chat.turns) if t.role == "assistant"]
    if not answers or answers[-1] == 0:
        return None
    after = chat.turns[answers[-1] + 1 :]
    if len(after) > 1 or any(t.role != "user" or t.content for t in after):
        return None
    answer = chat.turns[answers[-1]]
    if not whole and not answer.content:
        return None
    last = answer.start_line - 1 if whole else answer.end_line  # the line the kept text ends on
    kept_end = next((i for i in range(last, -1, -1) if doc.line_text(i).strip()), None)
    if kept_end is None:
        return None
    start, end = Position(kept_end, len(doc.line_text(kept_end))), doc.before_final_line_break()
    if end <= start:
        return None
    kept = doc.text_between(Position(0, 0), start) + doc.text_between(end, doc.end())
    return Change(start, end, ""), kept, answer.content


def _supports_versioned_edits(server: ChatvimServer) -> bool:
    workspace = server.client_capabilities.workspace
    edit = workspace.workspace_edit if workspace else None
    return bool(edit and edit.document_changes)


def _supports_progress(server: ChatvimServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


class LspEditor:
    """The `answer.Editor` of one document, over LSP."""

    def __init__(self, server: ChatvimServer, uri: str) -> None:
        self.server = server
        self.uri = uri
        self.token: str | None = None

    async def apply(self, doc: TextDocument, edit: Edit) -> bool:
        # As JSON has it, not as lsprotocol types: there is one per token, and unstructuring
        # the typed message (cattrs) was a third of the time from a token to its edit sent.
        (start_line, start_char), (end_line, end_char) = edit.start, edit.end
        text_edit = {"range": {"start": {"line": start_line, "character": start_char},
                               "end": {"line": end_line, "character": end_char}},
                     "newText": edit.text}  # fmt: skip
        if edit.version is not None:
            change = {"textDocument": {"uri": self.uri, "version": edit.version}, "edits": [text_edit]}
            workspace_edit: dict[str, object] = {"documentChanges": [change]}
        else:
            workspace_edit = {"changes": {self.uri: [text_edit]}}
        # No label: Neovim prints "Workspace edit <label>" for every edit.
        # (The protocol's future, not pygls' coroutine around it: that made a task per edit.)
        params = {"edit": workspace_edit}
        send = self.server.protocol.send_request_async
        result = await self.server.answer_to(lambda: send(lsp.WORKSPACE_APPLY_EDIT, params), "an edit")
        return bool(result and result.applied)

    async def progress_begin(self, message: str) -> None:
        if not _supports_progress(self.server):
            return
        token = f"chatvim-{uuid.uuid4().hex}"
        progress = self.server.work_done_progress
        try:
            await asyncio.wait_for(self.server.answer_to(lambda: progress.create_async(token), "a progress token"), 5)
        except Exception:
            log.warning("the editor did not accept a progress token", exc_info=True)
            return
        self.token = token
        progress.tokens[token].add_done_callback(lambda _: self.server.answers.stop(self.uri))
        progress.begin(token, lsp.WorkDoneProgressBegin(title="Chatvim", message=message, cancellable=True))

    def progress_report(self, message: str) -> None:
        if self.token is not None:
            self.server.work_done_progress.report(self.token, lsp.WorkDoneProgressReport(message=message))

    def progress_end(self, message: str) -> None:
        if self.token is None:
            return
        self.server.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd(message=redact(message)))
        future = self.server.work_done_progress.tokens.pop(self.token, None)
        if future is not None and not future.done():
            future.set_result(None)  # not a cancel: our done-callback then stops nothing running
        self.token = None

    def show(self, message: str, *, error: bool) -> None:
        self.server.show(message, error=error)

    def log(self, message: str) -> None:
        self.server.log_detail(message)


def uri_argument(args: tuple[Any, ...], *, optional: bool) -> str | None:
    """A command's `[uri]` argument (or `[]` when `optional`)."""
    if not args and optional:
        return None
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        usage = "[uri] or []" if optional else "[uri]"
        raise JsonRpcInvalidParams(message=f"expected the arguments {usage}, got {list(args)!r}"[:200])
    return args[0]


def _action(title: str, command: str, uri: str) -> lsp.CodeAction:
    return lsp.CodeAction(title=title, command=lsp.Command(title, command, arguments=[uri]))


def register(server: ChatvimServer) -> None:
    def code_actions(doc: TextDocument, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        if server.answers.streaming(doc.uri):
            return [_action("Chatvim: stop", STOP, doc.uri)]
        ending = doc.uri in server.answers.by_uri  # an answer ending: neither, for a moment
        if ending or not server.documents.is_chat(doc):
            return []
        actions = [_action("Chatvim: complete", COMPLETE, doc.uri)]
        parsed = server.documents.parsed(doc.uri)
        if parsed is not None and last_answer(doc, parsed.chat) is not None:
            actions.append(_action("Chatvim: regenerate", REGENERATE, doc.uri))
            if server.answers.cut(doc.uri):
                actions.append(_action("Chatvim: continue", CONTINUE, doc.uri))
        return actions

    server.code_actions.append(code_actions)

    async def answer(how: str, args: tuple[Any, ...]) -> dict[str, Any]:
        # A refusal is the one message shown (showMessage) and a plain answer
        # saying so: an error answer too would be shown a second time by
        # Neovim, and as a raw dump by Vim's and Emacs' clients.
        uri = uri_argument(args, optional=False)
        assert uri is not None
        try:
            started = await server.answers.start(uri, server.protocol.msg_id, how=how)
        except Refused as exc:
            server.show(str(exc), error=True)
            return {"started": False, "reason": redact(str(exc))}
        server.command_answered()
        return {"started": started}

    @server.command(COMPLETE)
    async def complete(*args: Any) -> dict[str, Any]:
        return await answer(COMPLETE, args)

    @server.command(REGENERATE)
    async def regenerate(*args: Any) -> dict[str, Any]:
        return await answer(REGENERATE, args)

    @server.command(CONTINUE)
    async def continue_answer(*args: Any) -> dict[str, Any]:
        return await answer(CONTINUE, args)

    @server.command(STOP)
    async def stop(*args: Any) -> dict[str, int]:
        # async like `complete`: pygls runs both as tasks, in the order they came, so a
        # stop sent just after a complete finds the answer it started.
        stopped = server.answers.stop(uri_argument(args, optional=True))
        server.command_answered()
        return {"stopped": stopped}

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(*args: Any) -> None:
        # Answered only once every answer has ended its progress: after `exit` nothing more can be said.
        server.answers.stop(None, Outcome.SHUTDOWN)
        if server.answers.runs:
            await asyncio.wait(server.answers.runs, timeout=SHUTDOWN_WAIT)
