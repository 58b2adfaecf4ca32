"""Diagnostics: what is wrong in a chat, or in config.md, while it is edited.

- Chats (`Documents.is_chat`) get `checks.ChatChecks`, carried across each
  change, plus what depends on the configuration (`checks.config_problems`)
  and each `@file:` reference of the last question that would be refused
  (`context.problems`: checked anew each time, as the files may change);
  config.md, when it is open, gets `checks.global_config_problems`.
- Pushed (`textDocument/publishDiagnostics`) on open and after each change,
  to every editor. The server offers no pull (`textDocument/diagnostic`):
  Neovim 0.11 pulls after every change, which while an answer streams is a
  pull and a `$/cancelRequest` more per token, and made token -> buffer p95
  4x (`python bench/latency.py`).
- While an answer streams into a chat, nothing is pushed: the document is
  in flux, and one notification per token would be waste. Its changes are
  not even read then (`unread`): the checks catch up on all of them at
  once, and the diagnostics follow, when the answer has ended
  (`answer_ended`).
- Source `chatvim`; errors stop `chatvim.complete`, warnings do not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..asking import context_rules
from ..checks import ChatChecks, config_problems, global_config_problems
from ..config import config_path
from ..context import problems as reference_problems
from ..problems import Position, Problem, Severity
from ..textdoc import Splice, TextDocument
from .documents import Listener, file_path, is_markdown, written_path

if TYPE_CHECKING:
    from ..server import ChatvimServer

SOURCE = "chatvim"
_SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error, Severity.WARNING: lsp.DiagnosticSeverity.Warning}


class Diagnostics(Listener):
    def __init__(self, server: ChatvimServer) -> None:
        self.server = server
        self.checks: dict[str, ChatChecks] = {}
        self.configs: set[str] = set()  # config.md, open
        self.unread: dict[str, list[Splice]] = {}  # a chat's changes while an answer streams into it
        server.documents.listeners.append(self)

    def opened(self, doc: TextDocument) -> None:
        self.unread.pop(doc.uri, None)  # (of a copy opened before, never closed)
        if _is_config_md(doc):
            self.configs.add(doc.uri)
        elif self.server.documents.is_chat(doc):
            self.checks[doc.uri] = ChatChecks(doc, self.server.settings.chat_defaults())
        self._push(doc)

    def changed(self, doc: TextDocument, splices: list[Splice] | None) -> None:
        checks = self.checks.get(doc.uri)
        if checks is not None:
            if doc.uri in self.server.documents.takers and splices is not None:
                self.unread.setdefault(doc.uri, []).extend(splices)  # read when the answer ends
                return
            unread = self.unread.pop(doc.uri, [])
            checks.update(doc, None if splices is None else [*unread, *splices])
        elif doc.uri not in self.configs:
            if not self._may_have_become_a_chat(doc, splices) or not self.server.documents.is_chat(doc):
                return
            self.checks[doc.uri] = ChatChecks(doc, self.server.settings.chat_defaults())
        if doc.uri not in self.server.documents.takers:  # no answer streaming into it
            self._push(doc)

    def answer_ended(self, doc: TextDocument) -> None:
        if (checks := self.checks.get(doc.uri)) is not None and doc.uri in self.unread:
            checks.update(doc, self.unread.pop(doc.uri))
        self._push(doc)

    def closed(self, uri: str) -> None:
        followed = self.checks.pop(uri, None) is not None or uri in self.configs
        self.unread.pop(uri, None)
        self.configs.discard(uri)
        if followed:
            self.server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # -- what is wrong -----------------------------------------------------------

    def diagnostics(self, doc: TextDocument) -> list[lsp.Diagnostic]:
        if doc.uri in self.configs:
            path = file_path(doc.uri) or Path("config.md")
            problems = global_config_problems(doc.text, path)
        elif (checks := self.checks.get(doc.uri)) is not None:
            config = self.server.settings.config_or_error()
            problems = [*checks.problems(doc), *config_problems(checks.chat, config, os.environ)]
            if (question := checks.question(doc)) is not None:
                rules = context_rules(written_path(doc.uri), self.server.settings.usable_config().options)
                lines = [doc.line_text(i) for i in range(question[0], question[1] + 1)]
                problems += reference_problems(lines, question[0], rules)
        else:
            return []
        return [_diagnostic(doc, p) for p in problems]

    def _push(self, doc: TextDocument) -> None:
        """Even when nothing changed: flymake (eglot, lsp-mode) waits for a report after every change."""
        if doc.uri not in self.checks and doc.uri not in self.configs:
            return
        self.server.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=doc.uri, diagnostics=self.diagnostics(doc), version=doc.version)
        )

    def _may_have_become_a_chat(self, doc: TextDocument, splices: list[Splice] | None) -> bool:
        """Cheaply: a change to the first lines (front matter), or a new delimiter line."""
        if not is_markdown(doc):
            return False
        if splices is None:
            return True
        delimiters = self.server.settings.chat_defaults().delimiters
        for splice in splices:
            if splice.first_line <= 1:
                return True
            stop = min(splice.first_line + len(splice.new_lengths), len(doc.lines))
            if any(delimiters.role_of(doc.line_text(i)) for i in range(splice.first_line, stop)):
                return True
        return False


def _is_config_md(doc: TextDocument) -> bool:
    path = file_path(doc.uri)
    return path is not None and path == config_path(os.environ).resolve()


def _diagnostic(doc: TextDocument, problem: Problem) -> lsp.Diagnostic:
    return lsp.Diagnostic(
        range=lsp.Range(start=_position(doc, problem.range.start), end=_position(doc, problem.range.end)),
        message=problem.message,
        severity=_SEVERITY[problem.severity],
        source=SOURCE,
    )


def _position(doc: TextDocument, pos: Position) -> lsp.Position:
    line = min(pos.line, len(doc.lines) - 1)
    character = min(pos.character, len(doc.line_text(line)))
    return lsp.Position(*doc.to_client(Position(line, character)))


def register(server: ChatvimServer) -> None:
    Diagnostics(server)
