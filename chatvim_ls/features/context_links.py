"""`@file:` references in the editor: a document link to open each file the
last question would send (`textDocument/documentLink`), and a hover that
shows what will be sent (its size, first lines and a token estimate) or why
it will not (`context.py`'s one line). Nothing is read for a reference the
rules refuse. A line at a time: a reference inside an HTML comment that
spans lines is shown as if it were sent (it is not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..asking import context_rules
from ..context import ContextRefused, Reference, Rules, check, read, references, resolve
from ..problems import Position
from ..textdoc import TextDocument
from .documents import ParsedChat, written_path

if TYPE_CHECKING:
    from ..server import ChatvimServer

FIRST_LINES = 5
CHARS_PER_TOKEN = 4  # a rough estimate, as providers' tokenizers go for English and code


def _on_line(parsed: ParsedChat, line: int) -> list[Reference]:
    """The references on a line of a question, but in a code block (text there)."""
    if any(first <= line <= last for first, last in parsed.chat.code_blocks):
        return []
    return references(parsed.doc.line_text(line))


def _range(doc: TextDocument, line: int, reference: Reference) -> lsp.Range:
    text = doc.line_text(line)
    start = lsp.Position(line=line, character=doc.units(text[: reference.start]))
    end = lsp.Position(line=line, character=doc.units(text[: reference.end]))
    return lsp.Range(start=start, end=end)


def _rules(server: ChatvimServer, uri: str) -> Rules:
    return context_rules(
        written_path(uri), server.settings.usable_config().options
    )  # (broken config.md: the chat's folder only)


def explain(reference: Reference, rules: Rules, last_question: bool) -> str:
    """What a hover says about a reference: what it sends, or why it sends nothing."""
    if not last_question:
        return "Not sent now: only the question being sent (the last) sends its files"
    try:
        path, size = check(reference, rules)
        text = read(reference, path, rules.limit)
    except ContextRefused as exc:
        return f"Not sent: {exc}"
    first = "".join(text.splitlines(keepends=True)[:FIRST_LINES])
    first += "" if first.endswith("\n") or not first else "\n"
    fence = "~~~" if "```" in first else "```"
    summary = f"Sent with the question: `{path}`, {size:,} bytes, about {size // CHARS_PER_TOKEN:,} tokens"
    return f"{summary}\n\n{fence}\n{first}{fence}"


def reference_hover(server: ChatvimServer, uri: str, at: Position) -> lsp.Hover | None:
    """The hover on an `@file:` reference at `at`, if there is one."""
    parsed = server.documents.parsed(uri)
    if parsed is None:
        return None
    turn = next((t for t in parsed.chat.turns if t.start_line <= at.line <= t.end_line), None)
    if turn is None or turn.role != "user":
        return None
    reference = next((r for r in _on_line(parsed, at.line) if r.start <= at.character <= r.end), None)
    if reference is None:
        return None
    last = max(i for i, t in enumerate(parsed.chat.turns) if t.role == "user")
    text = explain(reference, _rules(server, uri), parsed.chat.turns[last] is turn)
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                     range=_range(parsed.doc, at.line, reference))  # fmt: skip


def register(server: ChatvimServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_LINK)
    def links(params: lsp.DocumentLinkParams) -> list[lsp.DocumentLink]:
        parsed = server.documents.parsed(params.text_document.uri)
        if parsed is None:
            return []
        rules = _rules(server, parsed.doc.uri)
        found = []
        for turn in (t for t in parsed.chat.turns if t.role == "user"):
            for line in range(turn.start_line, turn.end_line + 1):
                for reference in _on_line(parsed, line) if "@file:" in parsed.lines[line] else []:
                    try:
                        target = resolve(reference, rules).as_uri()
                    except ContextRefused:
                        continue  # (a link only where the rules allow the file)
                    found.append(lsp.DocumentLink(range=_range(parsed.doc, line, reference), target=target))
        return found
