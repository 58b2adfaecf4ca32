"""Figures of the language server over real stdio, against the fake provider.

    python bench/server.py            # from the repository root, with the test extras installed

Prints:
- how long `chatvim.complete` takes to answer (the stream goes on after);
- how long from `chatvim.stop` to the progress `end`, and to the provider
  connection being closed;
- how many `workspace/applyEdit` calls an answer takes, with an editor that
  applies edits at once and one that takes 50 ms per edit.

The test client (tests/lsp_editor.py) plays the editor; it is the same code
the test suite uses. Timings are medians over several runs; the machine is
shared, so read them as orders of magnitude.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types as lsp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import SERVER_ENV, init_options
from tests.fake_provider import FakeProvider, Scenario
from tests.lsp_editor import EditorClient, EditorCopy, closing_written, streams_ended

RUNS = 15
POLL = 0.0005  # seconds between looks at the client's state


# `...`, not `[]`: mypy types no lambda with defaults (`lambda editor=editor: ...`) against `[]` (python/mypy#12557)
async def until(predicate: Callable[..., object], timeout: float = 30.0) -> float:
    """Wait for `predicate`; return the moment it became true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not get there in time")
        await asyncio.sleep(POLL)
    return time.monotonic()


class Bench:
    def __init__(self, fake: FakeProvider, edit_delay: float = 0.0) -> None:
        self.fake = fake
        self.edit_delay = edit_delay
        self.client = EditorClient("visual-studio-code")
        self.count = 0

    async def start(self) -> None:
        client = self.client
        await client.start_io(sys.executable, "-m", "chatvim_ls", env=SERVER_ENV)
        await client.start_session(client.preset_capabilities(), init_options(self.fake))

    async def stop(self) -> None:
        await self.client.shutdown_session()

    def open_chat(self) -> EditorCopy:
        self.count += 1
        text = '+++\nmodel = "m"\nprovider = "fake"\n+++\n# === USER ===\n\nTell me a story.\n'
        editor = EditorCopy(self.client, f"file:///tmp/bench-{self.count}.md", text)
        editor.apply_delay = self.edit_delay
        editor.open()
        return editor

    async def command(self, name: str, *args: str) -> object:
        return await self.client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command=name, arguments=list(args))
        )


async def complete_answer_times(bench: Bench) -> list[float]:
    bench.fake.scenarios["m"] = Scenario.text(["short answer"])
    times = []
    for _ in range(RUNS):
        editor = bench.open_chat()
        started = time.monotonic()
        await bench.command("chatvim.complete", editor.uri)
        times.append(time.monotonic() - started)
        await until(lambda editor=editor: closing_written(editor))
    return times


async def stop_times(bench: Bench) -> tuple[list[float], list[float]]:
    bench.fake.scenarios["m"] = Scenario.rate(5000, 200)
    to_end, to_close = [], []
    for _ in range(RUNS):
        editor = bench.open_chat()
        ends = streams_ended(bench.client)
        requests = len(bench.fake.requests)
        await bench.command("chatvim.complete", editor.uri)
        await until(lambda editor=editor: editor.text.count("tok") > 20)
        request = bench.fake.requests[requests]
        stopped = time.monotonic()
        await bench.command("chatvim.stop", editor.uri)
        to_end.append(await until(lambda ends=ends: streams_ended(bench.client) > ends) - stopped)
        await request.closed.wait()
        to_close.append(request.closed_at - stopped)  # type: ignore[operator]
        await until(lambda editor=editor: closing_written(editor))
    return to_end, to_close


async def edits_per_answer(bench: Bench, tokens: int = 400, rate: float = 200) -> tuple[int, float]:
    bench.fake.scenarios["m"] = Scenario.rate(tokens, rate)
    editor = bench.open_chat()
    started = time.monotonic()
    await bench.command("chatvim.complete", editor.uri)
    await until(lambda: closing_written(editor))
    assert editor.text.count("tok") == tokens, "tokens were lost"
    return len(editor.edits), time.monotonic() - started


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    median = statistics.median(values)
    return f"median {median * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   max {max(values) * 1000:6.1f} ms"


async def main() -> None:
    fake = FakeProvider()
    await fake.start()
    with tempfile.TemporaryDirectory():
        bench = Bench(fake)
        await bench.start()
        answer = await complete_answer_times(bench)
        to_end, to_close = await stop_times(bench)
        fast_edits, fast_seconds = await edits_per_answer(bench)
        await bench.stop()
        slow = Bench(fake, edit_delay=0.05)
        await slow.start()
        await edits_per_answer(slow, tokens=5)  # warm-up: the first completion also loads openai
        slow_edits, slow_seconds = await edits_per_answer(slow)
        await slow.stop()
    await fake.stop()
    print(f"chatvim.complete answered          {ms(answer)}   ({RUNS} runs)")
    print(f"stop -> progress end               {ms(to_end)}")
    print(f"stop -> provider connection closed {ms(to_close)}")
    print(f"400 tokens at 200/s, fast editor:  {fast_edits} edits in {fast_seconds:.2f} s "
          f"({fast_edits / fast_seconds:.0f}/s)")  # fmt: skip
    print(f"400 tokens at 200/s, 50 ms/edit:   {slow_edits} edits in {slow_seconds:.2f} s "
          f"({slow_edits / slow_seconds:.0f}/s), no token lost")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
