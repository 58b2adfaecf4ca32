"""Code lenses (`textDocument/codeLens`): above a chat's last question
"Complete", or "Stop" while the answer streams; above the last answer, when
nothing but an empty question follows it, "Regenerate". The editor is asked to fetch
it again (`workspace/codeLens/refresh`) when an answer starts and ends, where
it can be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..outline import last_question
from ..textdoc import TextDocument
from .answering import COMPLETE, REGENERATE, STOP, last_answer
from .documents import Listener

if TYPE_CHECKING:
    from ..server import ChatvimServer


class LensRefresh(Listener):
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


def register(server: ChatvimServer) -> None:
    server.documents.listeners.append(LensRefresh(server))

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS)
    def lenses(params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        parsed = server.documents.parsed(params.text_document.uri)
        line = last_question(parsed.chat) if parsed is not None else None
        if parsed is None or line is None:
            return []
        uri = parsed.doc.uri
        if server.answers.streaming(uri):
            return [_lens(line, "Stop", STOP, uri)]
        lenses = [_lens(line, "Complete", COMPLETE, uri)]
        answer = next((t for t in reversed(parsed.chat.turns) if t.role == "assistant"), None)
        if answer is not None and last_answer(parsed.doc, parsed.chat) is not None:
            lenses.append(_lens(answer.start_line, "Regenerate", REGENERATE, uri))
        return sorted(lenses, key=lambda lens: lens.range.start.line)


def _lens(line: int, title: str, command: str, uri: str) -> lsp.CodeLens:
    here = lsp.Range(start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=0))
    return lsp.CodeLens(range=here, command=lsp.Command(title=title, command=command, arguments=[uri]))
