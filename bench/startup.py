"""Start-up and footprint of the language server, over real stdio.

    python bench/startup.py            # from the repository root, with the test extras installed

Prints the time from spawning the server to its `initialize` answer, next
to a bare pygls server that does nothing (bench/bare_server.py); the time to
the first edit of the first completion; resident memory idle and after 200
completions.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
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

RUNS = 20
BARE = str(Path(__file__).resolve().parent / "bare_server.py")


@dataclass
class Startup:
    initialize_ms: list[float]
    bare_initialize_ms: list[float]
    first_edit_ms: list[float]
    idle_rss_mb: float
    rss_after_200_mb: float


async def initialize_ms(*command: str) -> float:
    client = make_test_lsp_client()
    started = time.monotonic()
    await client.start_io(*command, env=SERVER_ENV)
    await client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("neovim@0.11")))
    elapsed = (time.monotonic() - started) * 1000
    await client.shutdown_session()
    return elapsed


async def first_edit_ms(fake: FakeProvider) -> float:
    """From spawning a server to the first edit of its first answer."""
    started = time.monotonic()
    bench = TimedBench(fake)
    await bench.start()
    editor = bench.open_text(FRONT_MATTER + "# === USER ===\n\nGo.\n")
    await bench.command("chatvim.complete", editor.uri)
    await until(lambda: editor.uri in bench.first_edit)
    elapsed = (bench.first_edit[editor.uri] - started) * 1000
    await until(lambda: closing_written(editor))
    await bench.stop()
    return elapsed


async def footprint(fake: FakeProvider) -> tuple[float, float]:
    bench = TimedBench(fake)
    await bench.start()
    pid = bench.client._server.pid  # type: ignore[union-attr]
    idle = await settled_rss_mb(pid)
    for _ in range(200):
        editor = bench.open_text(FRONT_MATTER + "# === USER ===\n\nGo.\n")
        await bench.command("chatvim.complete", editor.uri)
        await until(lambda editor=editor: closing_written(editor))
        bench.close(editor)
    after = rss_mb(pid)
    await bench.stop()
    return idle, after


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


async def measure() -> Startup:
    fake = FakeProvider()
    await fake.start()
    fake.scenarios["m"] = Scenario.text(["word "] * 20)
    ours, bare = [], []
    for _ in range(RUNS):  # interleaved, so both see the same machine
        ours.append(await initialize_ms(sys.executable, "-m", "chatvim_ls"))
        bare.append(await initialize_ms(sys.executable, BARE))
    first = [await first_edit_ms(fake) for _ in range(5)]
    idle, after = await footprint(fake)
    await fake.stop()
    return Startup(ours, bare, first, idle, after)


def table(result: Startup) -> str:
    ours, bare = statistics.median(result.initialize_ms), statistics.median(result.bare_initialize_ms)
    return "\n".join([
        "| start-up and footprint | |",
        "|---|---|",
        f"| spawn -> `initialize` answered, chatvim-ls | {ours:.0f} ms (median of {RUNS}) |",
        f"| the same, a bare pygls server | {bare:.0f} ms ({ours / bare:.2f}x) |",
        f"| spawn -> first edit of the first answer | {statistics.median(result.first_edit_ms):.0f} ms |",
        f"| resident memory, idle | {result.idle_rss_mb:.1f} MB |",
        f"| resident memory after 200 completions | {result.rss_after_200_mb:.1f} MB |",
    ])  # fmt: skip


if __name__ == "__main__":
    print(table(asyncio.run(measure())))
