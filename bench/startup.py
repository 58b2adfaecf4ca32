"""Start-up, first answer and footprint of the language server, over real stdio.

    python bench/startup.py                    # from the repository root, with the test extras installed
    python bench/startup.py --quick            # only `initialize` and the first answer, fewer runs (under a minute)
    python bench/startup.py --cached-bytecode  # both servers with their bytecode cached, as an installed package
    python bench/startup.py --quick --think 2  # ask 2 s after opening the chat instead of THINK

Prints, side by side:
- the time from spawning the server to its `initialize` answer, next to a
  bare pygls server that does nothing (bench/bare_server.py), started in
  turn with it so both see the same machine; also the CPU time each server
  process used until then, which a busy machine disturbs less;
- from sending `chatvim.complete` to the provider receiving the request
  (the fake provider notes when a request arrives, on the same clock), for
  the first answer of a fresh session next to a later answer of the same
  session: each chat is opened (didOpen) and asked `THINK` seconds later, as
  a person does; the worst case asks right after didOpen;
- the time to the first edit of the first answer, from spawning the server;
- resident memory idle, with a chat open and no answer yet, and after 200
  completions.

Whether chatvim_ls's bytecode is cached changes start-up: with
PYTHONDONTWRITEBYTECODE set and an editable install, every start compiles
the package's sources again, while pygls and lsprotocol (installed by pip)
have theirs. The output says which case was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types as lsp
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.robustness import FRONT_MATTER, TimedBench, rss_mb
from bench.server import until
from tests.conftest import SERVER_ENV
from tests.fake_provider import FakeProvider, Scenario
from tests.lsp_editor import closing_written

RUNS = 20  # starts of each server for `initialize`
SESSIONS = 5  # fresh sessions for the first answer, for each way of asking
LATER = 3  # later answers asked in each of those sessions
QUICK_RUNS, QUICK_SESSIONS, QUICK_LATER = 7, 3, 2
THINK = 0.3  # seconds between opening a chat and asking: a person reads before pressing the key
QUESTION = FRONT_MATTER + "# === USER ===\n\nGo.\n"
BARE = str(Path(__file__).resolve().parent / "bare_server.py")
OURS = ("-m", "chatvim_ls")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Startup:
    initialize_ms: list[float]
    bare_initialize_ms: list[float]
    first_edit_ms: list[float]
    idle_rss_mb: float
    rss_after_200_mb: float
    initialize_cpu_ms: list[float] = field(default_factory=list)
    bare_initialize_cpu_ms: list[float] = field(default_factory=list)
    first_answer_ms: list[float] = field(default_factory=list)  # complete sent -> provider has the request
    later_answer_ms: list[float] = field(default_factory=list)
    first_answer_at_once_ms: list[float] = field(default_factory=list)  # complete right after didOpen
    later_answer_at_once_ms: list[float] = field(default_factory=list)
    chat_open_rss_mb: float | None = None
    think: float = THINK  # seconds between didOpen and complete for `first_answer_ms` and `later_answer_ms`
    bytecode: str = ""
    quick: bool = False


async def initialize_ms(*command: str) -> float:
    return (await timed_initialize(*command))[0]


async def timed_initialize(*command: str) -> tuple[float, float]:
    """Milliseconds from spawning `command` to its `initialize` answer, and
    the CPU time the server process used until then."""
    client = make_test_lsp_client()
    started = time.monotonic()
    await client.start_io(*command, env=SERVER_ENV)
    await client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("neovim@0.11")))
    elapsed = (time.monotonic() - started) * 1000
    cpu = cpu_ms(client._server.pid)  # type: ignore[union-attr]
    await client.shutdown_session()
    return elapsed, cpu


def cpu_ms(pid: int) -> float:
    """User and system CPU time of a process so far, in ms (10 ms steps)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS


async def first_edit_ms(fake: FakeProvider) -> float:
    """From spawning a server to the first edit of its first answer."""
    started = time.monotonic()
    bench = TimedBench(fake)
    await bench.start()
    editor = bench.open_text(QUESTION)
    await bench.command("chatvim.complete", editor.uri)
    await until(lambda: editor.uri in bench.first_edit)
    elapsed = (bench.first_edit[editor.uri] - started) * 1000
    await until(lambda: closing_written(editor))
    await bench.stop()
    return elapsed


async def answer_waits(fake: FakeProvider, think: float, later: int) -> list[float]:
    """One fresh session: for its first answer and `later` more, the ms from
    sending `chatvim.complete` to the provider having the request. Each
    answer goes to a chat opened `think` seconds before asking."""
    bench = TimedBench(fake)
    await bench.start()
    waits = []
    for _ in range(1 + later):
        editor = bench.open_text(QUESTION)
        if think:
            await asyncio.sleep(think)
        seen = len(fake.requests)
        sent = time.monotonic()
        await bench.command("chatvim.complete", editor.uri)  # answered at once; the stream goes on
        await until(lambda seen=seen: len(fake.requests) > seen)
        waits.append((fake.requests[seen].started - sent) * 1000)
        await until(lambda editor=editor: closing_written(editor))
        bench.close(editor)
    await bench.stop()
    return waits


async def footprint(fake: FakeProvider) -> tuple[float, float, float]:
    """Resident memory idle, with a chat open (nothing asked), after 200 completions."""
    bench = TimedBench(fake)
    await bench.start()
    pid = bench.client._server.pid  # type: ignore[union-attr]
    idle = await settled_rss_mb(pid)
    editor = bench.open_text(QUESTION)
    await bench.command("chatvim.stop", editor.uri)  # a round trip: the server has the document
    chat_open = await settled_rss_mb(pid)
    bench.close(editor)
    for _ in range(200):
        editor = bench.open_text(QUESTION)
        await bench.command("chatvim.complete", editor.uri)
        await until(lambda editor=editor: closing_written(editor))
        bench.close(editor)
    after = rss_mb(pid)
    await bench.stop()
    return idle, chat_open, after


async def settled_rss_mb(pid: int) -> float:
    """Resident memory once it stops changing (anything loading in the
    background after `initialize` counts as idle)."""
    last = rss_mb(pid)
    while True:
        await asyncio.sleep(0.5)
        now = rss_mb(pid)
        if now == last:
            return now
        last = now


@contextmanager
def cached_bytecode(wanted: bool) -> Iterator[str]:
    """Run the servers with their bytecode cached in a temporary directory
    (as pip leaves an installed package), or as the environment has it.
    Yields what was measured, in words."""
    if not wanted:
        yield bytecode_state()
        return
    saved = dict(SERVER_ENV)
    with tempfile.TemporaryDirectory(prefix="chatvim-bench-pycache-") as prefix:
        SERVER_ENV.pop("PYTHONDONTWRITEBYTECODE", None)  # the dict every bench client starts servers with
        SERVER_ENV["PYTHONPYCACHEPREFIX"] = prefix
        try:
            yield "cached for both servers (a temporary PYTHONPYCACHEPREFIX, written by an untimed start)"
        finally:
            SERVER_ENV.clear()
            SERVER_ENV.update(saved)


def bytecode_state() -> str:
    if SERVER_ENV.get("PYTHONPYCACHEPREFIX"):
        return f"as the environment has it (PYTHONPYCACHEPREFIX={SERVER_ENV['PYTHONPYCACHEPREFIX']})"
    spec = importlib.util.find_spec("chatvim_ls.server")
    source = spec.origin if spec else None
    if source and Path(importlib.util.cache_from_source(source)).exists():
        return "chatvim_ls's bytecode cached (__pycache__)"
    if SERVER_ENV.get("PYTHONDONTWRITEBYTECODE"):
        return (
            "chatvim_ls's sources compiled at every start (PYTHONDONTWRITEBYTECODE is set and there is no "
            "__pycache__; pygls' and lsprotocol's bytecode is cached); --cached-bytecode for an installed package"
        )
    return "chatvim_ls's bytecode written by the first start"


async def measure(quick: bool = False, bytecode: bool = False, think: float = THINK) -> Startup:
    runs, sessions, later = (QUICK_RUNS, QUICK_SESSIONS, QUICK_LATER) if quick else (RUNS, SESSIONS, LATER)
    fake = FakeProvider()
    await fake.start()
    fake.scenarios["m"] = Scenario.text(["word "] * 20)
    with cached_bytecode(bytecode) as state:
        if bytecode:  # untimed starts that write the bytecode
            await timed_initialize(sys.executable, *OURS)
            await timed_initialize(sys.executable, BARE)
        ours, bare = [], []
        for _ in range(runs):  # interleaved, so both see the same machine
            ours.append(await timed_initialize(sys.executable, *OURS))
            bare.append(await timed_initialize(sys.executable, BARE))
        paused, at_once = [], []
        for _ in range(sessions):  # interleaved too
            paused.append(await answer_waits(fake, think, later))
            at_once.append(await answer_waits(fake, 0.0, later))
        first: list[float] = []
        idle = after = 0.0
        chat_open = None
        if not quick:
            first = [await first_edit_ms(fake) for _ in range(5)]
            idle, chat_open, after = await footprint(fake)
    await fake.stop()
    return Startup(
        initialize_ms=[ms for ms, _ in ours], bare_initialize_ms=[ms for ms, _ in bare], first_edit_ms=first,
        idle_rss_mb=idle, rss_after_200_mb=after, initialize_cpu_ms=[cpu for _, cpu in ours],
        bare_initialize_cpu_ms=[cpu for _, cpu in bare], first_answer_ms=[waits[0] for waits in paused],
        later_answer_ms=[w for waits in paused for w in waits[1:]],
        first_answer_at_once_ms=[waits[0] for waits in at_once],
        later_answer_at_once_ms=[w for waits in at_once for w in waits[1:]], chat_open_rss_mb=chat_open,
        think=think, bytecode=state, quick=quick,
    )  # fmt: skip


def table(result: Startup) -> str:
    median = statistics.median
    ours, bare = median(result.initialize_ms), median(result.bare_initialize_ms)
    runs = len(result.initialize_ms)
    rows = [
        "| start-up and first answer (medians) | chatvim-ls | compared with | ratio |",
        "|---|---|---|---|",
        f"| spawn -> `initialize` answered ({runs} starts each, in turn) | {ours:.0f} ms "
        f"| {bare:.0f} ms, a bare pygls server | {ours / bare:.2f}x |",
    ]
    if result.initialize_cpu_ms and result.bare_initialize_cpu_ms:
        cpu, bare_cpu = median(result.initialize_cpu_ms), median(result.bare_initialize_cpu_ms)
        rows.append(
            f"| the same, CPU time of the server process | {cpu:.0f} ms | {bare_cpu:.0f} ms | {cpu / bare_cpu:.2f}x |"
        )
    sessions = len(result.first_answer_ms)
    for way, first, later in [
        (f"{result.think * 1000:.0f} ms after didOpen", result.first_answer_ms, result.later_answer_ms),
        ("right after didOpen, the worst case", result.first_answer_at_once_ms, result.later_answer_at_once_ms),
    ]:
        if first and later:
            rows.append(
                f"| `chatvim.complete` sent -> provider has the request, asked {way} ({sessions} sessions) "
                f"| {median(first):.0f} ms, first answer | {median(later):.0f} ms, a later answer "
                f"| {median(first) / median(later):.1f}x |"
            )
    if result.first_edit_ms:
        rows.append(f"| spawn -> first edit of the first answer | {median(result.first_edit_ms):.0f} ms | | |")
    if not result.quick:
        rows.append(f"| resident memory, idle | {result.idle_rss_mb:.1f} MB | | |")
        if result.chat_open_rss_mb is not None:
            rows.append(f"| resident memory, a chat open, nothing asked | {result.chat_open_rss_mb:.1f} MB | | |")
        rows.append(f"| resident memory after 200 completions | {result.rss_after_200_mb:.1f} MB | | |")
    if result.bytecode:
        rows.append(f"\nBytecode: {result.bytecode}.")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only `initialize` and the first answer, fewer runs")
    parser.add_argument(
        "--cached-bytecode", action="store_true", help="both servers with cached bytecode (an installed package)"
    )
    parser.add_argument(
        "--think", type=float, default=THINK, metavar="SECONDS", help=f"pause between didOpen and complete ({THINK})"
    )
    args = parser.parse_args()
    print(table(asyncio.run(measure(quick=args.quick, bytecode=args.cached_bytecode, think=args.think))))


if __name__ == "__main__":
    main()
