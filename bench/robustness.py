"""Figures for the README's reliability section: big documents, load and
memory, over real stdio against the fake provider.

    python bench/robustness.py        # from the repository root, with the test extras installed

Prints:
- from `chatvim.complete` to the first `workspace/applyEdit` reaching the
  editor, for a 10 MB chat of 20,000 turns, a 100,000-line document and a
  1 MB line (the target: within 2 s);
- 10 documents streaming at once at 200 tokens/s each: the time until all
  are complete, and that none is mixed up;
- the server's resident memory every 100 completions, up to 400.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import Bench, until
from tests.fake_provider import FakeProvider, Scenario
from tests.lsp_editor import EditorCopy, closing_written
from tests.test_server_load import rss_kb

FRONT_MATTER = '+++\nmodel = "m"\nprovider = "fake"\n+++\n'
TURN = "# === USER ===\n\n" + "q" * 480 + "\n\n# === ASSISTANT ===\n\n" + "a" * 480 + "\n\n"
DOCUMENTS = {
    "10 MB, 20,000 turns": FRONT_MATTER + TURN * 10_000 + "# === USER ===\n\nlast?\n",
    "100,000 lines": FRONT_MATTER + "# === USER ===\n\n" + "".join(f"line {i}\n" for i in range(100_000)),
    "one 1 MB line": FRONT_MATTER + "# === USER ===\n\n" + "wide 🙂 and narrow é " * 50_000 + "\n",
}
RUNS = 5


class TimedBench(Bench):
    """Notes when each document's first edit arrives."""

    def __init__(self, fake: FakeProvider) -> None:
        super().__init__(fake)
        self.first_edit: dict[str, float] = {}

    async def start(self) -> None:
        await super().start()
        original = self.client.protocol.fm.features[lsp.WORKSPACE_APPLY_EDIT]

        async def timed(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
            uri = params.edit.document_changes[0].text_document.uri  # type: ignore[index, union-attr]
            self.first_edit.setdefault(uri, time.monotonic())
            return await original(params)

        self.client.protocol.fm.features[lsp.WORKSPACE_APPLY_EDIT] = timed

    def open_text(self, text: str) -> EditorCopy:
        self.count += 1
        editor = EditorCopy(self.client, f"file:///tmp/bench-{self.count}.md", text)
        editor.open()
        return editor

    def close(self, editor: EditorCopy) -> None:
        editor.close()


async def first_edit_times(bench: TimedBench, text: str) -> list[float]:
    bench.fake.scenarios["m"] = Scenario.text(["ok"])
    times = []
    for _ in range(RUNS):
        editor = bench.open_text(text)
        await bench.command("chatvim.stop", editor.uri)  # a round trip: the server has read the document
        started = time.monotonic()
        await bench.command("chatvim.complete", editor.uri)
        await until(lambda editor=editor: editor.uri in bench.first_edit, timeout=60)
        times.append(bench.first_edit[editor.uri] - started)
        await until(lambda editor=editor: closing_written(editor), timeout=60)
        bench.close(editor)
    return times


async def ten_at_once(bench: TimedBench) -> tuple[float, bool]:
    editors = []
    for n in range(10):
        bench.fake.scenarios[f"m{n}"] = Scenario.rate(400, 200, word=f"d{n} ")
        editors.append(bench.open_text(FRONT_MATTER.replace('"m"', f'"m{n}"') + "# === USER ===\n\nGo.\n"))
    started = time.monotonic()
    await asyncio.gather(*(bench.command("chatvim.complete", e.uri) for e in editors))
    await until(lambda: all(closing_written(e) for e in editors), timeout=60)
    elapsed = time.monotonic() - started
    whole = all(e.answer().count(f"d{n} ") == 400 and e.answer().count("d") == 400 for n, e in enumerate(editors))
    return elapsed, whole


def rss_mb(pid: int) -> float:
    return rss_kb(pid) / 1024


async def memory(bench: TimedBench, rounds: int = 4, per_round: int = 100) -> list[float]:
    bench.fake.scenarios["m"] = Scenario.text(["word "] * 100)
    pid = bench.client._server.pid  # type: ignore[union-attr]
    samples = [rss_mb(pid)]
    for _ in range(rounds):
        for _ in range(per_round):
            editor = bench.open_text(FRONT_MATTER + "# === USER ===\n\nTell me a story.\n")
            await bench.command("chatvim.complete", editor.uri)
            await until(lambda editor=editor: closing_written(editor))
            bench.close(editor)
        samples.append(rss_mb(pid))
    return samples


async def main() -> None:
    fake = FakeProvider()
    await fake.start()
    bench = TimedBench(fake)
    await bench.start()
    await first_edit_times(bench, FRONT_MATTER + "# === USER ===\n\nwarm up\n")  # loads openai
    for name, text in DOCUMENTS.items():
        times = await first_edit_times(bench, text)
        print(f"first edit, {name:20} median {statistics.median(times):.2f} s   max {max(times):.2f} s   ({RUNS} runs)")
    elapsed, whole = await ten_at_once(bench)
    print(f"10 documents x 400 tokens at 200/s: all complete in {elapsed:.2f} s, "
          f"{'each answer whole and in its own document' if whole else 'MIXED UP'}")  # fmt: skip
    samples = await memory(bench)
    steps = "  ".join(f"{n * 100}: {mb:.1f}" for n, mb in enumerate(samples))
    print(f"server RSS (MB) after N completions   {steps}   (growth after the first 100: "
          f"{samples[-1] - samples[1]:+.1f} MB)")  # fmt: skip
    await bench.stop()
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
