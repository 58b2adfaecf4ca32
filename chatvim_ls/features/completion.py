"""Completion in a chat (`textDocument/completion`, `completion.py`): setting
keys, their values, delimiter lines and the paths after `@file:` (those
`context.py`'s rules allow), each replacing what was typed before the
cursor. In chats only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..asking import context_rules
from ..chat import parse_head
from ..completion import Item, items_at
from ..config import GlobalConfig
from ..context import Rules, choices
from ..textdoc import TextDocument
from .documents import written_path

if TYPE_CHECKING:
    from ..server import ChatvimServer

TRIGGERS = ["#", "=", '"', ":", " ", "/"]
_KINDS = {"setting": lsp.CompletionItemKind.Property, "value": lsp.CompletionItemKind.Value,
          "delimiter": lsp.CompletionItemKind.Keyword, "file": lsp.CompletionItemKind.File,
          "folder": lsp.CompletionItemKind.Folder}  # fmt: skip


def completion_items(
    doc: TextDocument, at: lsp.Position, config: GlobalConfig, rules: Rules
) -> list[lsp.CompletionItem]:
    position = doc.from_client(at.line, at.character)
    text = doc.line_text(position.line)
    before, after = text[: position.character], text[position.character :]
    head = parse_head(doc.lines, config.settings)
    found = items_at(head, position.line, before, after, config, lambda typed: choices(typed, rules))
    return [_item(doc, position.line, item, at, index) for index, item in enumerate(found)]


def _item(doc: TextDocument, line: int, item: Item, at: lsp.Position, index: int) -> lsp.CompletionItem:
    start = lsp.Position(line=at.line, character=doc.units(doc.line_text(line)[: item.start]))
    documentation = (
        lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=item.documentation) if item.documentation else None
    )
    return lsp.CompletionItem(
        label=item.label,
        kind=_KINDS[item.kind],
        detail=item.detail,
        documentation=documentation,
        filter_text=item.insert if item.kind == "value" else None,  # what is typed includes the quote
        sort_text=f"{index:04}" if item.kind in ("file", "folder") else None,  # folders first, as listed
        text_edit=lsp.TextEdit(range=lsp.Range(start=start, end=at), new_text=item.insert),
    )


def register(server: ChatvimServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=TRIGGERS))
    def complete_here(params: lsp.CompletionParams) -> list[lsp.CompletionItem]:
        doc = server.documents.get(params.text_document.uri)
        if doc is None or not server.documents.is_chat(doc):
            return []
        config = server.settings.usable_config()
        return completion_items(doc, params.position, config, context_rules(written_path(doc.uri), config.options))
