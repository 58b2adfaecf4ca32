"""The fault matrix at the provider edge: `llm.stream_answer` against the fake
provider misbehaving in every way we know of. Each fault ends as text kept
plus either a normal finish or one `ProviderError` line saying cause and fix.

(The same faults through the language server, with strict and lax editors:
tests/test_server_faults.py.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from chatvim_ls.chat import Message
from chatvim_ls.llm import Event, Finish, ProviderError, Text, Timeouts, stream_answer
from chatvim_ls.messages import WIDTH
from chatvim_ls.providers import Provider
from chatvim_ls.request import ChatRequest

from .fake_provider import FakeProvider, Scenario, _chunk

REQUEST = ChatRequest(model="m", provider="fake", messages=[Message("user", "hi")])
QUICK = Timeouts(first_byte=5.0, between_chunks=5.0, connect=3.0)


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider()
    await fake.start()
    yield fake
    await fake.stop()


def at(base_url: str) -> Provider:
    return Provider("fake", base_url, "FAKE_API_KEY", "m")


DETAILS: list[str | None] = []  # each failure's detail for the log, newest last


async def run(base_url: str, *, timeouts: Timeouts = QUICK, retries: int = 0) -> tuple[str, list[Event], str | None]:
    """The text, the events, and the error line (None if it finished)."""
    events: list[Event] = []
    try:
        async for event in stream_answer(REQUEST, at(base_url), "sk-test", timeouts=timeouts, max_retries=retries):
            events.append(event)
    except ProviderError as exc:
        DETAILS.append(exc.detail)
        return _text(events), events, str(exc)
    return _text(events), events, None


def _text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Text))


def one_line(error: str | None) -> str:
    """The error, checked to be one short line (chatvim_ls/messages.py)."""
    assert error is not None and "\n" not in error and "Traceback" not in error and "sk-test" not in error
    assert len(error) <= WIDTH and ".;" not in error and ".:" not in error, error
    return error


STATUSES = {
    400: "fake refused the request (400)",
    401: "fake rejected the API key (401)",
    403: "fake refused access (403)",
    404: "model 'm' not found at fake (404)",
    408: "fake timed out the request (408)",
    413: "fake says the chat is too large (413)",
    429: "fake is rate limiting you (429)",
    500: "fake had a server error (500)",
    502: "fake had a server error (502)",
    503: "fake had a server error (503)",
}


@pytest.mark.parametrize("body", ["json", "none"])
@pytest.mark.parametrize("status", list(STATUSES))
async def test_http_errors(provider: FakeProvider, status: int, body: str) -> None:
    message = "the provider's own words" if body == "json" else None
    provider.scenarios["m"] = Scenario.error(status, message)
    text, _, error = await run(provider.base_url)
    assert text == "" and one_line(error).startswith(STATUSES[status])
    if body == "json":  # in the log, always; in the message where the cause is not known by its status
        assert DETAILS[-1] == "the provider's own words"
        assert ("the provider's own words" in one_line(error)) == (status in (400, 500, 502, 503))


async def test_retry_after_is_respected_when_the_sdk_retries(provider: FakeProvider) -> None:
    provider.scenarios["m"] = [Scenario.error(429, "slow down", headers={"Retry-After": "1"}), Scenario.text(["ok"])]
    started = asyncio.get_running_loop().time()
    text, _, error = await run(provider.base_url, retries=1)
    assert error is None and text == "ok" and len(provider.requests) == 2
    assert asyncio.get_running_loop().time() - started >= 0.9  # waited as told


async def test_connection_refused(provider: FakeProvider, refused_port: int) -> None:
    _, _, error = await run(f"http://127.0.0.1:{refused_port}/v1")
    assert one_line(error) == f"cannot reach fake at 127.0.0.1:{refused_port}: connection refused; is it running?"
    assert DETAILS[-1] == f"http://127.0.0.1:{refused_port}/v1: APIConnectionError: connection refused"  # for the log


async def test_unknown_host() -> None:
    _, _, error = await run("http://no-such-host.invalid/v1")
    assert one_line(error) == "cannot reach fake at no-such-host.invalid: unknown host; check network and base_url"


async def test_tls_error() -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _, _, error = await run(f"https://127.0.0.1:{port}/v1")
    assert one_line(error) == f"cannot reach fake at 127.0.0.1:{port}: TLS error; check base_url (http or https?)"


async def test_stall_before_the_first_byte(provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["late"], first_delay=3)
    _, _, error = await run(provider.base_url, timeouts=Timeouts(first_byte=0.3, between_chunks=5, connect=3))
    assert one_line(error) == "fake sent nothing for 0.3 s: try again, or raise first_byte_timeout in config.md"
    await asyncio.wait_for(provider.requests[0].closed.wait(), 2)


async def test_stall_mid_stream_keeps_the_text(provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["kept ", "so far"], stall_after=3)
    text, _, error = await run(provider.base_url, timeouts=Timeouts(first_byte=5, between_chunks=0.3, connect=3))
    assert (
        text == "kept so far"
        and one_line(error) == "fake sent nothing for 0.3 s: try again, or raise chunk_timeout in config.md"
    )
    await asyncio.wait_for(provider.requests[0].closed.wait(), 2)


@pytest.mark.parametrize("done", [True, False])
async def test_cut_without_finish_reason(provider: FakeProvider, done: bool) -> None:
    provider.scenarios["m"] = Scenario.text(["partial ", "answer"], finish=None, usage=False, done=done)
    text, events, error = await run(provider.base_url)
    assert text == "partial answer" and error is None and events[-1] == Finish(None)  # the server reports it as cut


async def test_connection_dropped_mid_stream_keeps_the_text(provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["partial ", "answer", " lost"], cut_after=3)
    text, _, error = await run(provider.base_url)
    assert text == "partial answer"
    assert one_line(error) == "the connection to fake broke off mid-answer: try again (the text so far is kept)"
    assert DETAILS[-1] is not None and DETAILS[-1].startswith("peer closed connection")


def sse(*payloads: str) -> bytes:
    return b"".join(f"data: {p}\n\n".encode() for p in payloads)


async def test_bad_json_in_one_event(provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario(raw=sse(_chunk({"content": "before "}), "{not json", _chunk({"content": "x"})))
    text, _, error = await run(provider.base_url)
    assert text == "before " and one_line(error) == "fake sent an event that is not valid JSON: try again"


async def test_lines_that_are_not_data_are_ignored(provider: FakeProvider) -> None:
    body = b": keep-alive\n\nevent: ping\ndata: {}\n\n" + sse(_chunk({"content": "fine"}), _chunk({}, "stop"), "[DONE]")
    provider.scenarios["m"] = Scenario(raw=body)
    text, events, error = await run(provider.base_url)
    assert error is None and text == "fine" and events[-1] == Finish("stop")


async def test_an_event_split_inside_a_utf8_character(provider: FakeProvider) -> None:
    raw_json = json.dumps(json.loads(_chunk({"content": "a🙂b é"})), ensure_ascii=False)  # UTF-8 on the wire
    body = sse(raw_json, _chunk({}, "stop"), "[DONE]")
    cut = body.index("🙂".encode()) + 2  # in the middle of the emoji's four bytes
    provider.scenarios["m"] = Scenario(raw=[body[:cut], body[cut:]], delay=0.05)
    text, _, error = await run(provider.base_url)
    assert error is None and text == "a🙂b é"


async def test_an_empty_answer(provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text([])
    text, events, error = await run(provider.base_url)
    assert error is None and text == "" and Finish("stop") in events


@pytest.mark.parametrize(
    ("delta", "finish"),
    [({"content": None, "refusal": "I can't help with that."}, "stop"), ({"content": "Partly"}, "content_filter")],
    ids=["refusal-field", "content-filter"],
)
async def test_a_refusal_is_shown_as_text(provider: FakeProvider, delta: dict[str, object], finish: str) -> None:
    provider.scenarios["m"] = Scenario(raw=sse(_chunk(delta), _chunk({}, finish), "[DONE]"))
    text, events, error = await run(provider.base_url)
    assert error is None and text in ("I can't help with that.", "Partly") and events[-1] == Finish(finish)
