"""Configuration and providers over real stdio: where settings come from,
keys from commands, recorded provider streams, failures and TCP mode."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys

import pytest
from lsprotocol import types as lsp

from .conftest import FAKE_KEY, SERVER_ENV
from .fake_provider import FakeProvider, Scenario
from .lsp_editor import (
    CLOSING,
    OPENING,
    QUESTION,
    EditorClient,
    closing_written,
    complete,
    ended,
    errors,
    open_chat,
    progress_of,
    refused,
    stream_recorded,
    wait_until,
)

COMMAND_KEY = "sk-from-api-key-cmd-987654321"


async def test_settings_change_is_read_again(client: EditorClient, fake: FakeProvider) -> None:
    """didChangeConfiguration without settings makes the server ask
    workspace/configuration again; the key then comes from api_key_cmd."""
    key_command = [sys.executable, "-c", f"print({COMMAND_KEY!r})"]
    client.set_configuration({"providers": {"fake": {"base_url": fake.base_url, "api_key_cmd": key_command}}},
                             section="chatvim")  # fmt: skip
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=None))
    fake.scenarios["m"] = Scenario.text(["ok"])
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    assert fake.requests[0].headers["authorization"] == f"Bearer {COMMAND_KEY}"
    assert COMMAND_KEY not in editor.text and all(COMMAND_KEY not in m.message for m in client.log_messages)


async def test_settings_pushed_with_the_notification(client: EditorClient, fake: FakeProvider) -> None:
    settings = {"chatvim": {"providers": {"fake": {"base_url": fake.base_url, "api_key_env": "NOT_SET_ANYWHERE"}}}}
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=settings))
    editor = open_chat(client)
    message = "NOT_SET_ANYWHERE is not set: export it where you start your editor"
    assert await refused(client, editor) == message
    assert errors(client) == [message]
    assert editor.edits == [] and not fake.requests


async def test_bad_settings_are_one_message(client: EditorClient, fake: FakeProvider) -> None:
    settings = {"chatvim": {"flush": "sometimes"}}
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=settings))
    await wait_until(lambda: errors(client))
    (message,) = errors(client)
    assert "flush" in message and "\n" not in message


async def test_mistral_content_parts(client: EditorClient, fake: FakeProvider) -> None:
    editor, answer = await stream_recorded(client, fake, "mistral_streaming.txt")
    assert answer and editor.text == QUESTION + OPENING + answer + CLOSING


async def test_connection_refused_is_one_clear_message(client: EditorClient, fake: FakeProvider,
                                                      refused_port: int) -> None:  # fmt: skip
    settings = {"chatvim": {"providers": {"fake": {"base_url": f"http://127.0.0.1:{refused_port}/v1",
                                                   "api_key_env": "FAKE_API_KEY"}}}}  # fmt: skip
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=settings))
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client))
    await wait_until(lambda: errors(client))
    assert errors(client) == [f"cannot reach fake at 127.0.0.1:{refused_port}: connection refused; is it running?"]
    details = [m.message for m in client.log_messages if m.type == lsp.MessageType.Warning]
    assert (
        f"fake: http://127.0.0.1:{refused_port}/v1: APIConnectionError: connection refused" in details
    )  # the full story
    assert editor.edits == []


@pytest.mark.init_options(chunk_timeout=0.5)
async def test_a_stall_mid_stream_is_reported_and_the_text_kept(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["kept ", "text"], stall_after=3)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    assert editor.text == QUESTION + OPENING + "kept text" + CLOSING
    (message,) = errors(client)
    assert "sent nothing for 0.5 s" in message
    assert progress_of(client)[-1].message == message
    await asyncio.wait_for(fake.requests[0].closed.wait(), 2)


async def test_tcp_mode() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatvim_ls", "--tcp", "--port", str(port), env=SERVER_ENV,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        reader, writer = await connect_when_listening(port)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()  # fmt: skip
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(header.split(b":")[1].strip().split(b"\r\n")[0])
        answer = json.loads(await reader.readexactly(length))
        assert answer["result"]["serverInfo"]["name"] == "chatvim-ls"
        writer.close()
    finally:
        server.kill()
        stdout, _ = await server.communicate()
    assert stdout == b""  # nothing on stdout, in TCP mode either


async def connect_when_listening(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(200):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)  # the server is still starting: nothing to await but its port
    raise AssertionError(f"chatvim-ls --tcp did not listen on port {port}")


async def test_no_key_in_any_output_at_debug(
    client: EditorClient, fake: FakeProvider, capfd: pytest.CaptureFixture[str]
) -> None:
    """The server runs at DEBUG here; its stderr log, the messages, the log
    messages, the progress and the document never hold the key, even when
    the provider echoes it back in an error and the request carried it."""
    fake.scenarios["m"] = [Scenario.text(["fine"]), Scenario.error(401, f"Incorrect API key provided: {FAKE_KEY}")]
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    editor.type(len(editor.text), "Again?\n")
    await complete(client, editor)
    await wait_until(lambda: len(errors(client)) == 1)
    assert fake.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"  # it was really used
    captured = capfd.readouterr()
    channels = [captured.out, captured.err, editor.text, *errors(client)]
    channels += [m.message for m in client.log_messages] + [str(r) for r in client.progress_reports.values()]
    assert "DEBUG" in captured.err  # the server's own log is in there
    assert all(FAKE_KEY not in channel for channel in channels)


EVIL_DOCUMENTS = {
    "toml base_url": '+++\nmodel = "m"\nprovider = "fake"\nbase_url = "{evil}"\n+++\nq\n',
    "yaml headers and key env": "---\nmodel: m\nprovider: fake\nheaders:\n  X-Api-Key: x\napi_key_env: HOME\n---\nq\n",
    "providers table": '+++\nmodel = "m"\nprovider = "evil"\n[providers.evil]\nbase_url = "{evil}"\n+++\nq\n',
    "api_key_cmd": '+++\nmodel = "m"\nprovider = "fake"\napi_key_cmd = ["curl", "{evil}"]\n+++\nq\n',
    "unknown provider": '+++\nmodel = "m"\nprovider = "{evil}"\n+++\nq\n',
}
HARMLESS_DOCUMENTS = {  # settings-like text that is not front matter: plain chat text, sent to the configured provider
    "front matter later in the file": '+++\nmodel = "m"\nprovider = "fake"\n+++\nq\n+++\nbase_url = "{evil}"\n+++\n',
    "in a system turn": '+++\nmodel = "m"\nprovider = "fake"\n+++\n# === SYSTEM ===\n\nbase_url = "{evil}"\n'
                        "# === USER ===\n\nq\n",
    "look-alike keys": '+++\nmodel = "m"\nprovider = "fake"\nBase_URL = "{evil}"\nbaseUrl = "{evil}"\n+++\nq\n',
}  # fmt: skip


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)
async def test_a_document_can_never_send_the_key_elsewhere(client: EditorClient, fake: FakeProvider) -> None:
    evil = FakeProvider()
    await evil.start()
    try:
        for name, text in {**EVIL_DOCUMENTS, **HARMLESS_DOCUMENTS}.items():
            editor = open_chat(client, text.format(evil=evil.base_url), name=f"{name.replace(' ', '-')}.md")
            shown = len(errors(client))
            if name in EVIL_DOCUMENTS:
                assert re.search(r"may only be set in config.md|unknown provider", await refused(client, editor))
                assert len(errors(client)) == shown + 1, name
            else:
                await complete(client, editor)
                await wait_until(lambda editor=editor: closing_written(editor))
        assert evil.requests == []
        assert len(fake.requests) == len(HARMLESS_DOCUMENTS)
        assert all(r.headers["authorization"] == f"Bearer {FAKE_KEY}" for r in fake.requests)
    finally:
        await evil.stop()
