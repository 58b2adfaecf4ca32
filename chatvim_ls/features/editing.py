"""Help while writing a chat: completion (`completion.py`), hovers
(`hover.py`) and the code lens above the last question ("Complete", or
"Stop" while the answer streams; refreshed with `workspace/codeLens/refresh`
when that changes, where the editor supports it). In chats only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..chat import parse_head
from ..completion import Item, items_at
from ..config import ConfigError, GlobalConfig
from ..hover import hover_at
from ..outline import last_question
from ..textdoc import TextDocument
from .answering import COMPLETE, STOP
from .documents import Listener

if TYPE_CHECKING:
    from ..server import ChatvimServer

TRIGGERS = ["#", "=", '"', ":", " "]
_ITEM_KINDS = {"setting": lsp.CompletionItemKind.Property, "value": lsp.CompletionItemKind.Value,
               "delimiter": lsp.CompletionItemKind.Keyword}  # fmt: skip


class LensRefresh(Listener):
    """Asks the editor to fetch the code lenses again when an answer starts or ends."""

    def __init__(self, server: ChatvimServer) -> None:
        self.server = server

    def answer_started(self, doc: TextDocument) -> None:
        self._refresh()

    def answer_ended(self, doc: TextDocument) -> None:
        self._refresh()

    def _refresh(self) -> None:
        workspace = self.server.client_capabilities.workspace
        if workspace and workspace.code_lens and workspace.code_lens.refresh_support:
            self.server.workspace_code_lens_refresh(None)


def _config(server: ChatvimServer) -> GlobalConfig | ConfigError:
    try:
        return server.settings.global_config()
    except ConfigError as exc:
        return exc


def _chat(server: ChatvimServer, uri: str) -> TextDocument | None:
    doc = server.documents.get(uri)
    return doc if doc is not None and server.documents.is_chat(doc) else None


def completion_items(doc: TextDocument, at: lsp.Position, config: GlobalConfig) -> list[lsp.CompletionItem]:
    position = doc.from_client(at.line, at.character)
    text = doc.line_text(position.line)
    before, after = text[: position.character], text[position.character :]
    head = parse_head(doc.lines, config.settings)
    return [_item(doc, position.line, item, at) for item in items_at(head, position.line, before, after, config)]


def _item(doc: TextDocument, line: int, item: Item, at: lsp.Position) -> lsp.CompletionItem:
    start = lsp.Position(line=at.line, character=doc.units(doc.line_text(line)[: item.start]))
    documentation = (
        lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=item.documentation) if item.documentation else None
    )
    return lsp.CompletionItem(
        label=item.label,
        kind=_ITEM_KINDS[item.kind],
        detail=item.detail,
        documentation=documentation,
        filter_text=item.insert if item.kind == "value" else None,
        text_edit=lsp.TextEdit(range=lsp.Range(start=start, end=at), new_text=item.insert),
    )


def register(server: ChatvimServer) -> None:
    server.documents.listeners.append(LensRefresh(server))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=TRIGGERS))
    def complete_here(params: lsp.CompletionParams) -> list[lsp.CompletionItem]:
        doc = _chat(server, params.text_document.uri)
        config = _config(server)
        if doc is None:
            return []
        return completion_items(doc, params.position, config if isinstance(config, GlobalConfig) else GlobalConfig())

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        doc = _chat(server, params.text_document.uri)
        if doc is None:
            return None
        at = doc.from_client(params.position.line, params.position.character)
        found = hover_at(parse_head(doc.lines, server.settings.chat_defaults()), at, _config(server), os.environ)
        if found is None:
            return None
        text, place = found
        start, end = doc.to_client(place.start), doc.to_client(place.end)
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
            range=lsp.Range(start=lsp.Position(*start), end=lsp.Position(*end)),
        )

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS)
    def lenses(params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        parsed = server.documents.parsed(params.text_document.uri)
        line = last_question(parsed.chat) if parsed is not None else None
        if parsed is None or line is None:
            return []
        uri = parsed.doc.uri
        title, command = ("Stop", STOP) if server.answers.streaming(uri) else ("Complete", COMPLETE)
        here = lsp.Range(start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=0))
        return [lsp.CodeLens(range=here, command=lsp.Command(title=title, command=command, arguments=[uri]))]
