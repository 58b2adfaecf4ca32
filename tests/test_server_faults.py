"""The whole provider fault matrix through the language server, with a strict
and a lax editor. Every fault runs in its own chat, one after another in one
server: each ends with at most one clear message, its progress ended, the
partial answer kept with the closing delimiter, and the server goes on
serving the next one. The user types a line above the question while each
answer streams, so strict and lax editors take different paths.

(The same faults at the provider edge, one test each: tests/test_faults.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from lsprotocol import types as lsp

from chatvim_ls.messages import WIDTH

from .fake_provider import FakeProvider, Scenario, _chunk
from .lsp_editor import EditorClient, complete, open_chat, streams_ended, wait_until, written
from .test_faults import STATUSES, sse


@dataclass
class Fault:
    name: str
    scenario: Scenario | None  # None: the provider is unreachable (see `provider`)
    kept: str  # the answer text that must be in the document afterwards
    message: str | None  # a fragment of the one message shown, None for none
    provider: str = "fake"
    level: lsp.MessageType = lsp.MessageType.Error


def _split_utf8() -> Scenario:
    raw = json.dumps(json.loads(_chunk({"content": "a🙂b é"})), ensure_ascii=False)
    body = sse(raw, _chunk({}, "stop"), "[DONE]")
    cut = body.index("🙂".encode()) + 2
    return Scenario(raw=[body[:cut], body[cut:]], delay=0.05)


def _faults() -> Iterator[Fault]:
    for status, words in STATUSES.items():
        for body in ("json", "bare"):
            name = f"{status}-{body}"
            said = words.replace("model 'm'", f"model '{name}'")  # a 404 names the model
            in_message = body == "json" and status in (400, 500, 502, 503)  # else in the log only
            yield Fault(name, Scenario.error(status, "own words" if body == "json" else None), "",
                        f"{said}: own words" if in_message else said)  # fmt: skip
    yield Fault("refused", None, "", "cannot reach refused at", provider="refused")
    yield Fault(
        "unknown-host", None, "", "cannot reach nohost at no-such-host.invalid: unknown host; check", provider="nohost"
    )
    yield Fault("tls", None, "", "cannot reach tls at 127.0.0.1:", provider="tls")
    yield Fault(
        "stall-first-byte",
        Scenario.text(["late"], first_delay=3),
        "",
        "sent nothing for 0.5 s: try again, or raise first_byte_timeout",
    )
    yield Fault(
        "stall-mid",
        Scenario.text(["kept ", "text"], stall_after=3),
        "kept text",
        "nothing for 0.5 s: try again, or raise chunk_timeout",
    )
    for done in ("done", "no-done"):
        yield Fault(f"cut-{done}", Scenario.text(["kept ", "text"], finish=None, usage=False, done=done == "done"),
                    "kept text", "broke the answer off: try again (the text so far is kept)")  # fmt: skip
    yield Fault("dropped", Scenario.text(["kept ", "text", " lost"], cut_after=3), "kept text", "broke off mid-answer")
    yield Fault("bad-json", Scenario(raw=sse(_chunk({"content": "kept"}), "{oops")), "kept", "not valid JSON")
    not_data = b": keep-alive\n\nevent: ping\ndata: {}\n\n" + sse(_chunk({"content": "fine"}), _chunk({}, "stop"))
    yield Fault("not-data-lines", Scenario(raw=not_data + b"data: [DONE]\n\n"), "fine", None)
    yield Fault("split-utf8", _split_utf8(), "a🙂b é", None)
    yield Fault("empty", Scenario.text([]), "", "sent an empty answer: try again", level=lsp.MessageType.Warning)
    refusal = sse(_chunk({"content": None, "refusal": "I can't help."}), _chunk({}, "stop"), "[DONE]")
    yield Fault("refusal", Scenario(raw=refusal), "I can't help.", None)
    filtered = sse(_chunk({"content": "Partly"}), _chunk({}, "content_filter"), "[DONE]")
    yield Fault("content-filter", Scenario(raw=filtered), "Partly", "content filter", level=lsp.MessageType.Warning)


FAULTS = list(_faults())
TYPED = "typed while it streamed\n"


def question(fault: Fault) -> str:
    return f'+++\nmodel = "{fault.name}"\nprovider = "{fault.provider}"\n+++\n# === USER ===\n\nWhat is 1 + 1?\n'


@pytest.fixture
async def plain_http_port() -> AsyncIterator[int]:
    """A server that answers a TLS hello in plain HTTP: the TLS handshake fails."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


# Both presets take versioned edits: Emacs (utf-32) refuses a stale one, VS Code
# (utf-16) applies it at its old place. (Every preset and mode: test_server_edits.py.)
@pytest.mark.parametrize(("client", "mode"), [("emacs", "strict"), ("visual-studio-code", "lax")],
                         indirect=["client"])  # fmt: skip
async def test_every_provider_fault(client: EditorClient, fake: FakeProvider, mode: str, refused_port: int,
                                   plain_http_port: int) -> None:  # fmt: skip
    providers = {
        "fake": {"base_url": fake.base_url, "api_key_env": "FAKE_API_KEY"},
        "refused": {"base_url": f"http://127.0.0.1:{refused_port}/v1", "api_key_env": "FAKE_API_KEY"},
        "nohost": {"base_url": "http://no-such-host.invalid/v1", "api_key_env": "FAKE_API_KEY"},
        "tls": {"base_url": f"https://127.0.0.1:{plain_http_port}/v1", "api_key_env": "FAKE_API_KEY"},
    }
    settings = {"providers": providers, "max_retries": 0, "first_byte_timeout": 0.5, "chunk_timeout": 0.5}
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"chatvim": settings}))
    for fault in FAULTS:
        if fault.scenario is not None:
            fake.scenarios[fault.name] = fault.scenario
    for number, fault in enumerate(FAULTS, start=1):
        await run_one(client, fault, mode, number)

    fake.scenarios["m"] = Scenario.text(["fine"])  # and the server still answers
    editor = open_chat(client, name="after.md", mode=mode)
    await complete(client, editor)
    await wait_until(lambda: editor.text.endswith("fine\n\n# === USER ===\n\n"))


async def run_one(client: EditorClient, fault: Fault, mode: str, number: int) -> None:
    shown_before = len(client.messages)
    editor = open_chat(client, question(fault), name=f"{fault.name}.md", mode=mode)
    front_matter_end = editor.text.index("# === USER")
    editor.race = lambda: editor.type(front_matter_end, TYPED)  # just before the first edit lands
    await complete(client, editor)

    expected = question(fault)
    if fault.kept:
        expected = expected[:front_matter_end] + TYPED + expected[front_matter_end:-1] + written(fault.kept) + "\n"

    def settled() -> bool:
        shown = len(client.messages) > shown_before or fault.message is None
        return streams_ended(client) == number and shown and editor.text == expected

    # A lax editor's misplaced copy is removed in the user's next pause, after the closing block.
    with contextlib.suppress(AssertionError):
        await wait_until(settled, timeout=5)
    assert editor.text == expected, fault.name
    assert streams_ended(client) == number, fault.name
    shown = [(m.type, m.message) for m in client.messages[shown_before:]]
    if fault.message is None:
        assert shown == [], fault.name
    else:
        ((level, message),) = shown
        assert level == fault.level and fault.message in message and "\n" not in message, (fault.name, message)
        assert len(message) <= WIDTH and ".;" not in message, (fault.name, message)  # one line that fits
    assert editor.lost == [], fault.name
