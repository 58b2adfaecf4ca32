"""Every way a stream ends early, over real stdio: the provider connection is
closed, progress ends, the partial answer stays."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types as lsp

from .fake_provider import FakeProvider, Scenario
from .lsp_editor import (
    CLOSING,
    EditorClient,
    EditorCopy,
    closing_written,
    complete,
    ended,
    open_chat,
    progress_of,
    stop,
    wait_until,
)


async def streaming(client: EditorClient, fake: FakeProvider) -> EditorCopy:
    """A chat whose answer is streaming (a long one, at 200 tokens/s)."""
    fake.scenarios["m"] = Scenario.rate(2000, 200)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: "tok tok" in editor.text)
    return editor


async def assert_stopped(client: EditorClient, fake: FakeProvider, message: str) -> None:
    await wait_until(lambda: ended(client))
    await asyncio.wait_for(fake.requests[0].closed.wait(), 2)
    assert progress_of(client)[-1].message == message


async def test_stop_every_stream_with_no_arguments(client: EditorClient, fake: FakeProvider) -> None:
    editor = await streaming(client, fake)
    assert await stop(client) == {"stopped": 1}
    await assert_stopped(client, fake, "stopped")
    await wait_until(lambda: closing_written(editor))
    assert editor.text.count("tok") < 2000
    assert await stop(client, editor.uri) == {"stopped": 0}  # nothing left to stop: a no-op


async def test_cancel_request_of_complete_stops_it(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.rate(2000, 200)
    editor = open_chat(client)
    params = lsp.ExecuteCommandParams(command="chatvim.complete", arguments=[editor.uri])
    await client.protocol.send_request_async(lsp.WORKSPACE_EXECUTE_COMMAND, params, msg_id="complete-1")
    await wait_until(lambda: "tok tok" in editor.text)
    client.cancel_request(lsp.CancelParams(id="complete-1"))
    await assert_stopped(client, fake, "stopped")
    await wait_until(lambda: closing_written(editor))
    assert not any("unknown message id" in m.message for m in client.log_messages)


async def test_progress_cancel_stops_it(client: EditorClient, fake: FakeProvider) -> None:
    editor = await streaming(client, fake)
    (token,) = client.progress_reports
    client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
    await assert_stopped(client, fake, "stopped")
    await wait_until(lambda: closing_written(editor))


async def test_closing_the_document_stops_it_quietly(client: EditorClient, fake: FakeProvider) -> None:
    editor = await streaming(client, fake)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(editor.uri)))
    await assert_stopped(client, fake, "document closed")
    edits = len(editor.edits)
    assert await stop(client) == {"stopped": 0}  # a round trip: anything still queued has been sent by now
    assert len(editor.edits) == edits and not closing_written(editor)
    assert not [m for m in client.messages if m.type == lsp.MessageType.Error]


async def test_a_chat_reopened_mid_answer_follows_its_own_changes(client: EditorClient, fake: FakeProvider) -> None:
    """`:e!` while an answer streams: didClose, didOpen and a change, back to back. The change is
    the reopened copy's, not the stopped answer's to take."""
    editor = await streaming(client, fake)
    editor.close()
    editor.open()
    editor.type(len(editor.text), "\n\n# === USER ===\n\nAnd a second question?\n")
    await assert_stopped(client, fake, "document closed")
    assert await stop(client) == {"stopped": 0}  # a round trip: the change has been read
    found = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=editor.uri))
    )
    names = [s.name for s in found or [] if isinstance(s, lsp.DocumentSymbol)]
    assert names[-1] == "User: And a second question?", names


async def test_shutdown_mid_stream_ends_progress_before_answering(client: EditorClient, fake: FakeProvider) -> None:
    await streaming(client, fake)
    await client.shutdown_async(None)
    assert ended(client) and progress_of(client)[-1].message == "server shutting down"
    client.shut_down = True
    client.exit(None)
    assert await asyncio.wait_for(client._server.wait(), 5) == 0  # type: ignore[union-attr]


async def test_stop_before_the_first_token(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["never"], first_delay=5)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: fake.requests)
    assert await stop(client, editor.uri) == {"stopped": 1}
    await assert_stopped(client, fake, "stopped")
    assert editor.edits == []  # no answer began, so nothing is written


@pytest.mark.without_progress
async def test_a_client_without_progress_gets_none(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["fine"])
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    assert editor.text.endswith("fine" + CLOSING)
    assert client.progress_reports == {}


async def test_progress_reports_at_most_four_a_second(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.rate(300, 200)  # 1.5 s of tokens
    editor = open_chat(client)
    started = asyncio.get_running_loop().time()
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    seconds = asyncio.get_running_loop().time() - started
    begin, *reports, end = progress_of(client)
    assert isinstance(begin, lsp.WorkDoneProgressBegin) and begin.message == "m"
    assert 2 <= len(reports) <= 4 * seconds + 1
    assert all(r.message.endswith("/s") and " tokens · " in r.message for r in reports)  # type: ignore[union-attr, operator]
    assert end.message is not None
    assert end.message.startswith("300 tokens · ")
