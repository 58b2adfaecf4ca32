"""The language server: wires LSP messages to the chat core.

- Documents: the server keeps its own copy of each open document
  (`textdoc.TextDocument`), edited in place on didChange; pygls' own
  workspace copy is bypassed (it re-joins the whole text on every change).
- `chatvim.complete [uri]` checks the chat, answers at once, then streams
  the answer in the background (`completion.Completion`). A refusal is one
  message (showMessage) and the answer `{"started": false, "reason": …}`,
  never also an error answer, which editors would show a second time.
- Code actions: "Chatvim: complete" in chats only (`is_chat`), "Chatvim:
  stop" instead while an answer streams.
- Messages follow `messages.py`: one short line; details go to the log.
- `chatvim.stop [uri]` (or `[]` for all), `window/workDoneProgress/cancel`
  and `$/cancelRequest` of a complete request stop a stream.
- Configuration: `initializationOptions`, the `chatvim` section of
  `workspace/configuration`, and the global config.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from . import __version__
from .completion import Completion, Outcome
from .config import ConfigError, GlobalConfig, ServerOptions, load_global_config
from .document import has_delimiter_line, is_chat, parse_chat
from .llm import Event, Timeouts, preload, stream_answer
from .messages import EDITOR_HINTS, WIDTH, Hints, one_line, shorten
from .providers import ChoiceError, MissingKey, api_key, forget_keys, key_from_environment, provider_named
from .request import ChatRequest, RequestError, build_request
from .secrets import redact, remember_secret
from .stream import AnswerWriter, Edit
from .textdoc import ENCODINGS, Change, TextDocument

log = logging.getLogger(__name__)
T = TypeVar("T")

COMPLETE = "chatvim.complete"
STOP = "chatvim.stop"
MARKDOWN_IDS = ("markdown", "md", "chatvim")
MARKDOWN_SUFFIXES = (".md", ".markdown", ".chat")
SHUTDOWN_WAIT = 1.0  # seconds `shutdown` waits for streams to end
CONFIGURATION_WAIT = 5.0  # seconds `complete` waits for settings being read
NUDGE_AFTER = 0.25  # seconds without an answer before the editor is sent a log line (`answer_to`)
NUDGE_EVERY = 2.0  # ...and then again
COMMAND_GAP = 0.05  # seconds between answering a command and sending the editor a request (`answer_to`)


class ChatvimProtocol(LanguageServerProtocol):
    """pygls' protocol with our own document sync and a `$/cancelRequest` hook."""

    _server: ChatvimServer

    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        log.debug("didOpen %s v%s", params.text_document.uri, params.text_document.version)
        self._server.open_document(params.text_document)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        self._server.change_document(params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        self._server.close_document(params.text_document.uri)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        # `chatvim.complete` answers at once and streams on: from the user's side the
        # request still runs, so its cancel stops the stream (pygls alone would not).
        stopped = self._server.stop_cancelled_request(msg_id)
        if not stopped or msg_id in self._request_futures:
            super()._handle_cancel_notification(msg_id)


class ChatvimServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("chatvim-ls", __version__, protocol_cls=ChatvimProtocol)
        self.documents: dict[str, TextDocument] = {}
        self.completions: dict[str, Completion] = {}
        self.runs: set[asyncio.Task[None]] = set()
        self.starting: dict[str, bool] = {}  # uri -> stop asked for, while a complete waits for settings
        self.requests: dict[Any, str] = {}  # complete request id -> uri
        self.progress_cancels: dict[str, str] = {}  # progress token -> uri
        self.init_options = ServerOptions()
        self.workspace_options = ServerOptions()
        self.reading_configuration: asyncio.Task[None] | None = None
        self.settings_pushed = 0  # counts settings pushed by the editor: a slower read must not undo them
        self.position_encoding = "utf-16"
        self.hints = Hints()  # how the user does things in their editor (the `editor` init option)
        self.chat_checks: dict[str, tuple[int | None, bool]] = {}  # uri -> (version, is a chat)
        self.command_answered_at = 0.0  # monotonic time of the last executeCommand answer

    # -- documents -------------------------------------------------------------

    def open_document(self, item: lsp.TextDocumentItem) -> None:
        doc = TextDocument(
            item.uri, item.text, item.version, encoding=self.position_encoding, language_id=item.language_id
        )
        self.documents[item.uri] = doc
        if self.is_chat(doc):
            preload()  # get the provider client's code ready, off the event loop

    def change_document(self, params: lsp.DidChangeTextDocumentParams) -> None:
        doc = self.documents.get(params.text_document.uri)
        if doc is None:
            return
        completion = self.completions.get(doc.uri)
        for event in params.content_changes:
            change = _change_from(doc, event)
            log.debug("didChange v%s: %s", params.text_document.version, change)
            if completion is not None:
                completion.writer.apply_change(change)
            else:
                doc.apply(change)
        doc.version = params.text_document.version
        if completion is not None:
            completion.writer.reported(doc.version)
            completion.document_changed()

    def close_document(self, uri: str) -> None:
        completion = self.completions.get(uri)
        if completion is not None:
            completion.stop(Outcome.CLOSED)
        self.documents.pop(uri, None)
        self.chat_checks.pop(uri, None)

    def is_chat(self, doc: TextDocument) -> bool:
        """Whether a document is a chat (README, "Which files are chats"):
        under a `chat_dirs` folder, or a markdown file that `document.is_chat`
        says is one. Once a chat, a document stays one while it has a
        delimiter line (parsing a big chat on every code action request is
        too slow)."""
        if not _is_markdown(doc):
            return False
        try:
            config = self.global_config()
        except ConfigError:
            return True  # the user will want to hear what is wrong with config.md
        path = _file_path(doc.uri)
        if path is not None and any(path.is_relative_to(folder) for folder in config.options.chat_dirs):
            return True
        version, known = self.chat_checks.get(doc.uri, (None, False))
        if version != doc.version:
            text = doc.text
            was_chat = known and has_delimiter_line(text, config.settings.delimiters)
            known = was_chat or is_chat(text, config.settings)
            self.chat_checks[doc.uri] = (doc.version, known)
        return known

    # -- completions -------------------------------------------------------------

    async def start_completion(self, uri: str, request_id: Any) -> bool:
        """Start streaming an answer into `uri`; False if it was stopped or
        closed before it could start. `Refused` says why it cannot."""
        doc = self.documents.get(uri)
        if doc is None:
            raise Refused(f"{_short_name(uri)} is not open in the editor: open it first")
        if uri in self.completions or uri in self.starting:
            raise Refused(f"an answer is already streaming here: stop it with {self.hints.stop}")
        reading = self.reading_configuration
        if reading is not None and not reading.done():  # settings just changed: use the new ones
            self.starting[uri] = False
            try:
                await asyncio.wait({reading}, timeout=CONFIGURATION_WAIT)
            finally:
                stopped_meanwhile = self.starting.pop(uri)
            if stopped_meanwhile or self.documents.get(uri) is not doc:  # stopped, or closed, meanwhile
                return False
        try:
            config = self.global_config()
            chat = parse_chat(doc.text, config.settings)
            request = build_request(chat, config, os.environ)
            provider = provider_named(request.provider, config.providers, os.environ)
            if not provider.key_command:
                key_from_environment(provider, os.environ)  # a missing variable is refused now, not mid-stream
        except (RequestError, ConfigError) as exc:
            if str(exc) != exc.short:
                self.log_detail(str(exc))  # the whole story: file, line and column
            raise Refused(exc.short) from None
        except (ChoiceError, MissingKey) as exc:
            raise Refused(str(exc)) from None
        options = config.options
        writer = AnswerWriter(
            doc, chat.settings.over(config.settings).delimiters, whole_lines=options.flush == "line",
            versioned=self.client_supports_versioned_edits(),
        )  # fmt: skip
        editor = LspEditor(self, uri)
        completion = Completion(
            writer, editor, lambda: self._events(request, provider, options), model=request.model,
            provider=request.provider,
        )  # fmt: skip
        self.completions[uri] = completion
        if request_id is not None:
            self.requests[request_id] = uri
        task = asyncio.create_task(completion.run())
        self.runs.add(task)
        task.add_done_callback(lambda _: self._forget(uri, completion, request_id, task))
        return True

    async def _events(self, request: ChatRequest, provider: Any, options: ServerOptions) -> AsyncGenerator[Event, None]:
        key = await api_key(provider)
        if key:
            remember_secret(key)
        timeouts = Timeouts(
            first_byte=options.first_byte_timeout or Timeouts.first_byte,
            between_chunks=options.chunk_timeout or Timeouts.between_chunks,
        )
        retries = options.max_retries if options.max_retries is not None else 2
        async for event in stream_answer(request, provider, key, timeouts=timeouts, max_retries=retries):
            yield event

    def _forget(self, uri: str, completion: Completion, request_id: Any, task: asyncio.Task[None]) -> None:
        if self.completions.get(uri) is completion:
            del self.completions[uri]
        self.requests.pop(request_id, None)
        self.runs.discard(task)

    def stop_completions(self, uri: str | None, outcome: Outcome = Outcome.STOPPED) -> int:
        targets = [u for u in self.completions if uri is None or u == uri]
        for target in targets:
            self.completions[target].stop(outcome)
        starting = [u for u in self.starting if uri is None or u == uri]
        for target in starting:
            self.starting[target] = True  # it will not start
        return len(targets) + len(starting)

    def stop_cancelled_request(self, request_id: Any) -> bool:
        """Stop the stream a `chatvim.complete` request started; False if none."""
        uri = self.requests.pop(request_id, None)
        return uri is not None and self.stop_completions(uri) > 0

    def show(self, message: str, *, error: bool) -> None:
        """Tell the user, once, in one line (`messages`). No "chatvim:" in front:
        editors name the server themselves."""
        kind = lsp.MessageType.Error if error else lsp.MessageType.Warning
        message = one_line(message)
        if len(message) > WIDTH:  # a long name in it: the whole line goes to the log
            self.log_detail(message)
            message = shorten(message, WIDTH)
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=redact(message)))

    def log_detail(self, message: str) -> None:
        """What a message leaves out (a provider's own words): to the log and
        the editor's LSP log, at warning level, which Neovim keeps by default."""
        log.warning("%s", redact(message))
        self.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Warning, message=redact(message)))

    # -- configuration ------------------------------------------------------------

    def global_config(self) -> GlobalConfig:
        """config.md, with the editor's settings over it."""
        config = load_global_config()
        editor = self.workspace_options.over(self.init_options)
        return replace(config, options=editor.over(config.options))

    def read_editor_options(self, data: Any, where: str) -> ServerOptions:
        forget_keys()
        if not isinstance(data, dict):
            return ServerOptions()
        try:
            return ServerOptions.from_mapping(data, where)
        except ConfigError as exc:
            self.show(exc.short, error=True)
            return ServerOptions()

    def reread_workspace_configuration(self) -> asyncio.Task[None]:
        self.reading_configuration = asyncio.ensure_future(self.read_workspace_configuration())
        return self.reading_configuration

    async def read_workspace_configuration(self) -> None:
        workspace = self.client_capabilities.workspace
        if not (workspace and workspace.configuration):
            return
        items = [lsp.ConfigurationItem(section="chatvim")]
        pushed = self.settings_pushed
        reply = self.workspace_configuration_async(lsp.ConfigurationParams(items))
        try:
            result = await asyncio.wait_for(asyncio.shield(reply), CONFIGURATION_WAIT)
        except Exception:
            log.warning("workspace/configuration failed", exc_info=True)
            return
        if result and pushed == self.settings_pushed:
            self.workspace_options = self.read_editor_options(result[0], "editor settings")

    async def answer_to(self, request: Awaitable[T], what: str) -> T:
        """The editor's answer to a request the server sent. Emacs' JSON-RPC
        (eglot and lsp-mode on Emacs 28 and 29) leaves a request unread when it
        comes in the same read as the answer Emacs was waiting for (to the
        user's `executeCommand`), until something more arrives: so a line for
        the editor's log is sent while the answer is late, and no request
        goes out in the first `COMMAND_GAP` after a command's answer. Shielded:
        cancelling pygls' future of a sent request makes it fail on the reply."""
        gap = self.command_answered_at + COMMAND_GAP - time.monotonic()
        if gap > 0:  # ...and worse, lsp-mode drops it: so it goes in a read of its own
            await asyncio.sleep(gap)
        reply = asyncio.ensure_future(request)
        wait = NUDGE_AFTER
        while not (await asyncio.wait({reply}, timeout=wait))[0]:
            message = f"waiting for the editor to answer {what}"
            self.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Log, message=message))
            wait = NUDGE_EVERY
        return await asyncio.shield(reply)

    def client_supports_versioned_edits(self) -> bool:
        workspace = self.client_capabilities.workspace
        edit = workspace.workspace_edit if workspace else None
        return bool(edit and edit.document_changes)

    def client_supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)


class LspEditor:
    """The `completion.Editor` of one document, over LSP."""

    def __init__(self, server: ChatvimServer, uri: str) -> None:
        self.server = server
        self.uri = uri
        self.token: str | None = None

    async def apply(self, doc: TextDocument, edit: Edit) -> bool:
        start, end = lsp.Position(*edit.start), lsp.Position(*edit.end)
        text_edit = lsp.TextEdit(range=lsp.Range(start=start, end=end), new_text=edit.text)
        if edit.version is not None:
            identifier = lsp.OptionalVersionedTextDocumentIdentifier(uri=self.uri, version=edit.version)
            workspace_edit = lsp.WorkspaceEdit(
                document_changes=[lsp.TextDocumentEdit(text_document=identifier, edits=[text_edit])]
            )
        else:
            workspace_edit = lsp.WorkspaceEdit(changes={self.uri: [text_edit]})
        # No label: Neovim prints "Workspace edit <label>" for every edit.
        # Shielded: cancelling pygls' future of a sent request makes it fail on the reply.
        reply = self.server.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(edit=workspace_edit))
        result = await self.server.answer_to(reply, "an edit")
        return bool(result and result.applied)

    async def progress_begin(self, message: str) -> None:
        if not self.server.client_supports_progress():
            return
        token = f"chatvim-{uuid.uuid4().hex}"
        progress = self.server.work_done_progress
        try:
            await asyncio.wait_for(self.server.answer_to(progress.create_async(token), "a progress token"), 5)
        except Exception:
            log.warning("the editor did not accept a progress token", exc_info=True)
            return
        self.token = token
        progress.tokens[token].add_done_callback(lambda _: self.server.stop_completions(self.uri))
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


def _change_from(doc: TextDocument, event: lsp.TextDocumentContentChangeEvent) -> Change:
    if isinstance(event, lsp.TextDocumentContentChangePartial):
        start = doc.from_client(event.range.start.line, event.range.start.character)
        end = doc.from_client(event.range.end.line, event.range.end.character)
        return Change(start, max(start, end), event.text)
    return doc.minimal_change(event.text)


def _encoding_name(kind: lsp.PositionEncodingKind | str | None) -> str:
    """The encoding's name: utf-8, utf-16 or utf-32 (`str()` of the enum gives its Python name)."""
    name = kind.value if isinstance(kind, lsp.PositionEncodingKind) else kind
    return name if name in ENCODINGS else "utf-16"


def _short_name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1] or uri


def _file_path(uri: str) -> Path | None:
    path = to_fs_path(uri) if uri.startswith("file://") else None
    return Path(path).resolve() if path else None


def _is_markdown(doc: TextDocument) -> bool:
    return doc.language_id in MARKDOWN_IDS or doc.uri.lower().endswith(MARKDOWN_SUFFIXES)


def _uri_argument(args: tuple[Any, ...], *, optional: bool) -> str | None:
    if not args and optional:
        return None
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        usage = "[uri] or []" if optional else "[uri]"
        raise JsonRpcInvalidParams(message=f"expected the arguments {usage}, got {list(args)!r}"[:200])
    return args[0]


def _action(title: str, command: str, uri: str) -> lsp.CodeAction:
    return lsp.CodeAction(title=title, command=lsp.Command(title, command, arguments=[uri]))


class Refused(Exception):
    """`chatvim.complete` cannot start; the message is one line for the user."""


def create_server() -> ChatvimServer:
    server = ChatvimServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: ChatvimServer, params: lsp.InitializeParams) -> None:
        workspace = ls.protocol._workspace
        ls.position_encoding = _encoding_name(workspace.position_encoding if workspace else None)
        options = params.initialization_options
        if options:
            ls.init_options = ls.read_editor_options(options, "editor settings")
            editor = options.get("editor") if isinstance(options, dict) else None
            ls.hints = EDITOR_HINTS.get(editor, Hints()) if isinstance(editor, str) else Hints()

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: ChatvimServer, params: lsp.InitializedParams) -> None:
        # openai is imported when a chat is opened (llm.preload), not here: it
        # holds about 25 MB, which a session with no chat open should not pay.
        await ls.reread_workspace_configuration()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: ChatvimServer, params: lsp.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and isinstance(settings.get("chatvim"), dict):
            ls.settings_pushed += 1
            ls.workspace_options = ls.read_editor_options(settings["chatvim"], "editor settings")
        else:
            await ls.reread_workspace_configuration()

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION)
    def code_action(ls: ChatvimServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        # In chats only; while an answer streams, stop instead of complete
        # (the commands themselves work in any document).
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return []
        completion = ls.completions.get(doc.uri)
        if (completion is not None and completion.outcome is None) or doc.uri in ls.starting:
            return [_action("Chatvim: stop", STOP, doc.uri)]
        if completion is None and ls.is_chat(doc):  # (an ending answer: neither, for a moment)
            return [_action("Chatvim: complete", COMPLETE, doc.uri)]
        return []

    @server.command(COMPLETE)
    async def complete(ls: ChatvimServer, *args: Any) -> dict[str, Any]:
        # A refusal is the one message shown (showMessage) and a plain answer
        # saying so: an error answer too would be shown a second time by
        # Neovim, and as a raw dump by Vim's and Emacs' clients.
        uri = _uri_argument(args, optional=False)
        assert uri is not None
        try:
            started = await ls.start_completion(uri, ls.protocol.msg_id)
        except Refused as exc:
            ls.show(str(exc), error=True)
            return {"started": False, "reason": redact(str(exc))}
        ls.command_answered_at = time.monotonic()
        return {"started": started}

    @server.command(STOP)
    async def stop(ls: ChatvimServer, *args: Any) -> dict[str, int]:
        # async like `complete`: pygls runs both as tasks, in the order they came, so a
        # stop sent just after a complete finds the stream it started.
        stopped = ls.stop_completions(_uri_argument(args, optional=True))
        ls.command_answered_at = time.monotonic()
        return {"stopped": stopped}

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: ChatvimServer, *args: Any) -> None:
        # Answer only once every stream has ended its progress: after `exit` nothing more can be said.
        ls.stop_completions(None, Outcome.SHUTDOWN)
        if ls.runs:
            await asyncio.wait(ls.runs, timeout=SHUTDOWN_WAIT)

    return server
