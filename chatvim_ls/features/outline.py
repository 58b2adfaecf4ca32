"""The outline (`textDocument/documentSymbol`) and folds
(`textDocument/foldingRange`) of a chat, from `outline.py`.

A chat is parsed once per version for both (an editor asks for them
together after a change). Documents that are not chats get none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..chat import Chat, parse_chat
from ..config import ConfigError
from ..outline import folds, sections
from ..settings import Settings
from ..textdoc import TextDocument, split_lines
from .documents import Listener

if TYPE_CHECKING:
    from ..server import ChatvimServer

_KINDS = {"settings": lsp.SymbolKind.Namespace}  # turns: String, as markdown headings are shown
_FOLD_KINDS = {"settings": lsp.FoldingRangeKind.Imports, "turn": lsp.FoldingRangeKind.Region,
               "code": lsp.FoldingRangeKind.Region}  # fmt: skip


class Parsed(Listener):
    """The last chat parsed per document, with its lines, for its version."""

    def __init__(self, server: ChatvimServer) -> None:
        self.server = server
        self.cache: dict[str, tuple[int | None, Chat, list[str]]] = {}

    def of(self, uri: str) -> tuple[TextDocument, Chat, list[str]] | None:
        doc = self.server.documents.get(uri)
        if doc is None or not self.server.documents.is_chat(doc):
            return None
        cached = self.cache.get(uri)
        if cached is None or cached[0] != doc.version:
            text = doc.text
            try:
                defaults = self.server.settings.global_config().settings
            except ConfigError:
                defaults = Settings()
            cached = (doc.version, parse_chat(text, defaults), split_lines(text)[0])
            self.cache[uri] = cached
        return doc, cached[1], cached[2]

    def closed(self, uri: str) -> None:
        self.cache.pop(uri, None)


Symbols = list[lsp.DocumentSymbol] | list[lsp.SymbolInformation]


def document_symbols(doc: TextDocument, chat: Chat, lines: list[str], hierarchical: bool) -> Symbols:
    symbols: list[lsp.DocumentSymbol] = []
    flat: list[lsp.SymbolInformation] = []
    for section in sections(chat, lines):
        whole = _range(doc, lines, section.first_line, section.last_line)
        head = _range(doc, lines, section.head_line, section.head_line)
        kind = _KINDS.get(section.kind, lsp.SymbolKind.String)
        symbols.append(lsp.DocumentSymbol(name=section.name, kind=kind, range=whole, selection_range=head))
        flat.append(
            lsp.SymbolInformation(name=section.name, kind=kind, location=lsp.Location(uri=doc.uri, range=whole))
        )
    return symbols if hierarchical else flat


def _range(doc: TextDocument, lines: list[str], first: int, last: int) -> lsp.Range:
    end = doc.units(lines[last]) if last < len(lines) else 0
    return lsp.Range(start=lsp.Position(line=first, character=0), end=lsp.Position(line=last, character=end))


def register(server: ChatvimServer) -> None:
    parsed = Parsed(server)
    server.documents.listeners.append(parsed)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(params: lsp.DocumentSymbolParams) -> Symbols:
        found = parsed.of(params.text_document.uri)
        if found is None:
            return []
        text_document = server.client_capabilities.text_document
        caps = text_document.document_symbol if text_document else None
        return document_symbols(*found, bool(caps and caps.hierarchical_document_symbol_support))

    @server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
    def folding(params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
        found = parsed.of(params.text_document.uri)
        if found is None:
            return []
        _, chat, lines = found
        return [lsp.FoldingRange(start_line=f.first_line, end_line=f.last_line, kind=_FOLD_KINDS[f.kind])
                for f in folds(chat, lines)]  # fmt: skip
