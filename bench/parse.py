"""Parse time of a 5 MB chat with 20,000 turns (issue 2's speed target).

Run: python bench/parse.py
Prints the median of several parses; the target is well under 1 s.
"""

from __future__ import annotations

import statistics
import time

from chatvim_ls.chat import parse_chat

TURNS = 20_000
TARGET_BYTES = 5_000_000


def build_chat(turns: int = TURNS, size: int = TARGET_BYTES) -> str:
    parts = ['+++\nmodel = "gpt-4.1"\ntemperature = 0.2\n+++\n\n']
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
    per_turn = size // turns
    for i in range(turns):
        role = "USER" if i % 2 == 0 else "ASSISTANT"
        body = (filler * (per_turn // len(filler) + 1))[: per_turn - 24]
        if i % 10 == 1:  # some answers hold code, with a delimiter hidden inside
            body = body[:-60] + "\n```python\n# === USER ===\nprint(1)\n```\n"
        parts.append(f"# === {role} ===\n\n{body}\n\n")
    return "".join(parts)


def median_parse_seconds(text: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        parse_chat(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    text = build_chat()
    turns = len(parse_chat(text).turns)
    assert turns == TURNS, turns
    full = median_parse_seconds(text)
    half = median_parse_seconds(build_chat(TURNS // 2, TARGET_BYTES // 2))
    print(f"chat: {len(text.encode()) / 1e6:.1f} MB, {text.count(chr(10))} lines, {turns} turns")
    print(f"parse: {full * 1000:.0f} ms (median of 5; target well under 1000 ms)")
    print(f"linearity: half the chat parses in {half * 1000:.0f} ms; full/half = {full / half:.2f} (2.00 is linear)")


if __name__ == "__main__":
    main()
