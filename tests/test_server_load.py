"""Load over real stdio: many documents streaming at once, an editor slow to
apply edits, and memory over many completions (the last behind `-m slow`;
figures: bench/robustness.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .fake_provider import FakeProvider, Scenario
from .lsp_editor import QUESTION, EditorClient, closing_written, complete, open_chat, wait_until, written

TOKENS = 400
RATE = 200  # tokens a second


@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)
async def test_ten_documents_streaming_at_once(client: EditorClient, fake: FakeProvider) -> None:
    editors = []
    for n in range(10):
        model = f"m{n}"
        fake.scenarios[model] = Scenario.rate(TOKENS, RATE, word=f"d{n} ")
        editors.append(open_chat(client, QUESTION.replace('"m"', f'"{model}"'), name=f"load-{n}.md"))
    await asyncio.gather(*(complete(client, editor) for editor in editors))
    await wait_until(lambda: all(closing_written(e) for e in editors), timeout=30)
    for n, editor in enumerate(editors):  # each answer whole, in its own document
        assert editor.text == QUESTION.replace('"m"', f'"m{n}"')[:-1] + written(f"d{n} " * TOKENS) + "\n"


@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)
async def test_an_editor_slow_to_apply_edits_gets_them_one_at_a_time(client: EditorClient,
                                                                     fake: FakeProvider) -> None:  # fmt: skip
    """50 ms per edit, 5 ms per token: text waiting for the editor is coalesced
    into the next edit; nothing queues up in the editor, nothing is lost."""
    fake.scenarios["m"] = Scenario.rate(TOKENS, RATE)
    editor = open_chat(client)
    editor.apply_delay = 0.05
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor), timeout=30)
    assert editor.text == QUESTION[:-1] + written("tok " * TOKENS) + "\n"
    assert editor.most_applying == 1  # one edit in flight at a time: no queue in the editor
    assert len(editor.edits) < TOKENS / 4  # coalesced (about one edit per 50 ms of tokens)


@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)
async def test_an_edit_the_editor_is_slow_to_answer_sends_a_line_to_its_log(client: EditorClient,
                                                                           fake: FakeProvider) -> None:  # fmt: skip
    """Emacs 28 and 29 read a request left in their input only when more
    comes (server.py `answer_to`): a line for the log after 0.25 s without an
    answer, and every 2 s after that; none once the editor has answered."""
    fake.scenarios["m"] = Scenario.text(["one"])
    editor = open_chat(client)
    editor.apply_delay = 2.75  # a line after 0.25 s, another after 2.25 s (and the next at 4.25)
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor), timeout=30)
    nudges = [m for m in client.log_messages if m.message == "waiting for the editor to answer an edit"]
    assert len(nudges) == 2 * len(editor.edits)
    assert editor.text == QUESTION[:-1] + written("one") + "\n"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
@pytest.mark.parametrize("client", ["visual-studio-code"], indirect=True)
async def test_memory_is_stable_over_200_completions(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["word "] * 100)
    pid = client._server.pid  # type: ignore[union-attr]

    async def completions(count: int, start: int) -> None:
        for n in range(start, start + count):
            editor = open_chat(client, name=f"mem-{n}.md")
            await complete(client, editor)
            await wait_until(lambda editor=editor: closing_written(editor))
            editor.close()

    await completions(50, 0)  # warm up: imports, caches, the connection pool
    before = rss_kb(pid)
    await completions(200, 50)
    growth = rss_kb(pid) - before
    print(f"server RSS over 200 completions: {before} kB -> {before + growth} kB ({growth:+d} kB)")
    assert growth < 2_000  # measured: about +400 kB; a new openai client per answer made it about +4,000
