"""The language features of a chat over real stdio JSON-RPC, under each
editor preset: diagnostics (pushed), outline, folds, completion, hover, context and continue."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from .conftest import CONFIG_HOME
from .fake_provider import FakeProvider, Scenario
from .lsp_editor import (
    QUESTION,
    EditorClient,
    EditorCopy,
    actions_at,
    closing_written,
    complete,
    diagnostics_when,
    ended,
    fixture_text,
    open_chat,
    progress_of,
    streams_ended,
    wait_until,
)

WARNING, ERROR = lsp.DiagnosticSeverity.Warning, lsp.DiagnosticSeverity.Error
PROBLEMS = (
    '+++\nmodel = "m"\nprovider = "fake"\ntemprature = 1\ntemperature = "hot"\n+++\n'
    "# === USER ===\n\n```python\nprint()\n"
)


def summary(found: list[lsp.Diagnostic]) -> list[tuple[int, int, int, int, lsp.DiagnosticSeverity | None]]:
    return [(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.severity)
            for d in found]  # fmt: skip


async def test_every_problem_is_a_diagnostic_at_its_place(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, PROBLEMS)
    found = await diagnostics_when(client, editor, lambda d: len(d) == 3)
    assert summary(found) == [(3, 0, 3, 10, WARNING), (4, 14, 4, 19, ERROR), (8, 0, 8, 9, WARNING)]
    assert all(d.source == "chatvim" for d in found)
    assert "did you mean `temperature`?" in found[0].message
    assert found[1].message.startswith("`temperature` must be a number from 0 to 2")
    assert found[2].message.startswith("this code block is never closed")


async def test_diagnostics_follow_the_changes(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, PROBLEMS)
    await diagnostics_when(client, editor, lambda d: len(d) == 3)
    editor.type(len(editor.text), "```\n")  # the code block is closed
    await diagnostics_when(client, editor, lambda d: summary(d) == [(3, 0, 3, 10, WARNING), (4, 14, 4, 19, ERROR)])
    at = editor.text.index("temprature")
    editor.replace(at, at + len("temprature = 1\n"), "")  # the unknown key is gone: the error moves up a line
    await diagnostics_when(client, editor, lambda d: summary(d) == [(3, 14, 3, 19, ERROR)])


async def test_a_model_no_provider_serves_is_an_error(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, '+++\nmodel = "mystery-1"\n+++\n# === USER ===\n\nhi\n')
    (found,) = await diagnostics_when(client, editor, lambda d: len(d) == 1)
    assert summary([found]) == [(1, 8, 1, 19, ERROR)] and "which provider serves" in found.message


async def test_config_md_gets_its_own_checks(client: EditorClient, fake: FakeProvider) -> None:
    uri = (Path(CONFIG_HOME) / "chatvim" / "config.md").as_uri()
    text = '+++\nmodel = "gpt-4.1"\nflush = "sometimes"\n+++\n'
    editor = EditorCopy(client, uri, text)  # in the editor only: the server reads no such file
    editor.open()
    (found,) = await diagnostics_when(client, editor, lambda d: len(d) == 1)
    assert found.range.start.line == 2 and '`flush` must be "token" or "line"' in found.message


async def test_an_answer_is_checked_once_it_has_ended(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["Here:\n\n", "```python\n", "print(1)\n"])
    editor = open_chat(client, QUESTION)
    await diagnostics_when(client, editor, lambda d: d == [])
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    fence = editor.text.splitlines().index("```python")
    (found,) = await diagnostics_when(client, editor, lambda d: len(d) == 1)
    assert summary([found]) == [(fence, 0, fence, 9, WARNING)]


async def test_nothing_is_pushed_while_an_answer_streams_in(client: EditorClient, fake: FakeProvider) -> None:
    """Not even for a problem typed meanwhile: one push, once the document holds the whole answer."""
    fake.scenarios["m"] = Scenario.text(["word "] * 20, delay=0.05)
    editor = open_chat(client, QUESTION)
    await diagnostics_when(client, editor, lambda d: d == [])
    await complete(client, editor)
    await wait_until(lambda: "word" in editor.text)
    pushes = len(client.pushes)
    editor.type(editor.text.index("+++\n", 1), "temprature = 1\n")  # a problem, typed while it streams
    await wait_until(lambda: ended(client) and closing_written(editor))
    await wait_until(lambda: len(client.pushes) > pushes)
    (push,) = client.pushes[pushes:]
    assert push.version == editor.version  # the whole answer
    (found,) = push.diagnostics
    assert "did you mean `temperature`?" in found.message


OUTLINE = QUESTION + "\n# === ASSISTANT ===\n\nTwo.\n\n```\ncode\n```\n\n# === USER ===\n\n"


async def test_the_outline_lists_the_settings_and_each_turn(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, OUTLINE)
    found = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=editor.uri))
    )
    assert found is not None and all(isinstance(s, lsp.DocumentSymbol) for s in found)
    symbols = [s for s in found if isinstance(s, lsp.DocumentSymbol)]
    assert [(s.name, s.range.start.line, s.range.end.line, s.selection_range.start.line) for s in symbols] == [
        ("Settings", 0, 3, 0),
        ("User: What is 1 + 1?", 4, 6, 4),
        ("Assistant: Two.", 8, 14, 8),
        ("User", 16, 16, 16),
    ]


async def test_folds_for_the_settings_turns_and_code(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, OUTLINE)
    found = await client.text_document_folding_range_async(
        lsp.FoldingRangeParams(text_document=lsp.TextDocumentIdentifier(uri=editor.uri))
    )
    assert [(f.start_line, f.end_line) for f in found or []] == [(0, 3), (4, 6), (8, 14), (12, 14)]


async def test_a_document_that_is_not_a_chat_has_no_outline(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, "# Notes\n\nnothing to see\n", name="notes.md")
    found = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=editor.uri))
    )
    assert found == []


def here(editor: EditorCopy) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=editor.uri)


async def test_completion_of_keys_values_and_delimiters(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, '+++\nmodel = "m"\nprovider = \n+++\n# === USER ===\n\nhi\n#')
    values = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=here(editor), position=lsp.Position(line=2, character=11))
    )
    items = values.items if isinstance(values, lsp.CompletionList) else values or []
    fake_item = next(i for i in items if i.label == "fake")
    assert fake_item.text_edit is not None and fake_item.text_edit.new_text == '"fake"'
    delimiters = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=here(editor), position=lsp.Position(line=7, character=1))
    )
    items = delimiters.items if isinstance(delimiters, lsp.CompletionList) else delimiters or []
    assert [i.label for i in items] == ["# === USER ===", "# === ASSISTANT ===", "# === SYSTEM ==="]


async def test_completion_of_paths_after_file(client: EditorClient, fake: FakeProvider) -> None:
    folder = Path(tempfile.mkdtemp(prefix="chatvim-paths-"))
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text("print()\n")
    (folder / ".env").write_text("KEY=sk-never-shown\n")
    editor = EditorCopy(client, (folder / "chat.md").as_uri(), "# === USER ===\n\nRead @file:\n")
    editor.open()
    found = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=here(editor), position=lsp.Position(line=2, character=11))
    )
    items = found.items if isinstance(found, lsp.CompletionList) else found or []
    assert [(i.label, i.kind) for i in items] == [("src/", lsp.CompletionItemKind.Folder)]
    editor.type(len(editor.text) - 1, "src/")
    found = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=here(editor), position=lsp.Position(line=2, character=15))
    )
    (item,) = found.items if isinstance(found, lsp.CompletionList) else found or []
    assert isinstance(item.text_edit, lsp.TextEdit) and item.text_edit.new_text == "app.py"
    assert (item.text_edit.range.start.character, item.text_edit.range.end.character) == (15, 15)


async def test_a_hover_on_a_setting(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, '+++\nmodel = "m"\nprovider = "fake"\ntemperature = 0.5\n+++\n# === USER ===\n\nhi\n')
    found = await client.text_document_hover_async(
        lsp.HoverParams(text_document=here(editor), position=lsp.Position(line=1, character=2))
    )
    assert found is not None and isinstance(found.contents, lsp.MarkupContent)
    assert "Sent to **fake** as `m`" in found.contents.value and "key from `FAKE_API_KEY` (set)" in found.contents.value
    assert "sk-" not in found.contents.value
    assert found.range == lsp.Range(start=lsp.Position(line=1, character=0), end=lsp.Position(line=1, character=5))


async def test_the_code_lens_offers_complete_then_stop_while_it_streams(
    client: EditorClient, fake: FakeProvider
) -> None:
    fake.scenarios["m"] = Scenario.text(["slow "] * 30, delay=0.05)
    editor = open_chat(client)
    params = lsp.CodeLensParams(text_document=here(editor))
    (lens,) = await client.text_document_code_lens_async(params) or []
    assert lens.command is not None and (lens.command.title, lens.command.command) == ("Complete", "chatvim.complete")
    assert lens.range.start.line == 4
    await complete(client, editor)
    await wait_until(lambda: "slow" in editor.text)
    (lens,) = await client.text_document_code_lens_async(params) or []
    assert lens.command is not None and lens.command.title == "Stop" and lens.range.start.line == 4
    await wait_until(lambda: ended(client) and closing_written(editor))
    regenerate, complete_again = await client.text_document_code_lens_async(params) or []
    assert regenerate.command is not None and regenerate.command.title == "Regenerate"
    assert regenerate.range.start.line == editor.text.split("\n").index("# === ASSISTANT ===")
    assert complete_again.command is not None and complete_again.command.title == "Complete"
    assert complete_again.range.start.line > regenerate.range.start.line
    caps = client.preset_capabilities().workspace
    supported = bool(caps and caps.code_lens and caps.code_lens.refresh_support)
    await wait_until(lambda: client.code_lens_refreshes == (2 if supported else 0))  # as it started, as it ended


NEW_CHATS = tempfile.mkdtemp(prefix="chatvim-new-chats-")  # where `chatvim.new` writes in these tests


@pytest.mark.init_options(new_chats=NEW_CHATS)
async def test_asking_about_a_selection_starts_a_chat_that_holds_it(client: EditorClient, fake: FakeProvider) -> None:
    source = EditorCopy(client, "file:///tmp/project/app.py", "import os\n\ndef main():\n    print(os.getcwd())\n")
    source.language_id = "python"
    source.open()
    selection = lsp.Range(start=lsp.Position(line=2, character=0), end=lsp.Position(line=4, character=0))
    (action,) = await actions_at(client, source, selection)
    assert action.title == "Chatvim: ask about this selection" and action.command is not None
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
    )
    assert result is not None
    path = Path(result["path"])
    assert path.parent == Path(NEW_CHATS) and path.name.startswith("chat-")
    text = path.read_text()
    assert text == ('+++\n# model = "gpt-4.1"\n+++\n\n# === USER ===\n\n'
                    "```python /tmp/project/app.py\ndef main():\n    print(os.getcwd())\n```\n\n\n")  # fmt: skip
    assert result["line"] == text.count("\n") - 1 and text.split("\n")[result["line"]] == ""
    window = client.preset_capabilities().window
    if window and window.show_document and window.show_document.support:
        await wait_until(lambda: client.shown_documents)
        (shown,) = client.shown_documents
        assert shown.uri == result["uri"] and shown.take_focus
        assert shown.selection is not None and shown.selection.start.line == result["line"]
    else:
        await wait_until(lambda: any(m.message.startswith("new chat: ") for m in client.messages))


@pytest.mark.init_options(new_chats=NEW_CHATS)
async def test_a_new_chat_never_overwrites_one(client: EditorClient, fake: FakeProvider) -> None:
    command = lsp.ExecuteCommandParams(command="chatvim.new", arguments=[{"show": False}])
    first = await client.workspace_execute_command_async(command)
    second = await client.workspace_execute_command_async(command)
    assert first is not None and second is not None
    assert first["path"] != second["path"] and Path(first["path"]).exists() and Path(second["path"]).exists()
    assert client.shown_documents == []


async def test_in_a_chat_the_selection_action_comes_only_with_a_selection(
    client: EditorClient, fake: FakeProvider
) -> None:
    editor = open_chat(client)
    cursor = lsp.Range(start=lsp.Position(line=6, character=0), end=lsp.Position(line=6, character=0))
    assert [a.title for a in await actions_at(client, editor, cursor)] == ["Chatvim: complete"]
    selection = lsp.Range(start=lsp.Position(line=6, character=0), end=lsp.Position(line=6, character=4))
    titles = [a.title for a in await actions_at(client, editor, selection)]
    assert titles == ["Chatvim: complete", "Chatvim: ask about this selection"]


async def test_a_fork_is_a_new_chat_beside_this_one_up_to_the_turn(client: EditorClient, fake: FakeProvider) -> None:
    folder = Path(tempfile.mkdtemp(prefix="chatvim-fork-"))
    text = QUESTION + "\n# === ASSISTANT ===\n\nTwo.\n\n# === USER ===\n\nAnd 2 + 2?\n"
    editor = EditorCopy(client, (folder / "maths.md").as_uri(), text)
    editor.open()
    command = lsp.ExecuteCommandParams(command="chatvim.fork", arguments=[editor.uri, 10])  # on "Two."
    first = await client.workspace_execute_command_async(command)
    second = await client.workspace_execute_command_async(command)
    assert first is not None and second is not None
    assert (Path(first["path"]).name, Path(second["path"]).name) == ("maths-fork.md", "maths-fork-2.md")
    forked = Path(first["path"]).read_text()
    assert forked == QUESTION + "\n# === ASSISTANT ===\n\nTwo.\n\n# === USER ===\n\n\n"
    assert first["line"] == forked.count("\n") - 1
    assert editor.text == text  # the chat itself as it was
    window = client.preset_capabilities().window
    if window and window.show_document and window.show_document.support:
        await wait_until(lambda: len(client.shown_documents) == 2)
        assert client.shown_documents[0].uri == first["uri"]


async def inlay_hints(client: EditorClient, editor: EditorCopy) -> list[tuple[int, str]]:
    whole = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=1000, character=0))
    found = await client.text_document_inlay_hint_async(lsp.InlayHintParams(text_document=here(editor), range=whole))
    return [(h.position.line, str(h.label)) for h in found or []]


async def test_what_an_answer_cost_is_a_hint_after_its_delimiter(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["Two", "."], cost=0.00213)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    end = progress_of(client)[-1]
    assert isinstance(end, lsp.WorkDoneProgressEnd) and end.message is not None
    assert end.message.startswith("2 tokens · ") and end.message.endswith(" s · 5 in · $0.0021")
    delimiter = editor.text.split("\n").index("# === ASSISTANT ===")
    ((line, label),) = await inlay_hints(client, editor)
    assert (line, label) == (delimiter, end.message) and "$0.0021" not in editor.text
    caps = client.preset_capabilities().workspace
    refreshes = bool(caps and caps.inlay_hint and caps.inlay_hint.refresh_support)
    await wait_until(lambda: client.inlay_hint_refreshes == int(refreshes))
    editor.type(0, "a note above\n")  # the hint moves with its line
    assert await inlay_hints(client, editor) == [(delimiter + 1, end.message)]
    at = editor.text.index("# === ASSISTANT ===")
    editor.type(at + 2, "x")  # the delimiter line itself changed: the hint goes
    assert await inlay_hints(client, editor) == []


async def test_reasoning_shown_goes_in_a_folded_block_and_is_never_sent_back(
    client: EditorClient, fake: FakeProvider
) -> None:
    fake.scenarios["m"] = [Scenario.replay("deepseek_streaming.txt"), Scenario.text(["ok"])]
    editor = open_chat(client, QUESTION.replace("+++\n# ===", 'reasoning = "show"\n+++\n# ===', 1))
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    thinking, answer = (
        fixture_text("deepseek_streaming.txt", "reasoning_content"),
        fixture_text("deepseek_streaming.txt"),
    )
    written = (
        f"# === ASSISTANT ===\n\n<details><summary>Thinking</summary>\n\n{thinking.lstrip()}\n\n</details>\n\n{answer}"
    )
    assert written in editor.text
    start = editor.text.split("\n").index("<details><summary>Thinking</summary>")
    folds = await client.text_document_folding_range_async(lsp.FoldingRangeParams(text_document=here(editor)))
    assert any(f.start_line == start and f.kind == lsp.FoldingRangeKind.Comment for f in folds or [])
    editor.type(len(editor.text), "And then?\n")
    await complete(client, editor)
    await wait_until(lambda: streams_ended(client) == 2 and closing_written(editor))
    sent = fake.requests[1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": answer.strip()} and "Thinking" not in str(sent)


async def regenerate(client: EditorClient, editor: EditorCopy) -> object:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.regenerate", arguments=[editor.uri])
    )


async def test_regenerate_replaces_the_last_answer_from_the_same_request(
    client: EditorClient, fake: FakeProvider
) -> None:
    fake.scenarios["m"] = [Scenario.text(["First", " answer."]), Scenario.text(["Second", " answer."], delay=0.02)]
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    first = editor.text
    titles = [
        a.title for a in await actions_at(client, editor, lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0)))
    ]
    assert titles == ["Chatvim: complete", "Chatvim: regenerate"]
    assert await regenerate(client, editor) == {"started": True}
    await wait_until(lambda: "Second" in editor.text)
    editor.type(0, "typed meanwhile\n")
    await wait_until(lambda: streams_ended(client) == 2 and closing_written(editor))
    assert editor.text == "typed meanwhile\n" + first.replace("First answer.", "Second answer.")
    assert fake.requests[1].body == fake.requests[0].body


async def test_regenerate_keeps_the_old_answer_when_the_new_one_fails(client: EditorClient, fake: FakeProvider) -> None:
    refusal = Scenario(status=401, error_body={"error": {"message": "Incorrect API key provided"}})
    fake.scenarios["m"] = [Scenario.text(["Kept."]), refusal]
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    first = editor.text
    await regenerate(client, editor)
    await wait_until(lambda: streams_ended(client) == 2)
    assert editor.text == first


async def test_regenerate_is_refused_once_a_new_question_is_written(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, QUESTION + "\n# === ASSISTANT ===\n\nTwo.\n\n# === USER ===\n\nAnd 3?\n")
    result = await regenerate(client, editor)
    assert isinstance(result, dict) and result["started"] is False
    assert str(result["reason"]).startswith("nothing to regenerate")


async def cut_answer(client: EditorClient, fake: FakeProvider, rest: Scenario) -> EditorCopy:
    """A chat whose answer hit max_tokens; the next answer will be `rest`."""
    fake.scenarios["m"] = [Scenario.text(["The keeper ", "climbed the stairs"], finish="length"), rest]
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    titles = [
        a.title for a in await actions_at(client, editor, lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0)))
    ]
    assert "Chatvim: continue" in titles
    return editor


async def continue_answer(client: EditorClient, editor: EditorCopy) -> None:
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.continue", arguments=[editor.uri])
    )
    assert result == {"started": True}
    await wait_until(lambda: streams_ended(client) == 2 and closing_written(editor))


async def test_continue_asks_for_the_rest_and_cuts_what_it_repeats(client: EditorClient, fake: FakeProvider) -> None:
    editor = await cut_answer(client, fake, Scenario.text(["climbed the stairs", " to the lamp."]))
    await continue_answer(client, editor)
    assert (
        editor.text
        == QUESTION + "\n# === ASSISTANT ===\n\nThe keeper climbed the stairs to the lamp.\n\n# === USER ===\n\n"
    )
    first, second = fake.requests[0].body["messages"], fake.requests[1].body["messages"]
    assert second[:-1] == [*first, {"role": "assistant", "content": "The keeper climbed the stairs"}]
    assert second[-1]["role"] == "user" and "Continue your last answer" in second[-1]["content"]


async def test_continue_with_a_providers_prefix_support(client: EditorClient, fake: FakeProvider) -> None:
    editor = await cut_answer(client, fake, Scenario.text([" to the lamp."]))
    table = {"base_url": fake.base_url, "api_key_env": "FAKE_API_KEY", "continues_by": "prefix"}
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(settings={"chatvim": {"providers": {"fake": table}}})
    )
    await continue_answer(client, editor)
    assert editor.text.endswith("\n\nThe keeper climbed the stairs to the lamp.\n\n# === USER ===\n\n")
    last = fake.requests[1].body["messages"][-1]
    assert last == {"role": "assistant", "content": "The keeper climbed the stairs", "prefix": True}


async def test_a_file_referenced_in_the_question_is_sent_with_it(client: EditorClient, fake: FakeProvider) -> None:
    folder = Path(tempfile.mkdtemp(prefix="chatvim-context-"))
    (folder / "notes.txt").write_text("the keeper's log\n")
    (folder.parent / f"{folder.name}-private.txt").write_text("not for the model\n")
    fake.scenarios["m"] = Scenario.text(["Read it."])
    question = QUESTION.replace("What is 1 + 1?", "Summarise @file:notes.txt please")
    editor = EditorCopy(client, (folder / "chat.md").as_uri(), question)
    editor.open()
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    sent = fake.requests[0].body["messages"][-1]["content"]
    assert sent == "Summarise @file:notes.txt please\n\n```notes.txt\nthe keeper's log\n```"
    assert "keeper's log" not in editor.text  # sent, never written into the chat
    outside = EditorCopy(
        client, (folder / "other.md").as_uri(), question.replace("notes.txt", f"../{folder.name}-private.txt")
    )
    outside.open()
    result = await complete(client, outside)
    assert isinstance(result, dict) and result["started"] is False and "outside this chat's folder" in result["reason"]
    assert len(fake.requests) == 1  # nothing went out


async def test_a_refused_file_reference_is_an_error_until_it_can_be_sent(
    client: EditorClient, fake: FakeProvider
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="chatvim-refused-"))
    (folder / ".env").write_text("KEY=sk-never-shown\n")
    question = QUESTION.replace("What is 1 + 1?", "Read @file:notes.txt and @file:.env")
    editor = EditorCopy(client, (folder / "chat.md").as_uri(), question)
    editor.open()
    found = await diagnostics_when(client, editor, lambda d: len(d) == 2)
    assert summary(found) == [(6, 5, 6, 20, ERROR), (6, 25, 6, 35, ERROR)]
    assert [d.message for d in found] == [
        "@file:notes.txt: no such file",
        "@file:.env is hidden or may hold secrets: not sent (add its folder to context_roots)",
    ]
    (folder / "notes.txt").write_text("now here\n")
    editor.type(len(editor.text), " ")  # the next check finds it
    await diagnostics_when(client, editor, lambda d: summary(d) == [(6, 25, 6, 35, ERROR)])


async def test_a_file_reference_is_a_link_and_its_hover_says_what_goes(
    client: EditorClient, fake: FakeProvider
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="chatvim-links-"))
    (folder / "notes.txt").write_text("line 1\nline 2\n")
    (folder / ".env").write_text("KEY=sk-never-shown\n")
    question = QUESTION.replace("What is 1 + 1?", "Read @file:notes.txt and @file:.env")
    editor = EditorCopy(client, (folder / "chat.md").as_uri(), question)
    editor.open()
    links = await client.text_document_document_link_async(lsp.DocumentLinkParams(text_document=here(editor)))
    assert [(link.target, link.range.start.character, link.range.end.character) for link in links or []] == [
        ((folder / "notes.txt").resolve().as_uri(), 5, 20)
    ]
    sent = await client.text_document_hover_async(
        lsp.HoverParams(text_document=here(editor), position=lsp.Position(line=6, character=8))
    )
    assert sent is not None and isinstance(sent.contents, lsp.MarkupContent)
    assert "Sent with the question" in sent.contents.value and "14 bytes, about 3 tokens" in sent.contents.value
    assert "line 1\nline 2\n" in sent.contents.value
    refused = await client.text_document_hover_async(
        lsp.HoverParams(text_document=here(editor), position=lsp.Position(line=6, character=28))
    )
    assert refused is not None and isinstance(refused.contents, lsp.MarkupContent)
    assert (
        refused.contents.value.startswith("Not sent: @file:.env is hidden") and "sk-never" not in refused.contents.value
    )
