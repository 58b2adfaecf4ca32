"""All the performance figures in one run: prints the tables and writes
docs/benchmarks.md with a plot (docs/latency.png).

    pip install -e '.[test,bench]'     # bench adds matplotlib, for the plot
    python bench/run.py                # from the repository root; 3 to 5 minutes

Each part also runs alone: bench/latency.py, bench/startup.py,
bench/server.py (edits), bench/keystrokes.py.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import keystrokes, latency, startup, tokens
from bench.server import Bench, edits_per_answer
from tests.fake_provider import FakeProvider
from tests.test_nvim import NVIM

DOCS = Path(__file__).resolve().parent.parent / "docs"


async def edit_counts() -> str:
    fake = FakeProvider()
    await fake.start()
    rows = ["| editor | edits per answer (400 tokens at 200/s) | edits per second |", "|---|---|---|"]
    for name, delay in (("applies at once", 0.0), ("takes 50 ms per edit", 0.05)):
        bench = Bench(fake, edit_delay=delay)
        await bench.start()
        await edits_per_answer(bench, tokens=5)  # warm up
        edits, seconds = await edits_per_answer(bench)
        await bench.stop()
        rows.append(f"| {name} | {edits} | {edits / seconds:.0f} |")
    await fake.stop()
    return "\n".join(rows)


def machine(load_before: tuple[float, float, float]) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    nvim = subprocess.run([NVIM, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    load = ", ".join(f"{n:.2f}" for n in load_before)
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {nvim}; load average before the run: {load}")  # fmt: skip


def plot(runs: list[latency.Run], growth: dict[str, latency.Run], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    ways = ["chatvim-ls", "curl pipe", "100 ms timer"]
    rates = sorted({run.rate for run in runs})
    for offset, way in enumerate(ways):
        values = [next(r.percentile(0.95) for r in runs if r.way == way and r.rate == rate) for rate in rates]
        left.bar([i + offset * 0.27 for i in range(len(rates))], values, width=0.27, label=way)
    left.set_xticks([i + 0.27 for i in range(len(rates))], [f"{rate} tokens/s" for rate in rates])
    left.axhline(16, color="grey", linestyle="--", linewidth=1, label="16 ms (one frame)")
    left.set_ylabel("token -> buffer, p95 (ms)")
    left.set_title("Latency in Neovim 0.11")
    left.legend()
    names = list(growth)
    right.plot(names, [growth[n].percentile(0.95) for n in names], marker="o", label="p95 latency (ms)")
    right.plot(names, [growth[n].cpu_ms_per_edit for n in names], marker="s", label="server CPU per edit (ms)")
    right.set_title("chatvim-ls at 200 tokens/s, by chat size")
    right.set_ylim(bottom=0)
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True


def main() -> None:
    load_before = os.getloadavg()  # (what else the machine was doing: the run itself adds one core's worth)
    session = latency.Session()
    try:
        runs = latency.latency_runs(session)
        growth = latency.growth_runs(session)
    finally:
        session.close()
    started = asyncio.run(startup.measure(bytecode=True))  # like with like: pygls' bytecode is cached too
    per_token = asyncio.run(tokens.measure())
    idle, streaming, three = keystrokes.measure()
    tables = {
        "Targets": targets(runs, growth, started, per_token, idle, streaming),
        "Server CPU per token (a plain JSON-RPC client that applies every edit at once)": tokens.table(per_token),
        "Token -> buffer latency in Neovim 0.11": latency.latency_table(runs),
        "Growth with the chat's size (chatvim-ls, 200 tokens/s, 400 tokens)": latency.growth_table(growth),
        "Start-up and footprint": startup.table(started),
        "Edits": asyncio.run(edit_counts()),
        "Typing while answers stream (tmux, markdown highlighting on)": keystrokes.table(idle, streaming, three),
    }
    for title, table in tables.items():
        print(f"{title}\n\n{table}\n")
    DOCS.mkdir(exist_ok=True)
    plotted = plot(runs, growth, DOCS / "latency.png")
    write_docs(tables, plotted, machine(load_before))
    print(f"wrote {DOCS / 'benchmarks.md'}" + ("" if plotted else " (no plot: pip install matplotlib)"))


def targets(runs: list[latency.Run], growth: dict[str, latency.Run], started: startup.Startup,
            per_token: list[tokens.Figures], idle: list[float], streaming: list[float]) -> str:  # fmt: skip
    at_200 = next(r for r in runs if r.way == "chatvim-ls" and r.rate == 200)
    at_1000 = next(r for r in runs if r.way == "chatvim-ls" and r.rate == 1000)
    one, ten = per_token[0], per_token[1]
    sdk = next(f for f in per_token if "SDK" in f.name)
    small, big = growth["1 KB"], growth["2 MB"]
    cpu_small, cpu_big = small.cpu_ms_per_edit or 0.0, big.cpu_ms_per_edit or 0.0
    initialize = statistics.median(started.initialize_ms) / statistics.median(started.bare_initialize_ms)
    typing = statistics.median(streaming) / statistics.median(idle)
    first, later = statistics.median(started.first_answer_ms), statistics.median(started.later_answer_ms)
    rows = [
        ("p95 token -> buffer at 200 tokens/s", "≤ 1.0 ms, none lost",
         f"{at_200.percentile(0.95):.2f} ms, {at_200.lost} lost", at_200.percentile(0.95) <= 1.0 and at_200.lost == 0),
        ("p95 token -> buffer at 200 tokens/s, 2 MB of history", "≤ 1.0 ms",
         f"{big.percentile(0.95):.2f} ms", big.percentile(0.95) <= 1.0),
        ("p95 token -> buffer at 1,000 tokens/s", "≤ 3 ms, none lost",
         f"{at_1000.percentile(0.95):.2f} ms, {at_1000.lost} lost",
         at_1000.percentile(0.95) <= 3 and at_1000.lost == 0),
        ("server CPU per token, one answer at 200 tokens/s", "≤ 0.5 ms",
         f"{one.cpu_ms_per_token:.2f} ms (the openai SDK alone: {sdk.cpu_ms_per_token:.2f} ms)",
         one.cpu_ms_per_token <= 0.5),
        ("ten answers at once, 200 tokens/s each: p95 token -> applyEdit, share of a core", "≤ 10 ms at ≤ 0.6",
         f"{ten.p95:.1f} ms at {ten.core_share:.2f}", ten.p95 <= 10 and ten.core_share <= 0.6),
        ("p95 with 2 MB of history", "≤ 1.5x the 1 KB figure",
         f"{big.percentile(0.95):.1f} ms vs {small.percentile(0.95):.1f} ms "
         f"({big.percentile(0.95) / small.percentile(0.95):.2f}x)",
         big.percentile(0.95) <= 1.5 * small.percentile(0.95)),
        ("server CPU per edit, 2 MB vs 1 KB", "independent of size (here: ≤ 1.5x)",
         f"{cpu_big:.2f} ms vs {cpu_small:.2f} ms ({cpu_big / cpu_small:.2f}x)", cpu_big <= 1.5 * cpu_small),
        ("`initialize`, vs a bare pygls server (bytecode cached for both)", "≤ 1.15x", f"{initialize:.2f}x",
         initialize <= 1.15),
        (f"first answer asked {started.think:g} s after opening its chat, vs a later one", "as fast (here: ≤ 2x)",
         f"{first:.0f} ms vs {later:.0f} ms ({first / later:.1f}x)", first <= 2 * later),
        ("idle resident memory", "≤ 45 MB", f"{started.idle_rss_mb:.1f} MB", started.idle_rss_mb <= 45),
        ("keystroke echo while streaming, vs idle (p50)", "≤ 1.5x", f"{typing:.2f}x", typing <= 1.5),
    ]  # fmt: skip
    lines = ["| target | wanted | measured | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {wanted} | {got} | {'yes' if met else '**no**'} |" for name, wanted, got, met in rows]
    return "\n".join(lines)


def write_docs(tables: dict[str, str], plotted: bool, machine: str) -> None:
    template = (DOCS / "benchmarks.template.md").read_text()
    figures = "\n\n".join(f"### {title}\n\n{table}" for title, table in tables.items())
    text = template.format(date=date.today().isoformat(), machine=machine, figures=figures,
                           plot="![latency](latency.png)" if plotted else "(no plot: matplotlib missing)")  # fmt: skip
    (DOCS / "benchmarks.md").write_text(text)


if __name__ == "__main__":
    main()
