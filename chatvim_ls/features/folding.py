"""Folds of a chat (`textDocument/foldingRange`): the settings, each turn,
each closed code block, each Thinking block (`outline.folds`). Documents that are not chats
have none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..outline import folds

if TYPE_CHECKING:
    from ..server import ChatvimServer

_KINDS = {"settings": lsp.FoldingRangeKind.Imports, "turn": lsp.FoldingRangeKind.Region,
          "code": lsp.FoldingRangeKind.Region, "thinking": lsp.FoldingRangeKind.Comment}  # fmt: skip


def register(server: ChatvimServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
    def folding(params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
        found = server.documents.parsed(params.text_document.uri)
        if found is None:
            return []
        return [lsp.FoldingRange(start_line=f.first_line, end_line=f.last_line, kind=_KINDS[f.kind])
                for f in folds(found.chat, found.lines)]  # fmt: skip
