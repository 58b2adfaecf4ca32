"""Hovers on a chat's settings (`textDocument/hover`, `hover.py`) and on its
`@file:` references (`context_links.py`). In chats only."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..chat import parse_head
from ..hover import hover_at
from .context_links import reference_hover

if TYPE_CHECKING:
    from ..server import ChatvimServer


def register(server: ChatvimServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        doc = server.documents.get(params.text_document.uri)
        if doc is None or not server.documents.is_chat(doc):
            return None
        at = doc.from_client(params.position.line, params.position.character)
        head = parse_head(doc.lines, server.settings.chat_defaults())
        found = hover_at(head, at, server.settings.config_or_error(), os.environ)
        if found is None:
            return reference_hover(server, doc.uri, at)
        text, place = found
        start, end = doc.to_client(place.start), doc.to_client(place.end)
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
            range=lsp.Range(start=lsp.Position(*start), end=lsp.Position(*end)),
        )
