"""chatvim-ls over real stdio JSON-RPC, against the fake provider."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import FeatureNotificationError, JsonRpcInternalError
from pygls.io_ import StdoutWriter

from chatvim_ls import server as server_module
from chatvim_ls.providers import NO_MODEL
from chatvim_ls.server import ChatvimServer

from .conftest import FAKE_KEY
from .fake_provider import FakeProvider, Scenario
from .lsp_editor import (
    QUESTION,
    EditorClient,
    EditorCopy,
    actions_at,
    closing_written,
    complete,
    ended,
    errors,
    open_chat,
    progress_of,
    refused,
    stop,
    stream_recorded,
    wait_until,
)


async def test_complete_streams_a_recorded_answer(client: EditorClient, fake: FakeProvider) -> None:
    editor, answer = await stream_recorded(client, fake, "openai_streaming.txt")
    assert answer.startswith("Dynamic, Flexible.")
    assert editor.text == QUESTION + "\n# === ASSISTANT ===\n\n" + answer + "\n\n# === USER ===\n\n"
    assert all(e.label is None for e in editor.edits)
    begin, *_, end = progress_of(client)
    assert isinstance(begin, lsp.WorkDoneProgressBegin) and begin.title == "Chatvim" and begin.cancellable
    assert isinstance(end, lsp.WorkDoneProgressEnd) and "tokens" in (end.message or "")
    request = fake.requests[0]
    assert request.body["messages"] == [{"role": "user", "content": "What is 1 + 1?"}]
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert "openai-organization" not in request.headers  # OPENAI_ORG_ID is set, but this is not OpenAI


async def test_complete_answers_before_the_first_token(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["late"], first_delay=1.5)
    editor = open_chat(client)
    started = time.monotonic()
    await complete(client, editor)
    assert time.monotonic() - started < 1.0
    assert editor.text == QUESTION
    await wait_until(lambda: ended(client) and closing_written(editor))


async def test_invalid_chat_is_refused_with_a_message(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, "+++\ntemperature = 9\n+++\nq\n")
    reason = "line 2: `temperature` must be a number from 0 to 2, got 9"
    assert await refused(client, editor) == reason
    assert errors(client) == [reason]  # once, shown; not also as an error answer
    assert editor.edits == [] and not fake.requests


async def test_nothing_to_send_is_refused(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, QUESTION + "\n# === ASSISTANT ===\n\nyes\n\n# === USER ===\n\n")
    assert (
        await refused(client, editor) == "line 13: nothing to send: write your message under the last `# === USER ===`"
    )
    assert editor.edits == []


async def test_stop_keeps_the_partial_answer_and_closes_the_connection(
    client: EditorClient, fake: FakeProvider
) -> None:
    fake.scenarios["m"] = Scenario.rate(1000, 100)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: "tok tok" in editor.text)
    stopped_at = time.monotonic()
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.stop", arguments=[])
    )
    assert result == {"stopped": 1}
    await wait_until(lambda: ended(client))
    progress_ended = time.monotonic() - stopped_at
    await asyncio.wait_for(fake.requests[0].closed.wait(), 2)
    assert progress_of(client)[-1].message == "stopped"
    await wait_until(lambda: closing_written(editor))
    assert "tok tok" in editor.text and editor.text.count("tok") < 1000
    assert progress_ended < 1.0  # generous here; bench/ measures the real figure


async def test_second_complete_on_the_same_chat_is_an_error(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.rate(200, 100)
    editor = open_chat(client)
    await complete(client, editor)
    assert await refused(client, editor) == (
        'an answer is already streaming here: stop it with the code action "Chatvim: stop"'
    )
    await wait_until(lambda: "tok" in editor.text)
    await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="chatvim.stop", arguments=[editor.uri])
    )
    await wait_until(lambda: ended(client) and closing_written(editor))


@pytest.mark.parametrize(
    ("scenario", "fragment"),
    [
        (Scenario.error(401, "Incorrect API key provided"), "rejected the API key (401)"),
        (Scenario.error(404, "The model `m` does not exist"), "model 'm' not found at fake (404)"),
        (Scenario.error(429, "Rate limit reached"), "rate limiting you (429)"),
        (Scenario.error(503, None), "server error (503)"),
    ],
    ids=["401", "404", "429", "503"],
)
async def test_provider_errors_are_one_clear_message(
    client: EditorClient, fake: FakeProvider, scenario: Scenario, fragment: str
) -> None:
    fake.scenarios["m"] = scenario
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and any(m.type == lsp.MessageType.Error for m in client.messages))
    errors = [m.message for m in client.messages if m.type == lsp.MessageType.Error]
    assert len(errors) == 1 and fragment in errors[0], errors
    assert editor.text == QUESTION  # nothing was written: no answer began
    fake.scenarios["m"] = Scenario.text(["fine"])
    client.progress_reports.clear()
    await complete(client, editor)  # the server goes on serving
    await wait_until(lambda: ended(client) and closing_written(editor))
    assert "fine" in editor.text


async def test_a_cut_stream_keeps_the_text_and_says_so(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["partial ", "answer"], cut_after=3)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    assert "partial answer\n\n# === USER ===\n\n" in editor.text
    assert any(m.type == lsp.MessageType.Error for m in client.messages)


async def test_reasoning_is_not_written_and_shows_thinking(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.replay("deepseek_streaming.txt", delay=0.01)
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and closing_written(editor))
    reports = [getattr(v, "message", None) for v in progress_of(client)]
    assert "thinking…" in reports
    answer = editor.text[len(QUESTION) :]
    assert "# === ASSISTANT ===" in answer and "I'm DeepSeek-R1" not in answer


async def test_typing_above_while_streaming_loses_nothing(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text([f"w{i} " for i in range(60)], delay=0.005)
    editor = open_chat(client)
    await complete(client, editor)
    for i in range(15):
        await asyncio.sleep(0.01)
        editor.type(0, f"note {i}\n")
    await wait_until(lambda: ended(client) and closing_written(editor))
    notes = "".join(f"note {i}\n" for i in reversed(range(15)))
    answer = "".join(f"w{i} " for i in range(60))
    assert editor.text == notes + QUESTION + "\n# === ASSISTANT ===\n\n" + answer + "\n\n# === USER ===\n\n"


ENCODING_OF_PRESET = {"neovim@0.11": "utf-8", "visual-studio-code": "utf-16", "emacs": "utf-32"}


async def test_utf8_utf16_utf32_emoji_and_line_separators(
    client: EditorClient, fake: FakeProvider, request: pytest.FixtureRequest
) -> None:
    pieces = ["🙂 ", "中文", "\u2028", "é\n", "👍🏽 end"]
    fake.scenarios["m"] = Scenario.text(pieces, delay=0.002)
    editor = open_chat(client, QUESTION.replace("What", "🙂 What"))
    preset = request.node.callspec.params["client"]
    assert editor.encoding == ENCODING_OF_PRESET[preset]  # the three presets cover the three encodings
    await complete(client, editor)
    editor.type(0, "😀\n")
    await wait_until(lambda: ended(client) and closing_written(editor))
    assert (
        editor.text
        == "😀\n"
        + QUESTION.replace("What", "🙂 What")
        + "\n# === ASSISTANT ===\n\n"
        + "".join(pieces)
        + "\n\n# === USER ===\n\n"
    )


async def test_the_key_never_reaches_the_editor(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.error(401, f"Incorrect API key provided: {FAKE_KEY}")
    editor = open_chat(client)
    await complete(client, editor)
    await wait_until(lambda: ended(client) and client.messages)
    seen = [m.message for m in client.messages] + [m.message for m in client.log_messages]
    seen += [str(v) for r in client.progress_reports.values() for v in r]
    assert client.messages and all(FAKE_KEY not in text for text in seen)
    assert FAKE_KEY not in editor.text


async def code_actions(client: EditorClient, editor: EditorCopy) -> list[tuple[str, str]]:
    """(title, command) of each code action offered at the document's start."""
    offered = []
    for action in await actions_at(client, editor, lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0))):
        assert isinstance(action.command, lsp.Command) and action.command.arguments == [editor.uri]
        offered.append((action.title, action.command.command))
    return offered


COMPLETE_ACTION = [("Chatvim: complete", "chatvim.complete")]
STOP_ACTION = [("Chatvim: stop", "chatvim.stop")]
README_LIKE = "# A project\n\nA chat looks like this:\n\n```markdown\n# === USER ===\n\nHi\n```\n"


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        (QUESTION, COMPLETE_ACTION),
        ("# === USER ===\n\nHi\n", COMPLETE_ACTION),
        ('+++\nmodel = "grok-3"\n+++\nA question with no delimiter line\n', COMPLETE_ACTION),
        ('---\nprovider: "xai"\n---\nA question\n', COMPLETE_ACTION),
        ('+++\nuserDelimiter = "## me"\n+++\n## me\nHi\n', COMPLETE_ACTION),
        (README_LIKE, []),
        ("# Notes\n\nJust markdown.\n", []),
        ("---\ntitle: A blog post\n---\nText.\n", []),
        ("```\n# === USER ===\n", COMPLETE_ACTION),  # an unclosed fence hides nothing
    ],
    ids=[
        "question",
        "delimiter",
        "toml-model",
        "yaml-provider",
        "own-delimiter",
        "readme",
        "notes",
        "blog",
        "unclosed",
    ],
)
@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)  # the server's rule: one editor is enough
async def test_complete_is_offered_in_chats_only(
    client: EditorClient, fake: FakeProvider, text: str, offered: list[tuple[str, str]]
) -> None:
    assert await code_actions(client, open_chat(client, text)) == offered


async def test_while_it_streams_stop_is_offered_instead(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.rate(200, 100)
    editor = open_chat(client)
    await complete(client, editor)
    assert await code_actions(client, editor) == STOP_ACTION
    await wait_until(lambda: "tok" in editor.text)
    await stop(client, editor.uri)
    await wait_until(lambda: ended(client) and closing_written(editor))
    after_a_cut_answer = [*COMPLETE_ACTION, ("Chatvim: regenerate", "chatvim.regenerate"),
                          ("Chatvim: continue", "chatvim.continue")]  # fmt: skip
    for _ in range(100):  # the ended answer is let go a few loop turns after its last edit: offered nothing meanwhile
        offered = await code_actions(client, editor)
        assert offered in ([], after_a_cut_answer)
        if offered:
            break


async def test_a_document_that_stops_being_a_chat_is_no_longer_offered_complete(
    client: EditorClient, fake: FakeProvider
) -> None:
    editor = open_chat(client, "# === USER ===\n\nHi\n")
    assert await code_actions(client, editor) == COMPLETE_ACTION
    editor.replace(0, len("# === USER ==="), "# Title")
    assert await code_actions(client, editor) == []


@pytest.mark.init_options(chat_dirs=["/tmp/chats"])
async def test_every_markdown_file_in_a_chat_folder_is_a_chat(client: EditorClient, fake: FakeProvider) -> None:
    assert await code_actions(client, open_chat(client, "Just a question\n", name="chats/q.md")) == COMPLETE_ACTION
    assert await code_actions(client, open_chat(client, "Just a question\n", name="q.md")) == []


async def test_complete_works_in_any_document_when_asked_for(client: EditorClient, fake: FakeProvider) -> None:
    editor = open_chat(client, "Notes, not a chat\n")
    assert await code_actions(client, editor) == []
    result = await complete(client, editor)  # read as a chat, which has no model here: refused for that alone
    assert result == {"started": False, "reason": NO_MODEL}


async def test_two_chats_stream_at_once(client: EditorClient, fake: FakeProvider) -> None:
    fake.scenarios["m"] = Scenario.text(["one ", "two"], delay=0.02)
    first = open_chat(client, name="a.md")
    second = open_chat(client, QUESTION.replace("1 + 1", "2 + 2"), name="b.md")
    await complete(client, first)
    await complete(client, second)
    await wait_until(lambda: closing_written(first) and closing_written(second))
    assert len(client.progress_reports) == 2
    for editor in (first, second):
        assert editor.text.endswith("\n# === ASSISTANT ===\n\none two\n\n# === USER ===\n\n")


def loaded_openai(client: EditorClient) -> bool:
    """Whether the server process has loaded openai (its pydantic_core library is mapped)."""
    pid = client._server.pid  # type: ignore[union-attr]
    return "pydantic_core" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)
async def test_opening_a_chat_loads_the_provider_client_ahead(client: EditorClient, fake: FakeProvider) -> None:
    """The first answer does not wait for openai's import (most of a second),
    and a server with no chat open does not hold it (about 25 MB)."""
    readme = open_chat(client, README_LIKE, name="README.md")
    assert await code_actions(client, readme) == []  # a round trip: the server has seen the document
    assert not loaded_openai(client)
    open_chat(client)
    await wait_until(lambda: loaded_openai(client))


@pytest.mark.parametrize("client", ["neovim@0.11"], indirect=True)
async def test_an_answer_stopped_while_the_provider_client_loads_does_not_break_the_next(
    client: EditorClient, fake: FakeProvider
) -> None:
    fake.scenarios["m"] = Scenario.text(["fine"])
    editor = open_chat(client)  # openai starts loading, for most of a second
    await complete(client, editor)
    await wait_until(lambda: client.progress_reports)  # begun: the answer now waits for openai
    await stop(client, editor.uri)
    await wait_until(lambda: ended(client))
    await complete(client, editor)
    await wait_until(lambda: closing_written(editor))
    assert "fine" in editor.text and errors(client) == []


class LoggingServer(ChatvimServer):
    """The server with no editor: the lines it would send the editor's log, kept."""

    def __init__(self) -> None:
        super().__init__()
        self.logged: list[str] = []

    def window_log_message(self, params: lsp.LogMessageParams) -> None:
        self.logged.append(params.message)


async def test_the_log_lines_for_a_late_reply_stop_when_the_wait_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "NUDGE_AFTER", 0.01)
    monkeypatch.setattr(server_module, "NUDGE_EVERY", 0.02)
    server = LoggingServer()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(server.answer_to(lambda: never, "a progress token"), 0.1)
    given_up = len(server.logged)
    assert given_up >= 1 and set(server.logged) == {"waiting for the editor to answer a progress token"}
    await asyncio.sleep(0.1)  # five more lines' time: none may come
    assert len(server.logged) == given_up


async def test_a_reply_that_comes_after_its_wait_was_given_up_is_dropped() -> None:
    """The wait for a reply is not shielded (a turn of the loop less per edit): giving it up cancels the
    request's future, and the reply, when it comes, must not be set on it (which raises)."""
    server = LoggingServer()
    server.protocol.set_writer(StdoutWriter(io.BytesIO()))
    send = server.protocol.send_request_async
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(server.answer_to(lambda: send(lsp.WORKSPACE_APPLY_EDIT, {"edit": {}}), "an edit"), 0.05)
    (request_id,) = server.protocol._request_futures
    server.protocol._handle_response(request_id, {"applied": True})
    assert not server.protocol._request_futures


def test_a_failing_document_sync_is_reported_as_pygls_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """didChange is called without pygls' future around it; a bug in it still reaches the error report."""
    server = LoggingServer()
    reported: list[tuple[Exception, object]] = []
    monkeypatch.setattr(server, "report_server_error", lambda error, source: reported.append((error, source)))

    def broken(params: lsp.DidChangeTextDocumentParams) -> None:
        raise KeyError(params.text_document.uri)

    monkeypatch.setattr(server.documents, "change", broken)
    identifier = lsp.VersionedTextDocumentIdentifier(uri="file:///chat.md", version=2)
    server.protocol._handle_notification(lsp.TEXT_DOCUMENT_DID_CHANGE, lsp.DidChangeTextDocumentParams(identifier, []))
    ((error, source),) = reported
    assert isinstance(error, JsonRpcInternalError) and "file:///chat.md" in error.message
    assert source is FeatureNotificationError


async def test_settings_pushed_while_they_are_read_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """`initialized` reads the settings; a didChangeConfiguration with settings that comes in the
    same read of stdin is handled before that read begins, and must not lose to its older reply."""
    server = LoggingServer()
    monkeypatch.setattr(
        server.protocol, "client_capabilities",
        lsp.ClientCapabilities(workspace=lsp.WorkspaceClientCapabilities(configuration=True)), raising=False,
    )  # fmt: skip
    reply: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
    monkeypatch.setattr(server, "workspace_configuration_async", lambda params: reply)
    reading = server.settings.reread()  # (as `initialized` does)
    assert server.settings.push({"chatvim": {"flush": "line"}})  # (the notification, handled next)
    reply.set_result([{"flush": "token"}])  # the editor's settings, as they were before the push
    await reading
    assert server.settings.workspace_options.flush == "line"
