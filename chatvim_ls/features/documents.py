"""The open documents, as the editor reported them.

Each is a `textdoc.TextDocument`, edited in place on didChange. While an
answer streams into a document, its changes go to the answer instead
(`take_changes`): its writer tells its own edits from the user's and applies
both. The features that follow documents (an answer, diagnostics) are
`Listener`s, told after each open, change (with what it did to the lines:
`textdoc.Splice`s) and close, and when an answer starts and ends in it.
The features that read a whole chat on request get it parsed once per
version (`parsed`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from ..chat import Chat, has_delimiter_line, is_chat, parse_chat
from ..config import ConfigError
from ..llm import preload
from ..textdoc import Change, Splice, TextDocument, split_lines

if TYPE_CHECKING:
    from ..server import ChatvimServer

log = logging.getLogger(__name__)

MARKDOWN_IDS = ("markdown", "md", "chatvim")
MARKDOWN_SUFFIXES = (".md", ".markdown", ".chat")


class ChangeTaker(Protocol):
    """What a document's changes go to while an answer streams into it."""

    def apply_change(self, change: Change) -> None: ...
    def reported(self, version: int | None) -> None: ...


class Listener:
    """A feature that follows documents overrides what it needs."""

    def opened(self, doc: TextDocument) -> None:
        pass

    def changed(self, doc: TextDocument, splices: list[Splice] | None) -> None:  # None: too many to follow
        pass

    def answer_started(self, doc: TextDocument) -> None:
        pass

    def answer_ended(self, doc: TextDocument) -> None:
        """The answer that streamed into `doc` has ended: the document holds all of it."""

    def closed(self, uri: str) -> None:
        pass


@dataclass(frozen=True)
class ParsedChat:
    doc: TextDocument
    chat: Chat
    lines: list[str]  # the document's lines without their breaks, as parsed


class Documents:
    def __init__(self, server: ChatvimServer) -> None:
        self.server = server
        self.by_uri: dict[str, TextDocument] = {}
        self.parses: dict[str, tuple[int | None, ParsedChat]] = {}  # uri -> the last parse, for its version
        self.takers: dict[str, ChangeTaker] = {}
        self.listeners: list[Listener] = []
        self.chat_checks: dict[str, tuple[int | None, bool]] = {}  # uri -> (version, is a chat)

    def get(self, uri: str) -> TextDocument | None:
        return self.by_uri.get(uri)

    def take_changes(self, uri: str, taker: ChangeTaker | None) -> None:
        """Send `uri`'s changes to `taker` (None: apply them as they come)."""
        if taker is not None:
            self.takers[uri] = taker
        else:
            self.takers.pop(uri, None)
        doc = self.by_uri.get(uri)
        if doc is None:
            return
        for listener in self.listeners:
            _tell(listener.answer_started if taker is not None else listener.answer_ended, doc)

    # -- sync ----------------------------------------------------------------

    def open(self, item: lsp.TextDocumentItem) -> None:
        encoding = self.server.settings.position_encoding
        doc = TextDocument(item.uri, item.text, item.version, encoding=encoding, language_id=item.language_id)
        self.by_uri[item.uri] = doc
        if self.is_chat(doc):
            preload()  # get the provider client's code ready, off the event loop
        for listener in self.listeners:
            _tell(listener.opened, doc)

    def change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        doc = self.by_uri.get(params.text_document.uri)
        if doc is None:
            return
        taker = self.takers.get(doc.uri)
        for event in params.content_changes:
            change = _change_from(doc, event)
            log.debug("didChange v%s: %s", params.text_document.version, change)
            if taker is not None:
                taker.apply_change(change)
            else:
                doc.apply(change)
        doc.version = params.text_document.version
        if taker is not None:
            taker.reported(doc.version)
        splices = doc.take_splices()
        for listener in self.listeners:
            _tell(listener.changed, doc, splices)

    def close(self, uri: str) -> None:
        for listener in self.listeners:
            _tell(listener.closed, uri)
        self.by_uri.pop(uri, None)
        self.takers.pop(uri, None)  # (the answer stops; a copy opened again takes its own changes)
        self.chat_checks.pop(uri, None)
        self.parses.pop(uri, None)

    # -- chats ---------------------------------------------------------------

    def parsed(self, uri: str) -> ParsedChat | None:
        """The chat `uri` holds, parsed once per version (for the features
        that read all of it on request); None if it is not an open chat."""
        doc = self.by_uri.get(uri)
        if doc is None or not self.is_chat(doc):
            return None
        cached = self.parses.get(uri)
        if cached is None or cached[0] != doc.version:
            text = doc.text
            parsed = ParsedChat(doc, parse_chat(text, self.server.settings.chat_defaults()), split_lines(text)[0])
            cached = self.parses[uri] = (doc.version, parsed)
        return cached[1]

    def is_chat(self, doc: TextDocument) -> bool:
        """Whether a document is a chat (README, "Which files are chats"):
        under a `chat_dirs` folder, or a markdown file that `chat.is_chat`
        says is one. Once a chat, a document stays one while it has a
        delimiter line (parsing a big chat on every code action request is
        too slow)."""
        if not is_markdown(doc):
            return False
        try:
            config = self.server.settings.global_config()
        except ConfigError:
            return True  # the user will want to hear what is wrong with config.md
        path = file_path(doc.uri)
        folders = (*config.options.chat_dirs, config.options.new_chats_folder(os.environ).resolve())
        if path is not None and any(path.is_relative_to(folder) for folder in folders):
            return True
        version, known = self.chat_checks.get(doc.uri, (None, False))
        if version != doc.version:
            text = doc.text
            was_chat = known and has_delimiter_line(text, config.settings.delimiters)
            known = was_chat or is_chat(text, config.settings)
            self.chat_checks[doc.uri] = (doc.version, known)
        return known


def _tell(event: Callable[..., None], *args: object) -> None:
    """One listener's event: a bug in one feature must not stop the others (or the sync)."""
    try:
        event(*args)
    except Exception:
        log.exception("a feature failed on a document event")


def _change_from(doc: TextDocument, event: lsp.TextDocumentContentChangeEvent) -> Change:
    if isinstance(event, lsp.TextDocumentContentChangePartial):
        start = doc.from_client(event.range.start.line, event.range.start.character)
        end = doc.from_client(event.range.end.line, event.range.end.character)
        return Change(start, max(start, end), event.text)
    return doc.minimal_change(event.text)


def is_markdown(doc: TextDocument) -> bool:
    return doc.language_id in MARKDOWN_IDS or doc.uri.lower().endswith(MARKDOWN_SUFFIXES)


def file_path(uri: str) -> Path | None:
    """The file a URI names, resolved (None: not a file:// URI)."""
    path = written_path(uri)
    return path.resolve() if path else None


def written_path(uri: str) -> Path | None:
    """The file a URI names, as written: for `asking.context_rules`, which resolves it itself."""
    path = to_fs_path(uri) if uri.startswith("file://") else None
    return Path(path) if path else None


def short_name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1] or uri
