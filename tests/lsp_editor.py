"""A test editor over real LSP: applies the server's edits to its own copy
and sends didChange back, as a real editor does.

`strict=True` refuses a versioned edit whose version is not current (Helix);
otherwise edits apply at their coordinates whatever the version (VS Code).
`delay` holds each didChange back that many seconds (Neovim's debounce).
"""

from __future__ import annotations

import asyncio
import re

from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

_BREAK = re.compile(r"\r\n|\r|\n")


class EditorCopy:
    def __init__(self, client: LanguageClient, uri: str, text: str, *, strict: bool = True, delay: float = 0.0) -> None:
        self.client = client
        self.uri = uri
        self.text = text
        self.version = 1
        self.strict = strict
        self.delay = delay
        self.edits: list[lsp.ApplyWorkspaceEditParams] = []
        self.changed = asyncio.Event()
        self.encoding = "utf-16"

    def open(self) -> None:
        self.encoding = str(getattr(self.client, "position_encoding", None) or "utf-16")
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=self.uri, language_id="markdown", version=self.version, text=self.text
                )
            )
        )

    # -- positions --------------------------------------------------------------

    def offset(self, pos: lsp.Position) -> int:
        starts = [0] + [m.end() for m in _BREAK.finditer(self.text)]
        if pos.line >= len(starts):
            return len(self.text)
        start = starts[pos.line]
        end = starts[pos.line + 1] if pos.line + 1 < len(starts) else len(self.text)
        line = self.text[start:end].rstrip("\r\n")
        units = 0
        for index, ch in enumerate(line):
            width = {"utf-8": len(ch.encode()), "utf-32": 1}.get(self.encoding, 2 if ord(ch) > 0xFFFF else 1)
            if units + width > pos.character:
                return start + index
            units += width
        return start + len(line)

    def position(self, offset: int) -> lsp.Position:
        before = self.text[:offset]
        breaks = list(_BREAK.finditer(before))
        line_start = breaks[-1].end() if breaks else 0
        prefix = before[line_start:]
        if self.encoding == "utf-8":
            units = len(prefix.encode())
        elif self.encoding == "utf-32":
            units = len(prefix)
        else:
            units = len(prefix.encode("utf-16-le")) // 2
        return lsp.Position(line=len(breaks), character=units)

    # -- changes ------------------------------------------------------------------

    def replace(self, start: int, end: int, new: str) -> None:
        change = lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start=self.position(start), end=self.position(end)), text=new
        )
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        params = lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[change],
        )
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self.client.text_document_did_change, params)
        else:
            self.client.text_document_did_change(params)
        self.changed.set()

    def type(self, offset: int, text: str) -> None:
        self.replace(offset, offset, text)

    def apply(self, params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        self.edits.append(params)
        edit = params.edit
        if edit.document_changes:
            (change,) = edit.document_changes
            assert isinstance(change, lsp.TextDocumentEdit)
            if self.strict and change.text_document.version not in (None, self.version):
                return lsp.ApplyWorkspaceEditResult(applied=False, failure_reason="outdated workspace edit")
            text_edits = change.edits
        else:
            assert edit.changes is not None
            text_edits = edit.changes[self.uri]
        for text_edit in sorted(text_edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            assert isinstance(text_edit, lsp.TextEdit)
            self.replace(self.offset(text_edit.range.start), self.offset(text_edit.range.end), text_edit.new_text)
        return lsp.ApplyWorkspaceEditResult(applied=True)
