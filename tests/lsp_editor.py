"""A test editor over real LSP: applies the server's edits to its own copy
and sends didChange back, as a real editor does. Plus the small helpers the
over-the-wire tests share.

How a versioned edit whose version is not current is handled (`mode`):
- "strict" refuses it (Helix),
- "drop" answers `applied: true` and does nothing (Neovim),
- "lax" applies it at its coordinates anyway (VS Code).
Unversioned edits always apply at their coordinates.

`delay` holds each didChange back that many seconds (Neovim's debounce).
Under the neovim preset the copy also keeps a final line break as Neovim
does: text inserted after it gets a line break of its own.
`race` types something just before the next server edit is applied, so the
edit meets a document that moved on: the race a person wins now and then.

Every character remembers who wrote it ("doc", "user" or "answer"), so a
test can check that the answer is whole and that no user text was lost.
"""

from __future__ import annotations

import ast
import asyncio
import json
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any, TypeAlias, cast

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from .fake_provider import FIXTURES, FakeProvider, Scenario

_BREAK = re.compile(r"\r\n|\r|\n")
QUESTION = '+++\nmodel = "m"\nprovider = "fake"\n+++\n# === USER ===\n\nWhat is 1 + 1?\n'
OPENING = "\n# === ASSISTANT ===\n\n"
CLOSING = "\n\n# === USER ===\n\n"
WorkDoneProgress: TypeAlias = lsp.WorkDoneProgressBegin | lsp.WorkDoneProgressReport | lsp.WorkDoneProgressEnd


def written(answer: str) -> str:
    """What the server writes for `answer` into a chat that ends with one line
    break: the answer goes before that line break, which stays last."""
    return "\n" + OPENING + answer + CLOSING[:-1]


class EditorClient(LanguageClient):
    """pytest-lsp's test client playing an editor of `preset` (pytest-lsp's
    capabilities): it holds the documents it has open (`editors`), applies
    the server's edits to them, and counts the server's code lens and inlay hint refreshes
    (pytest-lsp's own client keeps messages, diagnostics, shown documents)."""

    def __init__(self, preset: str = "neovim@0.11") -> None:
        super().__init__(converter_factory=default_converter)
        # pytest-lsp's own, but for diagnostics pushed: also kept in order (`pushes`)
        register_lsp_features(self, {m: f for m, f in DEFAULT_CLIENT_FEATURES.items()
                                     if m != lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS})  # fmt: skip
        self.preset = preset
        self.editors: dict[str, EditorCopy] = {}
        self.position_encoding: str = "utf-16"
        self.code_lens_refreshes = 0
        self.inlay_hint_refreshes = 0
        self.pushes: list[lsp.PublishDiagnosticsParams] = []  # every diagnostics push, in order
        self.shut_down = False  # a test shut the server down itself

        @self.feature(lsp.WORKSPACE_APPLY_EDIT)
        async def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
            editor = self.editors[_edited_uri(params)]
            if editor.apply_delay:  # an editor slow to apply edits
                editor.applying += 1
                editor.most_applying = max(editor.most_applying, editor.applying)
                await asyncio.sleep(editor.apply_delay)
                editor.applying -= 1
            return editor.apply(params)

        @self.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics_pushed(params: lsp.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = params.diagnostics
            self.pushes.append(params)

        @self.feature(lsp.WORKSPACE_CODE_LENS_REFRESH)
        def refresh_code_lenses(params: None) -> None:
            self.code_lens_refreshes += 1

        @self.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
        def refresh_inlay_hints(params: None) -> None:
            self.inlay_hint_refreshes += 1

    def preset_capabilities(self) -> lsp.ClientCapabilities:
        return client_capabilities(self.preset)

    async def start_session(self, capabilities: lsp.ClientCapabilities, options: object) -> lsp.InitializeResult:
        result = await self.initialize_session(
            lsp.InitializeParams(capabilities=capabilities, initialization_options=options)
        )
        kind = result.capabilities.position_encoding or "utf-16"
        self.position_encoding = getattr(kind, "value", kind)
        return result


def _edited_uri(params: lsp.ApplyWorkspaceEditParams) -> str:
    if params.edit.changes:
        return next(iter(params.edit.changes))
    change = (params.edit.document_changes or [])[0]
    assert isinstance(change, lsp.TextDocumentEdit)
    return change.text_document.uri


class EditorCopy:
    def __init__(self, client: EditorClient, uri: str, text: str, *, mode: str = "strict",
                 delay: float = 0.0) -> None:  # fmt: skip
        assert mode in ("strict", "drop", "lax")
        self.client = client
        self.uri = uri
        self.text = text
        self.owners = ["doc"] * len(text)
        self.version = 1
        self.mode = mode
        self.delay = delay
        self.edits: list[lsp.ApplyWorkspaceEditParams] = []
        self.lost: list[str] = []  # user or document text a server edit deleted
        self.race: Callable[[], None] | None = None
        self.apply_delay = 0.0  # seconds each server edit takes to apply
        self.applying = self.most_applying = 0  # edits being applied now, and at most at once
        self.silent = False  # apply edits but send no didChange (Neovim 0.11 after a crash, see lua/chatvim/lsp.lua)
        self.encoding = "utf-16"
        self.language_id = "markdown"
        self.keeps_final_line_break = client.preset.startswith("neovim")

    def open(self) -> None:
        self.client.editors[self.uri] = self
        self.encoding = self.client.position_encoding
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=self.uri, language_id=self.language_id, version=self.version, text=self.text
                )
            )
        )

    def close(self) -> None:
        self.client.text_document_did_close(
            lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=self.uri))
        )
        self.client.editors.pop(self.uri, None)

    def answer(self) -> str:
        """Everything the server wrote, in document order."""
        return "".join(ch for ch, owner in zip(self.text, self.owners, strict=True) if owner == "answer")

    def answer_is_after_the_question(self) -> bool:
        """No document text after the answer's start (but the final line break, which stays last)."""
        if "answer" not in self.owners:
            return True
        start = self.owners.index("answer")
        return all(o != "doc" or c in "\r\n" for c, o in zip(self.text[start:], self.owners[start:], strict=True))

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
            width = {"utf-8": len(ch.encode()), "utf-32": 1, "utf-16": 2 if ord(ch) > 0xFFFF else 1}[self.encoding]
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

    def replace(self, start: int, end: int, new: str, owner: str = "user") -> None:
        change = lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start=self.position(start), end=self.position(end)), text=new
        )
        if owner == "answer":
            self.lost += [self.text[i] for i in range(start, end) if self.owners[i] != "answer"]
        self.text = self.text[:start] + new + self.text[end:]
        self.owners[start:end] = [owner] * len(new)
        self.version += 1
        params = lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[change],
        )
        if self.silent:
            pass
        elif self.delay:
            asyncio.get_running_loop().call_later(self.delay, self.client.text_document_did_change, params)
        else:
            self.client.text_document_did_change(params)

    def type(self, offset: int, text: str) -> None:
        self.replace(offset, offset, text)

    def delete_own_text(self, offset: int, length: int) -> None:
        """Delete up to `length` characters from `offset`, stopping at the answer
        (a user deleting the answer would leave nothing to check)."""
        end = offset
        while end < len(self.text) and end - offset < length and self.owners[end] != "answer":
            end += 1
        if end > offset:
            self.replace(offset, end, "")

    def apply(self, params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        self.edits.append(params)
        if self.race is not None:
            race, self.race = self.race, None
            race()
        edit = params.edit
        if edit.document_changes:
            (change,) = edit.document_changes
            assert isinstance(change, lsp.TextDocumentEdit)
            if change.text_document.version not in (None, self.version):
                if self.mode == "strict":
                    return lsp.ApplyWorkspaceEditResult(applied=False, failure_reason="outdated workspace edit")
                if self.mode == "drop":
                    return lsp.ApplyWorkspaceEditResult(applied=True)
            text_edits = change.edits
        else:
            assert edit.changes is not None
            text_edits = edit.changes[self.uri]
        for text_edit in sorted(text_edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            assert isinstance(text_edit, lsp.TextEdit)
            start, end = self.offset(text_edit.range.start), self.offset(text_edit.range.end)
            new_text = text_edit.new_text
            if self.keeps_final_line_break and start == len(self.text) and self.text.endswith("\n"):
                new_text += "\n"  # Neovim's buffer is lines: a line inserted after the last one ends too
            self.replace(start, end, new_text, owner="answer")
        return lsp.ApplyWorkspaceEditResult(applied=True)


# -- helpers for the tests ------------------------------------------------------------


def fixture_text(name: str, field: str = "content") -> str:
    """The answer text a recorded stream carries (or, `reasoning_content`, its thinking)."""
    text = ""
    for line in (FIXTURES / name).read_text().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                content = choice["delta"].get(field) or ""
                if isinstance(content, list):
                    content = "".join(part.get("text", "") for part in content if part.get("type") == "text")
                text += content
    return text


def open_chat(client: EditorClient, text: str = QUESTION, name: str = "chat.md", **options: object) -> EditorCopy:
    editor = EditorCopy(client, f"file:///tmp/{name}", text, **options)  # type: ignore[arg-type]
    editor.open()
    return editor


async def complete(client: EditorClient, editor: EditorCopy) -> object:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.complete", arguments=[editor.uri])
    )


async def refused(client: EditorClient, editor: EditorCopy) -> str:
    """Ask for an answer that the server refuses; the reason it gives."""
    result = await complete(client, editor)
    assert isinstance(result, dict) and result["started"] is False, result
    return str(result["reason"])


async def stop(client: EditorClient, *uris: str) -> object:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.stop", arguments=list(uris))
    )


def progress_of(client: EditorClient) -> list[WorkDoneProgress]:
    (token,) = client.progress_reports
    # pytest-lsp annotates them ProgressParams, but keeps the values structured (Begin, Report, End)
    return cast("list[WorkDoneProgress]", client.progress_reports[token])


# `...`, not `[]`: mypy types no lambda with defaults (`lambda editor=editor: ...`) against `[]` (python/mypy#12557)
async def wait_until(predicate: Callable[..., object], timeout: float = 10.0) -> None:
    """Wait for a condition that an event will make true (polls the client's state)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.01)


def ended(client: EditorClient) -> bool:
    return streams_ended(client) > 0


def streams_ended(client: EditorClient) -> int:
    """How many progress tokens have ended."""
    return sum(any(isinstance(v, lsp.WorkDoneProgressEnd) for v in r) for r in client.progress_reports.values())


def closing_written(editor: EditorCopy) -> bool:
    return editor.text.endswith(CLOSING)


def errors(client: EditorClient) -> list[str]:
    """The error messages the server showed (window/showMessage)."""
    return [m.message for m in client.messages if m.type == lsp.MessageType.Error]


async def stream_recorded(client: EditorClient, fake: FakeProvider, name: str) -> tuple[EditorCopy, str]:
    """Complete a chat against the recorded stream `name`; the editor and the answer text it carries."""
    fake.scenarios["m"] = Scenario.replay(name)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    return editor, fixture_text(name)


async def diagnostics_when(
    client: EditorClient, editor: EditorCopy, check: Callable[[list[lsp.Diagnostic]], bool]
) -> list[lsp.Diagnostic]:
    """The diagnostics the server last pushed for the document as the editor
    has it now (its version), once `check` holds for them."""

    def latest() -> list[lsp.Diagnostic] | None:
        push = next((p for p in reversed(client.pushes) if p.uri == editor.uri), None)
        return list(push.diagnostics) if push is not None and push.version == editor.version else None

    await wait_until(lambda: (found := latest()) is not None and check(found))
    return latest() or []


async def actions_at(client: EditorClient, editor: EditorCopy, selection: lsp.Range) -> list[lsp.CodeAction]:
    """The code actions offered for `selection`."""
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=editor.uri),
            range=selection,
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    found = []
    for action in actions or []:
        if isinstance(action, lsp.Command) and action.command.startswith("{"):
            # pytest-lsp's converter reads a CodeAction as a Command holding it as text
            action = lsp.CodeAction(title=action.title, command=lsp.Command(**ast.literal_eval(action.command)))
        assert isinstance(action, lsp.CodeAction), action
        found.append(action)
    return found


class Replies:
    """An editor's end of a server's pipes, with no LSP library in between
    (for what one would hide: bytes that are not a message, the log):
    messages sent, replies awaited by id."""

    def __init__(self, server: subprocess.Popen[bytes] | tuple[IO[bytes], IO[bytes]]) -> None:
        """`server`: a process started with pipes, or its stdin and stdout as the editor holds them."""
        stdin, stdout = (server.stdin, server.stdout) if isinstance(server, subprocess.Popen) else server
        assert stdin is not None and stdout is not None
        self.stdin, self.replies = stdin, queue.Queue[dict[str, Any]]()
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()
        self.seen: dict[object, dict[str, Any]] = {}

    def send(self, *messages: dict[str, object]) -> None:
        self.stdin.write(b"".join(framed(m) for m in messages))
        self.stdin.flush()

    def of(self, id_: int) -> dict[str, Any]:
        while id_ not in self.seen:
            message = self.replies.get(timeout=30)
            self.seen[message.get("id")] = message
        return self.seen[id_]

    def _read(self, stdout: IO[bytes]) -> None:
        while header := stdout.readline():
            if header.lower().startswith(b"content-length:"):
                length = int(header.split(b":")[1])
                while stdout.readline().strip():
                    pass
                self.replies.put(json.loads(stdout.read(length)))


def framed(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
