"""Crashes over real stdio: the provider's process dies mid-answer, and the
server itself is killed mid-answer (then a new server takes the next
question). (In a real Neovim, which restarts the server: tests/test_nvim.py.)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from .conftest import SERVER_ENV, init_options
from .fake_provider import FakeProvider, Scenario
from .lsp_editor import EditorClient, EditorCopy, closing_written, complete, ended, errors, open_chat, wait_until

REPO = Path(__file__).resolve().parent.parent
WORDS = " ".join(f"w{i}" for i in range(400))
CHAT = f'+++\nmodel = "m"\nprovider = "separate"\n+++\n# === USER ===\n\n{WORDS}\n'


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)
async def test_the_provider_process_dies_mid_answer(client: EditorClient, fake: FakeProvider) -> None:
    provider = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_provider", "--port", "0", "--delay", "0.01",
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert provider.stdout is not None
        base_url = (await provider.stdout.readline()).decode().split(" at ")[1].strip()
        settings = {"providers": {"separate": {"base_url": base_url, "api_key_env": "FAKE_API_KEY"}}}
        client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"chatvim": settings}))
        editor = open_chat(client, CHAT)
        await complete(client, editor)
        await wait_until(lambda: "w20 " in editor.text[len(CHAT) :])
    finally:
        provider.kill()
        await provider.wait()
    await wait_until(lambda: ended(client) and closing_written(editor))
    (message,) = errors(client)
    assert "the connection to separate broke off mid-answer" in message and "the text so far is kept" in message
    answer = editor.text[len(CHAT) :]
    assert answer.startswith("\n# === ASSISTANT ===\n\nw0 w1 ") and answer.endswith("\n\n# === USER ===\n\n")

    editor.type(len(editor.text), "Again?\n")  # with the provider gone: one clear line
    await complete(client, editor)
    await wait_until(lambda: len(errors(client)) == 2)
    host = base_url.split("//")[1].split("/")[0]
    assert errors(client)[1] == f"cannot reach separate at {host}: connection refused; is it running?"


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)
async def test_a_killed_server_leaves_a_readable_answer_and_a_new_one_goes_on(
    client: EditorClient, fake: FakeProvider
) -> None:
    fake.scenarios["m"] = [Scenario.rate(2000, 200), Scenario.text(["fine"])]
    question = CHAT.replace('"separate"', '"fake"')
    editor = open_chat(client, question)
    await complete(client, editor)
    await wait_until(lambda: editor.text.count("tok") > 20)
    client._server.kill()  # type: ignore[union-attr]
    await client._server.wait()  # type: ignore[union-attr]
    client.shut_down = True
    partial = editor.text
    assert partial.startswith(question[:-1] + "\n\n# === ASSISTANT ===\n\ntok tok ")  # readable as far as it got

    second = EditorClient("neovim@0.11")
    copy = EditorCopy(second, editor.uri, partial + "\n# === USER ===\n\nAnd now?\n")
    await second.start_io(sys.executable, "-m", "chatvim_ls", env=SERVER_ENV)
    try:
        await second.start_session(second.preset_capabilities(), init_options(fake))
        copy.open()
        await complete(second, copy)
        await wait_until(lambda: closing_written(copy))
        assert (
            copy.text == partial + "\n# === USER ===\n\nAnd now?\n\n# === ASSISTANT ===\n\nfine\n\n# === USER ===\n\n"
        )
        assert fake.requests[1].body["messages"][-2]["content"].startswith("tok tok")
    finally:
        await second.shutdown_session()
