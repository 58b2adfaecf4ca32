"""The language server, assembled from its features (`features/`).

`ChatvimServer` holds what the features share: the open documents
(`features.documents.Documents`), what the editor told us
(`features.configuration.EditorSettings`) and the answers streaming
(`features.answering.Answers`), plus the ways of speaking to the user:
`show` (one short line, `messages.py`) and `log_detail` (what the line
leaves out). Each feature module registers its own handlers (and its code
actions, `code_actions`, offered together); this module only builds the
server from them.

Document sync is pygls' builtin (didOpen, didChange, didClose), overridden
here: the server keeps its own copy of each document, edited in place (pygls'
workspace copy re-joins the whole text on every change).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import FeatureNotificationError, JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCRequestMessage, LanguageServerProtocol, lsp_method

from . import __version__
from .features import (
    answering,
    code_lens,
    completion,
    configuration,
    context_links,
    costs,
    diagnostics,
    documents,
    folding,
    hover,
    new_chat,
    symbols,
)
from .messages import WIDTH, one_line, shorten
from .secrets import redact
from .textdoc import TextDocument

log = logging.getLogger(__name__)
T = TypeVar("T")
#: A feature's code actions for a document (`code_actions`).
CodeActions = Callable[[TextDocument, lsp.CodeActionParams], list[lsp.CodeAction]]

_rpc_log = logging.getLogger("pygls.protocol.json_rpc")  # (where pygls logs each message)
NUDGE_AFTER = 0.25  # seconds without an answer before the editor is sent a log line (`answer_to`)
NUDGE_EVERY = 2.0  # ...and then again
COMMAND_GAP = 0.05  # seconds between answering a command and sending the editor a request (`answer_to`)


_DOCUMENT_SYNC = frozenset({lsp.TEXT_DOCUMENT_DID_OPEN, lsp.TEXT_DOCUMENT_DID_CHANGE, lsp.TEXT_DOCUMENT_DID_CLOSE})


class ChatvimProtocol(LanguageServerProtocol):
    """pygls' protocol with our own document sync and a `$/cancelRequest` hook."""

    _server: ChatvimServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_ids = itertools.count(1)  # (`send_request_async`)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        log.debug("didOpen %s v%s", params.text_document.uri, params.text_document.version)
        self._server.documents.open(params.text_document)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        self._server.documents.change(params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        self._server.documents.close(params.text_document.uri)

    def handle_message(self, message: Any) -> None:
        """pygls' own, but for how a message's kind is told: pygls asks
        `isinstance` of runtime Protocols (`RPCRequest`, …), which on Python
        3.11 cost a twentieth of the server's CPU per token (`python
        bench/tokens.py --profile`); here their members are looked for."""
        if message.jsonrpc != self.VERSION or (self._shutdown and getattr(message, "method", "") != lsp.EXIT):
            super().handle_message(message)  # (its warnings)
            return
        context = contextvars.copy_context()
        if hasattr(message, "method") and hasattr(message, "params"):
            if hasattr(message, "id"):
                _rpc_log.debug("Request %r received", message.method)
                context.run(self._handle_request, message.id, message.method, message.params)
            else:
                _rpc_log.debug("Notification %r received", message.method)
                context.run(self._handle_notification, message.method, message.params)
        elif hasattr(message, "result"):
            _rpc_log.debug("Response message received.")
            context.run(self._handle_response, message.id, message.result)
        else:
            _rpc_log.debug("Error message received.")
            context.run(self._handle_response, message.id, None, message.error)

    def _handle_notification(self, method_name: str, params: Any) -> None:
        """pygls' own, but the document sync is simply called: pygls runs each
        handler under a thread-safe future keyed by a `uuid4` (a read of the
        OS's randomness), and the editor sends a didChange per token."""
        if method_name not in _DOCUMENT_SYNC:
            super()._handle_notification(method_name, params)
            return
        try:
            self.fm.builtin_features[method_name](params)  # (ours: the `lsp_method`s above)
        except Exception:  # as pygls reports it
            self._server._report_server_error(JsonRpcInternalError.of(sys.exc_info()), FeatureNotificationError)

    def send_request_async(self, method: str, params: Any | None = None, msg_id: Any | None = None) -> Any:
        """pygls' own, but the reply is awaited on an asyncio future, the id
        is a count, and `params` may be a dict ready for JSON. pygls books a
        thread-safe future and wraps it, so every reply crossed to the loop
        through its self-pipe (a write, a wakeup and a read per edit, in a
        server of one thread), and draws each id from `os.urandom`."""
        if msg_id is None:
            msg_id = f"chatvim-{next(self._request_ids)}"
        _rpc_log.debug("Sending request with id %r: %s", msg_id, method)
        request_type = self.get_message_type(method) or JsonRPCRequestMessage
        future = asyncio.get_running_loop().create_future()
        self._request_futures[msg_id] = future  # type: ignore[assignment]  # (its replies only set_result)
        self._result_types[msg_id] = self.get_result_type(method)
        if isinstance(params, dict):  # as JSON has it already: nothing to unstructure (an edit per token)
            self._send_data({"id": msg_id, "params": params, "method": method, "jsonrpc": self.VERSION})
        else:
            self._send_data(request_type(id=msg_id, method=method, params=params, jsonrpc=self.VERSION))
        return future

    def _handle_response(self, msg_id: Any, result: Any | None = None, error: Any | None = None) -> None:
        """pygls' own, but a reply to a request no longer awaited (the wait
        given up, `ChatvimServer.answer_to`) is dropped: pygls would set it on
        the cancelled future, which raises."""
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            del self._request_futures[msg_id]
            _rpc_log.debug("Reply to %r, no longer awaited: dropped", msg_id)
            return
        super()._handle_response(msg_id, result, error)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        # `chatvim.complete` answers at once and streams on: from the user's side the
        # request still runs, so its cancel stops the stream (pygls alone would not).
        stopped = self._server.answers.stop_request(msg_id)
        if not stopped or msg_id in self._request_futures:
            super()._handle_cancel_notification(msg_id)


class ChatvimServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("chatvim-ls", __version__, protocol_cls=ChatvimProtocol)
        self.settings = configuration.EditorSettings(self)
        self.documents = documents.Documents(self)
        self.answers = answering.Answers(self)
        self.code_actions: list[CodeActions] = []  # each feature's, offered in this order
        self.command_answered_at = 0.0  # monotonic time of the last executeCommand answer

    def show(self, message: str, *, error: bool) -> None:
        """Tell the user of a problem, once, in one line (`messages`). No
        "chatvim:" in front: editors name the server themselves."""
        self._message(lsp.MessageType.Error if error else lsp.MessageType.Warning, message)

    def tell(self, message: str) -> None:
        """Tell the user something that is no problem, the same way."""
        self._message(lsp.MessageType.Info, message)

    def _message(self, kind: lsp.MessageType, message: str) -> None:
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

    def command_answered(self) -> None:
        self.command_answered_at = time.monotonic()

    async def answer_to(self, send: Callable[[], Awaitable[T]], what: str) -> T:
        """The editor's answer to the request that `send` sends. Emacs' JSON-RPC
        (eglot and lsp-mode on Emacs 28 and 29) leaves a request unread when it
        comes in the same read as the answer Emacs was waiting for (to the
        user's `executeCommand`), until something more arrives: so a line for
        the editor's log is sent while the answer is late, and no request
        goes out in the first `COMMAND_GAP` after a command's answer. Not
        shielded: a reply that comes after the wait was given up is dropped
        (`ChatvimProtocol._handle_response`), and a shield cost the loop a
        turn more per edit (the reply woke the shield, and it the writer)."""
        gap = self.command_answered_at + COMMAND_GAP - time.monotonic()
        if gap > 0:  # ...and worse, lsp-mode drops it: so it goes in a read of its own
            await asyncio.sleep(gap)
        reply = asyncio.ensure_future(send())
        stop_nudging = self._nudge(what)
        try:
            return await reply
        finally:  # answered, or the wait given up
            stop_nudging()

    def _nudge(self, what: str) -> Callable[[], None]:
        """A line for the editor's log after `NUDGE_AFTER`, and every
        `NUDGE_EVERY` after that, until the function returned is called
        (`answer_to`). A timer of the loop's: an edit is sent per token, and
        `asyncio.wait` with a timeout cost a future and a timer more per edit."""
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def nudge() -> None:
            nonlocal timer
            message = f"waiting for the editor to answer {what}"
            self.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Log, message=message))
            timer = loop.call_later(NUDGE_EVERY, nudge)

        timer = loop.call_later(NUDGE_AFTER, nudge)
        return lambda: timer.cancel()


FEATURES = (
    configuration,
    answering,
    new_chat,
    diagnostics,
    symbols,
    folding,
    completion,
    hover,
    code_lens,
    costs,
    context_links,
)


def create_server() -> ChatvimServer:
    server = ChatvimServer()
    for feature in FEATURES:
        feature.register(server)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION)
    def code_action(params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        doc = server.documents.get(params.text_document.uri)
        return [action for actions in server.code_actions for action in actions(doc, params)] if doc else []

    return server
