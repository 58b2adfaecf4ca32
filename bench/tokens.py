"""The server's cost per token: CPU, and the time from the provider sending
a token to the `workspace/applyEdit` that carries it.

    python bench/tokens.py                 # from the repository root, with the test extras installed
    python bench/tokens.py --profile       # also: where the server's time goes (cProfile), top costs

A real chatvim-ls over stdio; the editor is a plain JSON-RPC client written
here (no LSP library: it costs next to nothing, so the figures are the
server's), which applies every edit at once and reports it with a didChange
first, as Neovim does. The fake provider paces `tNNNN ` tokens and notes
when it sends each; the client notes when each first arrives; one clock.

Runs: one answer of 400 tokens at 200 tokens/s, then ten at once (each in a
document of its own), then one at 1,000 tokens/s. Printed per run: the
server's CPU per token and share of a core while streaming (from /proc),
and token -> applyEdit p50/p95/max over every token of every answer.

Then the floors, the same 400 tokens at 200 tokens/s read by a process that
does nothing else with them: the openai SDK as the server calls it, and a
bare asyncio socket (token -> arrival there). A token read costs the server
at least the SDK's figure; the socket's is what one wake-up of Python's event
loop costs on this machine.

All of it five times over, in turn; each row is the run with the median CPU
per token of its five (the machine is shared: one run can be 1.5x another).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import re
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsprotocol import converters
from pytest_lsp import client_capabilities

from bench.latency import cpu_seconds
from tests.conftest import SERVER_ENV, init_options
from tests.fake_provider import FakeProvider, Request, Scenario

TOKEN = re.compile(r"t(\d{4}) ")
CHAT = '+++\nmodel = "m"\nprovider = "fake"\n+++\n# === USER ===\n\nStory {}.\n'

PROFILED = """
import cProfile, signal, sys, time
from chatvim_ls.cli import main
profile = cProfile.Profile(time.process_time)  # CPU time: waiting in epoll costs nothing
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, lambda *_: (profile.disable(), profile.dump_stats(sys.argv[1])))
main([])
"""


#: A reader of one stream, for the floors: prints its CPU seconds while reading, and when each token came.
FLOOR = """
import asyncio, json, re, sys, time
async def sdk(url, body):
    import openai
    client = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
    stream = await client.post("/chat/completions", body=body, cast_to=object, stream=True,
                               stream_cls=openai.AsyncStream[object])
    start, seen = time.process_time(), {}
    async for chunk in stream:
        for token in re.findall(r"t(\\d{4}) ", json.dumps(chunk)):
            seen.setdefault(token, time.monotonic_ns())
    return time.process_time() - start, seen
async def socket(url, body):
    host, port = url.split("/")[2].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = json.dumps(body).encode()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\\r\\nHost: %s\\r\\nContent-Type: application/json\\r\\n"
                 b"Content-Length: %d\\r\\n\\r\\n%s" % (host.encode(), len(data), data))
    start, seen = time.process_time(), {}
    while (read := await reader.read(65536)) and b"[DONE]" not in read:
        for token in re.findall(rb"t(\\d{4}) ", read):
            seen.setdefault(token.decode(), time.monotonic_ns())
    return time.process_time() - start, seen
kind, url, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
cpu, seen = asyncio.run(sdk(url, body) if kind == "sdk" else socket(url, body))
print(json.dumps({"cpu": cpu, "seen": seen}))
"""


@dataclass
class Doc:
    uri: str
    version: int = 1
    seen: dict[str, int] = field(default_factory=dict)  # token id -> when it first arrived (ns)


class RawClient:
    """Just enough of an editor: applies edits at once, reports them, accepts progress."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.docs: dict[str, Doc] = {}
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.progress_ends = 0
        self.edits = 0
        self.reader: asyncio.Task[None] | None = None

    async def start(self, fake: FakeProvider, profile_to: Path | None) -> None:
        command = (
            [sys.executable, "-c", PROFILED, str(profile_to)] if profile_to else [sys.executable, "-m", "chatvim_ls"]
        )
        self.process = await asyncio.create_subprocess_exec(
            *command, env=SERVER_ENV, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )  # fmt: skip
        self.reader = asyncio.create_task(self._read())
        capabilities = converters.get_converter().unstructure(client_capabilities("neovim@0.11"))
        await self.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": capabilities,
                                          "initializationOptions": init_options(fake)})  # fmt: skip
        self.notify("initialized", {})

    async def stop(self) -> None:
        await self.request("shutdown", None)
        self.notify("exit", None)
        assert self.process is not None
        await self.process.wait()
        if self.reader is not None:
            self.reader.cancel()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def open(self, uri: str, text: str) -> Doc:
        self.docs[uri] = Doc(uri)
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1,
                                                              "text": text}})  # fmt: skip
        return self.docs[uri]

    # -- the wire ----------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return await future

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        while True:
            header = await stdout.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", header)[1])  # type: ignore[index]
            message = json.loads(await stdout.readexactly(length))
            if "method" not in message:
                future = self.pending.pop(message["id"], None)
                if future is not None:
                    future.set_result(message.get("result"))
            elif "id" in message:
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer(message)})
            elif message["method"] == "$/progress" and message["params"]["value"].get("kind") == "end":
                self.progress_ends += 1

    def _answer(self, message: dict[str, Any]) -> Any:
        if message["method"] == "workspace/applyEdit":
            return self._apply(message["params"]["edit"])
        if message["method"] == "workspace/configuration":
            return [None for _ in message["params"]["items"]]
        return None

    def _apply(self, edit: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic_ns()  # the fake provider's clock
        changes = edit.get("documentChanges") or [{"textDocument": {"uri": u}, "edits": e}
                                                  for u, e in edit["changes"].items()]  # fmt: skip
        for change in changes:
            doc = self.docs[change["textDocument"]["uri"]]
            for text_edit in change["edits"]:
                for token in TOKEN.findall(text_edit["newText"]):
                    doc.seen.setdefault(token, now)
            doc.version += 1
            self.edits += 1
            self.notify("textDocument/didChange", {
                "textDocument": {"uri": doc.uri, "version": doc.version},
                "contentChanges": [{"range": e["range"], "text": e["newText"]} for e in change["edits"]],
            })  # fmt: skip
        return {"applied": True}


@dataclass
class Figures:
    name: str
    cpu_ms_per_token: float
    core_share: float
    latencies_ms: list[float]
    lost: int

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]

    def line(self) -> str:
        return (f"{self.name:34} {self.cpu_ms_per_token:6.3f} ms {self.core_share:6.2f} "
                f"{self.p50:7.2f} {self.p95:7.2f} {max(self.latencies_ms):7.2f} ms   lost {self.lost}")  # fmt: skip


def sent_at(request: Request) -> dict[str, int]:
    """When the fake provider sent each token of its answer to `request` (ns), by token id."""
    sent = {}
    for at, payload in request.sent:
        choices = json.loads(payload).get("choices") or [{}]
        if match := TOKEN.match((choices[0].get("delta") or {}).get("content") or ""):
            sent[match[1]] = at
    return sent


async def answers(client: RawClient, fake: FakeProvider, name: str, count: int, tokens: int, rate: float) -> Figures:
    fake.scenarios["m"] = Scenario.text([f"t{i:04d} " for i in range(tokens)], delay=1 / rate, paced=True)
    docs = [client.open(f"file:///tmp/bench-tokens-{name}-{n}.md", CHAT.format(f"{name} {n}"))
            for n in range(count)]  # fmt: skip
    first_request, ends = len(fake.requests), client.progress_ends
    cpu_before, wall_before = cpu_seconds(client.pid), time.monotonic()
    asks = [{"command": "chatvim.complete", "arguments": [d.uri]} for d in docs]
    await asyncio.gather(*(client.request("workspace/executeCommand", ask) for ask in asks))
    while client.progress_ends < ends + count:
        await asyncio.sleep(0.01)
    cpu, wall = cpu_seconds(client.pid) - cpu_before, time.monotonic() - wall_before
    latencies, lost = [], 0
    for request in fake.requests[first_request:]:
        story = request.body["messages"][-1]["content"]
        doc = docs[int(story.removesuffix(".").split()[-1])]
        sent = sent_at(request)
        latencies += [(doc.seen[i] - at) / 1e6 for i, at in sent.items() if i in doc.seen]
        lost += len(sent) - len([i for i in sent if i in doc.seen])
    return Figures(name, cpu * 1000 / (count * tokens), cpu / wall, latencies, lost)


REPEATS = 5  # each row is the run with the median CPU per token of this many: the machine is shared


async def measure(profile_to: Path | None = None) -> list[Figures]:
    """The runs, each the median of `REPEATS`, taken in turn so that a noisy
    spell of the machine's falls on every row alike (or, profiling into
    `profile_to`, the first run once)."""
    fake = FakeProvider()
    await fake.start()
    client = RawClient()
    await client.start(fake, profile_to)
    await answers(client, fake, "warm-up", 1, 20, 200)  # the first answer also loads openai
    if profile_to is not None:
        os.kill(client.pid, signal.SIGUSR1)  # the profile covers the next answer only
        profiled = await answers(client, fake, "one answer, 200 tokens/s (profiled)", 1, 400, 200)
        os.kill(client.pid, signal.SIGUSR2)
        await client.stop()
        await fake.stop()
        return [profiled]
    repeats: list[list[Figures]] = []
    for _ in range(REPEATS):
        repeats.append([
            await answers(client, fake, "one answer, 200 tokens/s", 1, 400, 200),
            await answers(client, fake, "ten at once, 200 tokens/s each", 10, 400, 200),
            await answers(client, fake, "one answer, 1000 tokens/s", 1, 1000, 1000),
            await floor(fake, "floor: the openai SDK alone, 200/s", "sdk"),
            await floor(fake, "floor: a bare socket, 200/s", "socket"),
        ])  # fmt: skip
    await client.stop()
    await fake.stop()
    return [_median(list(row)) for row in zip(*repeats, strict=True)]


def _median(runs: list[Figures]) -> Figures:
    return sorted(runs, key=lambda run: run.cpu_ms_per_token)[len(runs) // 2]


async def floor(fake: FakeProvider, name: str, kind: str, tokens: int = 400, rate: float = 200) -> Figures:
    """One stream read by `FLOOR` (`kind`: "sdk" or "socket"): token -> arrival there."""
    fake.scenarios["m"] = Scenario.text([f"t{i:04d} " for i in range(tokens)], delay=1 / rate, paced=True)
    body = {"model": "m", "messages": [{"role": "user", "content": "Story floor."}], "stream": True}
    reader = await asyncio.create_subprocess_exec(sys.executable, "-c", FLOOR, kind, fake.base_url, json.dumps(body),
                                                  stdout=asyncio.subprocess.PIPE, env=SERVER_ENV)  # fmt: skip
    output, _ = await reader.communicate()
    read = json.loads(output)
    sent = sent_at(fake.requests[-1])
    latencies = [(read["seen"][i] - at) / 1e6 for i, at in sent.items() if i in read["seen"]]
    elapsed = tokens / rate
    return Figures(name, read["cpu"] * 1000 / tokens, read["cpu"] / elapsed, latencies,
                   len([i for i in sent if i not in read["seen"]]))  # fmt: skip


def table(runs: list[Figures]) -> str:
    """The runs as a markdown table (for `bench/run.py`)."""
    lines = ["| run | server CPU per token | share of a core | token -> applyEdit p50 | p95 | max | lost |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for run in runs:
        lines.append(f"| {run.name} | {run.cpu_ms_per_token:.2f} ms | {run.core_share:.2f} | {run.p50:.1f} ms "
                     f"| {run.p95:.1f} ms | {max(run.latencies_ms):.1f} ms | {run.lost} |")  # fmt: skip
    return "\n".join(lines)


async def main(profile: bool) -> None:
    profile_to = Path(tempfile.mkdtemp(prefix="chatvim-profile-")) / "server.prof" if profile else None
    runs = await measure(profile_to)
    print(f"{'run':34} {'CPU/token':>9} {'core':>6} {'p50':>7} {'p95':>7} {'max':>7}  token -> applyEdit")
    for run in runs:
        print(run.line())
    if profile_to is not None:
        print_profile(profile_to)


def print_profile(path: Path, top: int = 25) -> None:
    """The functions that cost the most time of their own, and the totals per package."""
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in entries.values())
    by_package: dict[str, float] = {}
    for (file, _, _), (_, _, tt, _, _) in entries.items():
        by_package[_package(file)] = by_package.get(_package(file), 0.0) + tt
    print(f"\nserver profile of the 400-token answer: {total:.2f} s in all (profiling makes it slower)")
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:12]:
        print(f"  {seconds / total:6.1%}  {package}")
    print("\ntop functions by own time:")
    ranked = sorted(entries.items(), key=lambda item: -item[1][2])[:top]
    for (file, line, function), (calls, _, tt, _cumulative, _) in ranked:
        print(f"  {tt / total:6.1%} {calls:8} calls  {_package(file)}:{function} ({Path(file).name}:{line})")


def _package(file: str) -> str:
    if file == "~":
        return "builtins"
    parts = Path(file).parts
    for marker in ("site-packages", "lib"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            if rest and rest[0].startswith("python3"):
                rest = rest[1:]
            if rest:
                return rest[0].removesuffix(".py")
    return "chatvim_ls" if "chatvim_ls" in parts else Path(file).name


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true", help="profile the server over one 400-token answer")
    asyncio.run(main(parser.parse_args().profile))
