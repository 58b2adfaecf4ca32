"""The user keeps editing while the answer streams, over real stdio: every
user edit stays, the answer arrives whole and in its place."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from chatvim_ls.render import answer_closing
from chatvim_ls.settings import Settings

from .fake_provider import FakeProvider, Scenario
from .lsp_editor import (
    CLOSING,
    OPENING,
    QUESTION,
    EditorClient,
    EditorCopy,
    closing_written,
    complete,
    ended,
    errors,
    open_chat,
    wait_until,
    written,
)

DELIMITERS = Settings().delimiters

WORDS = [f"w{i} " for i in range(40)]
MODES = ["strict", "drop", "lax"]


def assert_whole(editor: EditorCopy, answer: str) -> None:
    assert editor.answer() == written(answer)
    assert editor.answer_is_after_the_question()
    assert editor.lost == []


@pytest.mark.parametrize("mode", MODES)
async def test_edits_that_meet_a_changed_document(client: EditorClient, fake: FakeProvider, mode: str) -> None:
    """The user wins the race five times: each time an edit arrives, a line
    was typed above it a moment before."""
    fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)  # 0.8 s: the races happen while it streams
    editor = open_chat(client, mode=mode)
    await complete(client, editor)
    for i in range(5):
        editor.race = lambda i=i: editor.type(0, f"note {i}\n")
        await wait_until(lambda: editor.race is None)
    await wait_until(lambda: closing_written(editor))
    notes = "".join(f"note {i}\n" for i in reversed(range(5)))
    assert editor.text == notes + QUESTION + OPENING + "".join(WORDS) + CLOSING
    assert editor.lost == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_wide_character_typed_inside_the_answer_line(
    client: EditorClient, fake: FakeProvider, mode: str
) -> None:
    """An emoji typed on the answer's line just before an edit arrives: the
    edit's column, in the editor's units, now points elsewhere."""
    fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)
    editor = open_chat(client, mode=mode)
    await complete(client, editor)
    await wait_until(lambda: "w0 " in editor.text)
    editor.race = lambda: editor.type(editor.text.index("w0 ") + 2, "🙂")
    await wait_until(lambda: editor.race is None)
    await wait_until(lambda: closing_written(editor))
    assert editor.text == QUESTION + OPENING + "w0🙂 " + "".join(WORDS[1:]) + CLOSING
    assert editor.lost == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_line_deleted_above_just_before_an_edit(client: EditorClient, fake: FakeProvider, mode: str) -> None:
    """The edit's line number now points one line further down: at the end of
    the document, where Neovim adds a line of its own."""
    fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)
    editor = open_chat(client, QUESTION.replace("What", "scratch\nWhat"), mode=mode)
    await complete(client, editor)
    editor.race = lambda: editor.delete_own_text(editor.text.index("scratch"), len("scratch\n"))
    await wait_until(lambda: editor.race is None)
    await wait_until(lambda: closing_written(editor))
    assert editor.text == QUESTION + OPENING + "".join(WORDS) + CLOSING
    assert editor.lost == []


async def test_delayed_did_change_like_neovim(client: EditorClient, fake: FakeProvider) -> None:
    """didChange comes 150 ms late (Neovim's debounce), after the applyEdit
    answer; the user types meanwhile."""
    fake.scenarios["m"] = Scenario.text(WORDS, delay=0.01)
    editor = open_chat(client, mode="drop", delay=0.15)
    await complete(client, editor)
    for i in range(6):
        await asyncio.sleep(0.05)
        editor.type(0, f"note {i}\n")
    await wait_until(lambda: closing_written(editor), timeout=20)
    notes = "".join(f"note {i}\n" for i in reversed(range(6)))
    assert editor.text == notes + QUESTION + OPENING + "".join(WORDS) + CLOSING


def new_texts(editor: EditorCopy) -> list[str]:
    texts = []
    for params in editor.edits:
        edit = params.edit
        if edit.document_changes:
            change = edit.document_changes[0]
            assert isinstance(change, lsp.TextDocumentEdit)
            text_edits = change.edits
        else:
            assert edit.changes is not None
            text_edits = edit.changes[editor.uri]
        for e in text_edits:
            assert isinstance(e, lsp.TextEdit)  # (the server sends no other: EditorCopy.apply)
            texts.append(e.new_text)
    return texts


@pytest.mark.init_options(flush="line")
async def test_flush_line_writes_whole_lines(client: EditorClient, fake: FakeProvider) -> None:
    pieces = ["one ", "line\nand ", "another", "\nlast"]
    fake.scenarios["m"] = Scenario.text(pieces, delay=0.01)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    assert_whole(editor, "".join(pieces))
    texts = new_texts(editor)
    assert "".join(texts) == written("".join(pieces))
    assert texts[-2:] == ["last", CLOSING[:-1]] and all(t.endswith("\n") for t in texts[:-2])


# -- randomized -------------------------------------------------------------------------

USER_TEXT = st.text(st.sampled_from("xy \n🙂"), min_size=1, max_size=3)
ACTION = st.one_of(
    st.tuples(st.just("insert"), st.floats(0, 1), USER_TEXT),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 4)),
)
SCHEDULE = st.lists(st.tuples(st.integers(0, 15), ACTION), min_size=1, max_size=12)
names = itertools.count()


async def random_user_edits_at_random_moments(
    client: EditorClient, fake: FakeProvider, schedule: list, mode: str, debounce: float
) -> None:
    """Random inserts and deletes anywhere outside the answer, at random
    moments (milliseconds apart) while it streams; the final text is checked
    exactly: the answer whole after the question, nothing of the user's lost."""
    tokens = [f"t{i} " for i in range(30)]
    fake.scenarios["m"] = Scenario.text(tokens, delay=0.004)
    editor = open_chat(client, name=f"random-{next(names)}.md", mode=mode, delay=debounce)
    await complete(client, editor)
    for pause_ms, (kind, where, what) in schedule:
        await asyncio.sleep(pause_ms / 1000)
        offset = int(where * len(editor.text))
        if kind == "insert":
            editor.type(offset, what)
        else:
            editor.delete_own_text(offset, what)
    # the padding depends on the line breaks the user left around the answer
    openings = ["\n" + OPENING, OPENING, OPENING.lstrip("\n")]
    afters = ["", "\n", "\n\n"]
    answer = "".join(tokens)
    expected = [o + answer + answer_closing(o + answer, DELIMITERS, a) for o in openings for a in afters]
    try:
        await wait_until(lambda: editor.answer() in expected, timeout=5)
    finally:
        assert editor.answer() in expected, editor.answer()
    assert editor.answer_is_after_the_question()
    assert editor.lost == []


def randomized(examples: int) -> Callable[..., None]:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])(
        given(schedule=SCHEDULE, mode=st.sampled_from(MODES), debounce=st.sampled_from([0.0, 0.03]))(
            random_user_edits_at_random_moments
        )
    )


test_random_user_edits_at_random_moments = randomized(25)
test_random_user_edits_at_random_moments_long = pytest.mark.slow(randomized(500))


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)  # it waits out the echo timeouts
async def test_an_editor_that_never_reports_the_answer_gets_it_once(client: EditorClient, fake: FakeProvider) -> None:
    """No didChange at all (vim-lsp on Vim 9.0 reports no change a server made
    until a key is pressed): the editor's replies are trusted, the whole
    answer is written once, and progress ends without an error."""
    fake.scenarios["m"] = Scenario.text(WORDS, delay=0.01)
    editor = open_chat(client)
    editor.silent = True
    await complete(client, editor)
    await wait_until(lambda: ended(client), timeout=15)
    assert errors(client) == []
    assert_whole(editor, "".join(WORDS))
