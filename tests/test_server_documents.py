"""Big and strange documents over real stdio: the answer lands exactly after
the question, whatever the document holds and however big it is.

(Timings for big documents are in bench/documents.py; these check the text.)
"""

from __future__ import annotations

import pytest

from .fake_provider import FakeProvider, Scenario
from .lsp_editor import OPENING, EditorClient, complete, ended, open_chat, wait_until

FRONT_MATTER = '+++\nmodel = "m"\nprovider = "fake"\n+++\n'
# Tabs, zero-width and direction marks, right-to-left text, NUL, the line
# separators that Python's splitlines breaks on but LSP does not, and
# characters that take 2 UTF-16 units and 4 UTF-8 bytes.
STRANGE = "\ttab\u200bzero\ufeffwidth \u202eRTL\u202c שלום مرحبا nul\x00 ff\x0c vt\x0b nel\x85 ls\u2028ps\u2029 🙂𝄞"


async def answer(client: EditorClient, fake: FakeProvider, text: str, pieces: list[str], **options: object) -> str:
    """Complete `text` with an answer of `pieces`; the document afterwards."""
    fake.scenarios["m"] = Scenario.text(pieces)
    editor = open_chat(client, text, **options)  # type: ignore[arg-type]
    await complete(client, editor)
    await wait_until(lambda: ended(client) and editor.text[len(text) :].rstrip("\r\n").endswith("USER ==="), timeout=30)
    assert editor.lost == []
    return editor.text


async def test_strange_characters_in_the_question_and_the_answer(client: EditorClient, fake: FakeProvider) -> None:
    question = FRONT_MATTER + f"# === USER ===\n\n{STRANGE}\n{STRANGE}\n"
    pieces = [STRANGE[i : i + 3] for i in range(0, len(STRANGE), 3)] + ["\n", STRANGE]
    text = await answer(client, fake, question, pieces)
    assert text == question + OPENING + STRANGE + "\n" + STRANGE + "\n\n# === USER ===\n\n"
    assert fake.requests[0].body["messages"][-1]["content"] == f"{STRANGE}\n{STRANGE}"


async def test_crlf_and_mixed_line_breaks(client: EditorClient, fake: FakeProvider) -> None:
    question = '+++\r\nmodel = "m"\nprovider = "fake"\r\n+++\r\n# === USER ===\r\n\r\nline one\nline two\r\n'
    text = await answer(client, fake, question, ["a\n", "b"])
    assert text == question + "\r\n# === ASSISTANT ===\r\n\r\na\r\nb\r\n\r\n# === USER ===\r\n\r\n"
    assert fake.requests[0].body["messages"][-1]["content"] == "line one\nline two"


async def test_a_very_long_last_line_without_a_line_break(client: EditorClient, fake: FakeProvider) -> None:
    long_line = "wide 🙂 and narrow é " * 50_000  # 1 MB, the answer's column is far to the right
    question = FRONT_MATTER + "# === USER ===\n\n" + long_line
    text = await answer(client, fake, question, ["ok"])
    assert text == question + "\n" + OPENING + "ok\n\n# === USER ===\n\n"


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)  # size, not encoding, is the point
async def test_a_document_of_100000_lines(client: EditorClient, fake: FakeProvider) -> None:
    body = "".join(f"line {i}\n" for i in range(100_000))
    question = FRONT_MATTER + "# === USER ===\n\n" + body
    text = await answer(client, fake, question, ["w "] * 50)
    assert text == question[:-1] + "\n" + OPENING + "w " * 50 + "\n\n# === USER ===\n\n"


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)
async def test_a_10_mb_chat_of_20000_turns(client: EditorClient, fake: FakeProvider) -> None:
    turn = "# === USER ===\n\n" + "q" * 480 + "\n\n# === ASSISTANT ===\n\n" + "a" * 480 + "\n\n"
    question = FRONT_MATTER + turn * 10_000 + "# === USER ===\n\n" + "x" * 100_000 + "\nlast?\n"
    assert len(question) > 10_000_000 and question.count("# === ") == 20_001
    text = await answer(client, fake, question, ["fine"])
    assert text == question + OPENING + "fine\n\n# === USER ===\n\n"
    assert len(fake.requests[0].body["messages"]) == 20_001
