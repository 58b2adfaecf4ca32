"""What each answer cost, as an inlay hint after its delimiter line
(`textDocument/inlayHint`): tokens out, time, tokens in and money where the
provider said (`Answer.cost`; the progress `end` says the same). Only for
answers written since the server started, and never in the text.

A hint is kept by line and carried across each change (`textdoc.Splice`);
a change to the delimiter line itself drops it. The editor is asked to
fetch hints again (`workspace/inlayHint/refresh`) when one is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..answer import Outcome
from ..problems import Position
from ..textdoc import Splice, TextDocument
from .documents import Listener

if TYPE_CHECKING:
    from ..server import ChatvimServer


@dataclass
class Hint:
    line: int  # the answer's delimiter line
    label: str


class Costs(Listener):
    def __init__(self, server: ChatvimServer) -> None:
        self.server = server
        self.hints: dict[str, list[Hint]] = {}

    def answer_ended(self, doc: TextDocument) -> None:
        answer = self.server.answers.last.get(doc.uri)
        parsed = self.server.documents.parsed(doc.uri)
        if (
            answer is None
            or parsed is None
            or answer.outcome not in (Outcome.DONE, Outcome.STOPPED)
            or not answer.tokens
        ):
            return
        turn = next((t for t in reversed(parsed.chat.turns) if t.role == "assistant"), None)
        if turn is None:
            return
        hints = [h for h in self.hints.get(doc.uri, []) if h.line != turn.start_line]
        self.hints[doc.uri] = [*hints, Hint(turn.start_line, answer.cost())]
        workspace = self.server.client_capabilities.workspace
        if workspace and workspace.inlay_hint and workspace.inlay_hint.refresh_support:
            self.server.workspace_inlay_hint_refresh(None)

    def changed(self, doc: TextDocument, splices: list[Splice] | None) -> None:
        hints = self.hints.get(doc.uri)
        if not hints:
            return
        if splices is None:
            self.hints.pop(doc.uri)
            return
        for splice in splices:
            hints = [moved for h in hints if (moved := _carried(h, splice)) is not None]
        self.hints[doc.uri] = hints

    def closed(self, uri: str) -> None:
        self.hints.pop(uri, None)

    def in_range(self, doc: TextDocument, first: int, last: int) -> list[lsp.InlayHint]:
        return [
            lsp.InlayHint(
                position=lsp.Position(line=h.line, character=doc.units(doc.line_text(h.line))),
                label=h.label,
                padding_left=True,
            )
            for h in self.hints.get(doc.uri, [])
            if first <= h.line <= last and h.line < len(doc.lines)
        ]


def _carried(hint: Hint, splice: Splice) -> Hint | None:
    """`hint` across a change; None if the change rewrote its line."""
    first, old_count = splice.first_line, len(splice.old_lengths)
    if hint.line < first:
        return hint
    if hint.line >= first + old_count:
        return Hint(hint.line + len(splice.new_lengths) - old_count, hint.label)
    line_start = sum(splice.old_lengths[: hint.line - first])  # in the window `apply` rewrote
    line_end = line_start + splice.old_lengths[hint.line - first]
    if splice.start < line_end and splice.old_end > line_start:
        return None
    return Hint(splice.map(Position(hint.line, 0), stick_after=True).line, hint.label)


def register(server: ChatvimServer) -> None:
    costs = Costs(server)
    server.documents.listeners.append(costs)

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
    def inlay_hints(params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        doc = server.documents.get(params.text_document.uri)
        if doc is None:
            return []
        return costs.in_range(doc, params.range.start.line, params.range.end.line)
