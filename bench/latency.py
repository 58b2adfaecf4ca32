"""Token -> buffer latency in a real Neovim 0.11, the way a user sees it.

    python bench/latency.py            # from the repository root, with the test extras installed

The fake provider notes when it sends each token (`tNNNN `); Neovim notes
when each first appears in the buffer (`nvim_buf_attach` `on_lines`); both
clocks are CLOCK_MONOTONIC. Three ways to get the same stream into a buffer:

- chatvim-ls: the plugin and the language server (`:ChatvimComplete`);
- curl pipe: `curl -N` under `jobstart`, each chunk appended as it comes
  (the floor: nothing in between);
- 100 ms timer: the same pipe, appended by a 100 ms flush timer (chatvim.nvim).

Each figure is the median run (by p95) of three. Also the growth with the
chat's size: chatvim-ls at 200 tokens/s into chats of 1 KB to 10 MB, with
the server's CPU time per edit (from the first token on) and to start the
answer (reading and sending the chat, once).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_provider import Scenario, ThreadedFake
from tests.test_nvim import attached, eventually, make_home, start_nvim

RATES = {50: 200, 200: 400, 1000: 1000}  # tokens/s: tokens per run
SIZES = {"1 KB": 1_000, "200 KB": 200_000, "2 MB": 2_000_000, "10 MB": 10_000_000}

WATCH = """
-- Note when each token first appears in buffer `buf`: BENCH.seen[id] = hrtime.
BENCH = { seen = {}, changes = 0 }
vim.api.nvim_buf_attach(..., false, {
  on_lines = function(_, buf, _, first, _, new_last)
    local now = vim.uv.hrtime()
    BENCH.changes = BENCH.changes + 1
    for _, line in ipairs(vim.api.nvim_buf_get_lines(buf, first, new_last, false)) do
      for id in line:gmatch('t(%d+) ') do
        BENCH.seen[id] = BENCH.seen[id] or now
      end
    end
  end,
})
"""

PIPE = """
-- curl -N | jobstart, appending each token at once, or with a flush timer.
local buf, url, body, flush_ms = ...
local pending, partial, timer = '', '', nil
local function append(text)
  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, vim.split(line .. text, '\\n', { plain = true }))
end
if flush_ms > 0 then
  timer = vim.uv.new_timer()
  timer:start(flush_ms, flush_ms, vim.schedule_wrap(function()
    if pending ~= '' then append(pending); pending = '' end
  end))
end
BENCH.done = false
vim.fn.jobstart({ 'curl', '-sN', url, '-H', 'Content-Type: application/json', '-d', body }, {
  on_stdout = function(_, data)
    data[1] = partial .. data[1]
    partial = table.remove(data)
    for _, line in ipairs(data) do
      local payload = line:match('^data: (.+)$')
      if payload and payload ~= '[DONE]' then
        local event = vim.json.decode(payload)
        local delta = event.choices and event.choices[1] and event.choices[1].delta
        local text = delta and delta.content
        if type(text) == 'string' and text ~= '' then
          if timer then pending = pending .. text else append(text) end
        end
      end
    end
  end,
  on_exit = function()
    if timer then timer:stop(); timer:close(); if pending ~= '' then append(pending) end end
    BENCH.done = true
  end,
})
"""


@dataclass
class Run:
    way: str
    rate: int
    latencies_ms: list[float]
    lost: int
    changes: int = 0
    cpu_ms_per_edit: float | None = None
    cpu_ms_to_start: float | None = None

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def tokens(count: int) -> list[str]:
    return [f"t{i:04d} " for i in range(count)]


class Session:
    """A Neovim with the plugin, and the fake provider in a thread."""

    def __init__(self) -> None:
        self.threaded = ThreadedFake()
        self.fake = self.threaded.fake
        self.home = make_home(Path(tempfile.mkdtemp(prefix="chatvim-bench-")), self.fake.base_url)
        self.nvim = start_nvim(self.home)
        self.count = 0

    def close(self) -> None:
        self.nvim.close()
        self.threaded.stop()

    def server_pid(self) -> int:
        found = subprocess.run(["pgrep", "-P", str(self.nvim.funcs.getpid())], capture_output=True, text=True)
        return int(found.stdout.split()[0])

    def new_buffer(self, text: str, suffix: str = ".md") -> None:
        self.count += 1
        path = self.home / "chats" / f"bench-{self.count}{suffix}"  # .txt: no language server involved
        path.write_text(text)
        self.nvim.command(f"silent edit {path}")
        self.nvim.exec_lua(WATCH, self.nvim.current.buffer.number)

    def scenario(self, rate: int, count: int) -> None:
        self.fake.scenarios["m"] = Scenario.text(tokens(count), delay=1 / rate, paced=True)

    def measure(self, way: str, rate: int, count: int, request_index: int) -> Run:
        seen = self.nvim.exec_lua("return BENCH.seen")
        sent = {}
        for at, payload in self.fake.requests[request_index].sent:
            choices = json.loads(payload).get("choices") or [{}]
            text = (choices[0].get("delta") or {}).get("content") or ""
            if text.startswith("t"):
                sent[text[1:5]] = at
        latencies = [(seen[i] - at) / 1e6 for i, at in sent.items() if i in seen]
        changes = int(self.nvim.exec_lua("return BENCH.changes"))
        return Run(way, rate, latencies, lost=count - len(latencies), changes=changes)

    def chatvim(self, rate: int, count: int, history: str = "") -> Run:
        self.scenario(rate, count)
        self.new_buffer(history + "# === USER ===\n\nGo.\n")
        eventually(lambda: attached(self.nvim), timeout=60)
        index = len(self.fake.requests)
        pid = self.server_pid()
        cpu_before = cpu_seconds(pid)
        self.nvim.command("ChatvimComplete")
        # Per-edit CPU counts from the first token on: reading the chat and sending
        # it (once per answer, and proportional to its size) is `cpu_ms_to_start`.
        eventually(lambda: self.nvim.exec_lua("return next(BENCH.seen) ~= nil"), timeout=120)
        cpu_at_first, changes_at_first = cpu_seconds(pid), int(self.nvim.exec_lua("return BENCH.changes"))
        eventually(lambda: self.nvim.current.buffer[-2:] == ["# === USER ===", ""], timeout=120)
        run = self.measure("chatvim-ls", rate, count, index)
        run.cpu_ms_to_start = (cpu_at_first - cpu_before) * 1000
        run.cpu_ms_per_edit = (cpu_seconds(pid) - cpu_at_first) * 1000 / max(1, run.changes - changes_at_first)
        return run

    def pipe(self, way: str, rate: int, count: int, flush_ms: int) -> Run:
        self.scenario(rate, count)
        self.new_buffer("", suffix=".txt")
        index = len(self.fake.requests)
        body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "Go."}]})
        self.nvim.exec_lua(PIPE, self.nvim.current.buffer.number, f"{self.fake.base_url}/chat/completions", body,
                           flush_ms)  # fmt: skip
        eventually(lambda: self.nvim.exec_lua("return BENCH.done"), timeout=120)
        return self.measure(way, rate, count, index)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


REPEATS = 3  # each figure is the run with the median p95 of this many: the machine is shared


def median_run(make: Callable[[], Run]) -> Run:
    runs = sorted((make() for _ in range(REPEATS)), key=lambda run: run.percentile(0.95))
    return runs[len(runs) // 2]


def latency_runs(session: Session) -> list[Run]:
    runs = []
    session.chatvim(200, 20)  # warm up: the server imports openai on its first answer
    for rate, count in RATES.items():
        runs.append(median_run(lambda: session.chatvim(rate, count)))  # noqa: B023 (called at once)
        runs.append(median_run(lambda: session.pipe("curl pipe", rate, count, 0)))  # noqa: B023
        runs.append(median_run(lambda: session.pipe("100 ms timer", rate, count, 100)))  # noqa: B023
    return runs


def growth_runs(session: Session) -> dict[str, Run]:
    turn = "# === USER ===\n\n" + "q" * 480 + "\n\n# === ASSISTANT ===\n\n" + "a" * 480 + "\n\n"
    runs = {}
    for name, size in SIZES.items():
        history = turn * max(1, size // len(turn))
        runs[name] = median_run(lambda: session.chatvim(200, 400, history))  # noqa: B023
    return runs


def main() -> None:
    session = Session()
    try:
        runs = latency_runs(session)
        growth = growth_runs(session)
    finally:
        session.close()
    print(latency_table(runs))
    print()
    print(growth_table(growth))


def latency_table(runs: list[Run]) -> str:
    lines = ["| way | tokens/s | p50 ms | p95 ms | max ms | lost |", "|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| {run.way} | {run.rate} | {run.p50:.1f} | {run.percentile(0.95):.1f} | "
                     f"{max(run.latencies_ms, default=float('nan')):.1f} | {run.lost} |")  # fmt: skip
    return "\n".join(lines)


def growth_table(growth: dict[str, Run]) -> str:
    lines = ["| chat history | p50 ms | p95 ms | max ms | lost | edits | server CPU per edit | server CPU to start |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, run in growth.items():
        lines.append(f"| {name} | {run.p50:.1f} | {run.percentile(0.95):.1f} | "
                     f"{max(run.latencies_ms, default=float('nan')):.1f} | {run.lost} | {run.changes} | "
                     f"{run.cpu_ms_per_edit:.2f} ms | {run.cpu_ms_to_start:.0f} ms |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
