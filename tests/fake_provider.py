"""A fake OpenAI-compatible provider on 127.0.0.1, for the tests.

It answers `POST …/chat/completions` with server-sent events, chunked, the
way real providers do, and can misbehave on demand. What it does for a
request is looked up by the request's `model` in `FakeProvider.scenarios`;
an unknown model gets `Scenario.echo`, which streams the last user message
back word by word.

It records every request (`requests`), with the moment the client hung up
(`Request.closed`), so a test can check that a stop really closed the
connection.

Run it alone for manual testing: `python -m tests.fake_provider --port 8765`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sse"  # recorded real streams


@dataclass
class Scenario:
    """What the provider sends for one request."""

    status: int = 200
    error_body: Any = None  # JSON body (or text) for an error status
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # the `data:` payloads, in order
    delay: float = 0.0  # seconds before each event
    first_delay: float = 0.0  # seconds before the response starts
    stall_after: int | None = None  # send this many events, then hang
    cut_after: int | None = None  # send this many events, then drop the connection
    done: bool = True  # end with `data: [DONE]`
    raw: bytes | list[bytes] | None = None  # the body instead of events (a list: one TCP write each)
    paced: bool = False  # event i goes out at start + i * delay, not `delay` after the last (no drift)

    @staticmethod
    def replay(name: str, *, delay: float = 0.0, **options: Any) -> Scenario:
        lines = (FIXTURES / name).read_text().splitlines()
        events = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
        done = bool(events) and events[-1] == "[DONE]"
        events = [e for e in events if e != "[DONE]"]
        return Scenario(events=events, delay=delay, done=done or True, **options)

    @staticmethod
    def text(pieces: list[str], *, delay: float = 0.0, finish: str | None = "stop", usage: bool = True,
             cost: float | None = None, **options: Any) -> Scenario:  # fmt: skip
        """`cost`: dollars in the usage, as OpenRouter reports them."""
        events = [_chunk({"role": "assistant", "content": ""})]
        events += [_chunk({"content": piece}) for piece in pieces]
        if finish is not None:
            events.append(_chunk({}, finish))
        if usage:
            events.append(json.dumps({"id": "x", "object": "chat.completion.chunk", "choices": [],
                                      "usage": {"prompt_tokens": 5, "completion_tokens": len(pieces),
                                                "total_tokens": 5 + len(pieces),
                                                **({"cost": cost} if cost is not None else {})}}))  # fmt: skip
        return Scenario(events=events, delay=delay, **options)

    @staticmethod
    def rate(tokens: int, per_second: float, word: str = "tok ") -> Scenario:
        return Scenario.text([word] * tokens, delay=1 / per_second)

    @staticmethod
    def error(status: int, message: str | None = "something went wrong", **options: Any) -> Scenario:
        body = {"error": {"message": message, "type": "error"}} if message is not None else None
        return Scenario(status=status, error_body=body, **options)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    started: float
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    closed_at: float | None = None
    sent: list[tuple[int, str]] = field(default_factory=list)  # (time.monotonic_ns(), payload) per event sent


class FakeProvider:
    def __init__(self) -> None:
        self.scenarios: dict[str, Scenario | list[Scenario]] = {}
        self.requests: list[Request] = []
        self.request_seen = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.transport.abort()
            await self._server.wait_closed()

    async def wait_for_request(self, count: int = 1, timeout: float = 10.0) -> Request:
        async def enough() -> None:
            while len(self.requests) < count:
                self.request_seen.clear()
                await self.request_seen.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.requests[count - 1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request: Request | None = None
        self._connections.add(writer)
        try:
            request = await self._read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            self.request_seen.set()
            scenario = self._scenario_for(request.body)
            responding = asyncio.create_task(self._respond(scenario, writer, request))
            hangup = asyncio.create_task(reader.read())  # the client sends nothing more: b"" is its hang-up
            await asyncio.wait({responding, hangup}, return_when=asyncio.FIRST_COMPLETED)
            for task in (responding, hangup):
                task.cancel()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if request is not None:
                request.closed_at = time.monotonic()
                request.closed.set()
            self._connections.discard(writer)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if method != "POST" or not path.endswith("/chat/completions"):
            return None
        return Request(path, headers, json.loads(body or b"{}"), time.monotonic())

    def _scenario_for(self, body: dict[str, Any]) -> Scenario:
        """The model's scenario; a list gives one per request, the last one repeating."""
        found = self.scenarios.get(str(body.get("model")))
        if isinstance(found, list):
            return found.pop(0) if len(found) > 1 else found[0]
        return found or self._echo(body)

    @staticmethod
    def _echo(body: dict[str, Any]) -> Scenario:
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        words = (users[-1] if users else "").split(" ")
        return Scenario.text([w + " " for w in words[:-1]] + words[-1:], delay=0.005)

    async def _respond(self, scenario: Scenario, writer: asyncio.StreamWriter, request: Request) -> None:
        if scenario.first_delay:
            await asyncio.sleep(scenario.first_delay)
        if scenario.status != 200:
            body = scenario.error_body
            data = (json.dumps(body) if body is not None and not isinstance(body, str) else body or "").encode()
            kind = "application/json" if body is not None and not isinstance(body, str) else "text/plain"
            extra = "".join(f"{k}: {v}\r\n" for k, v in scenario.headers.items())
            writer.write(
                f"HTTP/1.1 {scenario.status} Error\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n"
                f"{extra}Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        if scenario.raw is not None:
            for piece in [scenario.raw] if isinstance(scenario.raw, bytes) else scenario.raw:
                await self._send_chunk(writer, piece)
                await asyncio.sleep(scenario.delay)  # separate TCP reads on the other side
            await self._send_chunk(writer, b"")
            return
        started = time.monotonic()
        for index, event in enumerate(scenario.events):
            if scenario.stall_after is not None and index == scenario.stall_after:
                await asyncio.Event().wait()  # hang until the client goes away
            if scenario.cut_after is not None and index == scenario.cut_after:
                writer.transport.abort()
                return
            if scenario.paced:
                await asyncio.sleep(max(0.0, started + index * scenario.delay - time.monotonic()))
            elif scenario.delay:
                await asyncio.sleep(scenario.delay)
            await self._send_chunk(writer, f"data: {event}\n\n".encode())
            request.sent.append((time.monotonic_ns(), event))
        if scenario.stall_after is not None and scenario.stall_after >= len(scenario.events):
            await asyncio.Event().wait()
        if scenario.done:
            await self._send_chunk(writer, b"data: [DONE]\n\n")
        await self._send_chunk(writer, b"")

    @staticmethod
    async def _send_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()


class ThreadedFake:
    """The fake provider, serving from a thread of its own (for tests that
    drive an editor synchronously)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = FakeProvider()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _main() -> None:
    parser = argparse.ArgumentParser(description="a fake OpenAI-compatible provider that echoes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between words")
    args = parser.parse_args()
    fake = FakeProvider()
    fake._echo = (  # type: ignore[method-assign]
        lambda body: Scenario.text(
            [w + " " for w in " ".join(m["content"] for m in body["messages"][-1:]).split(" ")], delay=args.delay
        )
    )
    await fake.start(args.port)
    print(f"fake provider at {fake.base_url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
