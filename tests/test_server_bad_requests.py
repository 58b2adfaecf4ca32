"""Bad requests over real stdio: each gets a JSON-RPC error or is a clean
no-op; the server never crashes, never leaves a progress open, and goes on
serving."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from .fake_provider import FakeProvider, Scenario
from .lsp_editor import EditorClient, closing_written, complete, open_chat, wait_until

NEVER_OPENED = "file:///tmp/never-opened.md"

# (command, arguments, expected): "error" for a JSON-RPC error (a malformed request), else the result
# (a well-formed complete that cannot start is refused with one message, as any refusal).
BAD_COMMANDS: list[tuple[str, list[object], object]] = [
    ("chatvim.complete", [], "error"),
    ("chatvim.complete", ["URI", "extra"], "error"),
    ("chatvim.complete", [123], "error"),
    ("chatvim.complete", [None], "error"),
    ("chatvim.complete", [{"uri": "URI"}], "error"),
    ("chatvim.complete", [""], "error"),
    (
        "chatvim.complete",
        [NEVER_OPENED],
        {"started": False, "reason": "never-opened.md is not open in the editor: open it first"},
    ),
    (
        "chatvim.complete",
        ["not a uri at all"],
        {"started": False, "reason": "not a uri at all is not open in the editor: open it first"},
    ),
    ("chatvim.stop", [123], "error"),
    ("chatvim.stop", ["URI", "extra"], "error"),
    ("chatvim.stop", [NEVER_OPENED], {"stopped": 0}),
    ("chatvim.stop", [], {"stopped": 0}),
    ("chatvim.nope", [], "error"),
]


async def execute(client: EditorClient, command: str, arguments: list[object]) -> object:
    try:
        return await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command=command, arguments=arguments)
        )
    except JsonRpcException:
        return "error"


async def test_bad_commands_get_errors_and_the_server_goes_on(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client)
    for command, arguments, expected in BAD_COMMANDS:
        arguments = [editor.uri if a == "URI" else a for a in arguments]
        assert await execute(client, command, arguments) == expected, (command, arguments)
    fake.scenarios["m"] = Scenario.text(["still serving"])
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    assert "still serving" in editor.text and editor.edits


async def test_notifications_about_unknown_documents_are_ignored(client: EditorClient, fake: FakeProvider) -> None:
    change = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=5, character=0)), text="x"
    )
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=NEVER_OPENED, version=3), content_changes=[change]))  # fmt: skip
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri=NEVER_OPENED)))
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=NEVER_OPENED),
            range=change.range,
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions
    editor = open_chat(client)
    editor.replace(0, 0, "")  # a change outside any range the server knows: clamped, not a crash
    fake.scenarios["m"] = Scenario.text(["fine"])
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    assert not [m for m in client.messages if m.type == lsp.MessageType.Error]


@pytest.mark.parametrize("order", ["stop first", "complete first"])
async def test_complete_racing_stop(client: EditorClient, fake: FakeProvider, order: str) -> None:
    """Sent back to back: a stop after the complete stops it (even before it
    began); a stop before it finds nothing. No progress is left open."""
    fake.scenarios["m"] = Scenario.rate(1000, 100)
    editor = open_chat(client)
    starting = client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.complete", arguments=[editor.uri])
    )
    stopping = client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.stop", arguments=[editor.uri])
    )
    requests = [starting, stopping] if order == "complete first" else [stopping, starting]
    results = await asyncio.gather(*requests)
    assert {"stopped": 1 if order == "complete first" else 0} in results
    if order == "stop first":
        await execute(client, "chatvim.stop", [editor.uri])
    await wait_until_nothing_runs(client)
    assert all(isinstance(r[-1], lsp.WorkDoneProgressEnd) for r in client.progress_reports.values())
    assert editor.text.count("tok") < 1000 and (not editor.edits or closing_written(editor))


async def wait_until_nothing_runs(client: EditorClient) -> None:
    for _ in range(500):
        if await execute(client, "chatvim.stop", []) == {"stopped": 0}:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("a stream is still running")
