"""The outline of a chat (`textDocument/documentSymbol`): one symbol for the
settings and one per turn (`outline.sections`), whole ranges, the cursor on
the delimiter line. Flat `SymbolInformation` for a client that has no
hierarchical symbols. Documents that are not chats have none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..chat import Chat
from ..outline import sections
from ..textdoc import TextDocument

if TYPE_CHECKING:
    from ..server import ChatvimServer

_KINDS = {"settings": lsp.SymbolKind.Namespace}  # turns: String, as markdown headings are shown
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
    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(params: lsp.DocumentSymbolParams) -> Symbols:
        found = server.documents.parsed(params.text_document.uri)
        if found is None:
            return []
        text_document = server.client_capabilities.text_document
        caps = text_document.document_symbol if text_document else None
        hierarchical = bool(caps and caps.hierarchical_document_symbol_support)
        return document_symbols(found.doc, found.chat, found.lines, hierarchical)
