"""Provider faults through the language server, with a strict and a lax
editor: one clear error line, progress ended, the partial answer kept with
the closing delimiter, and the server goes on serving."""

from __future__ import annotations

import pytest
from pytest_lsp import LanguageClient

from .fake_provider import FakeProvider, Scenario, _chunk
from .lsp_editor import QUESTION, closing_written, complete, ended, errors, open_chat, progress_of, wait_until, written

FAULTS = {
    "503": (Scenario.error(503, "overloaded"), "", "fake had a server error (503): overloaded; try again later"),
    "stall": (Scenario.text(["kept ", "text"], stall_after=3), "kept text", "fake sent nothing for 0.5 s mid-answer"),
    "cut": (Scenario.text(["kept ", "text"], finish=None, usage=False, done=False), "kept text", "was cut off"),
    "bad-json": (Scenario(raw=f"data: {_chunk({'content': 'kept'})}\n\ndata: {{oops\n\n".encode()), "kept",
                 "fake sent an event that is not valid JSON; try again"),
}  # fmt: skip


@pytest.mark.init_options(chunk_timeout=0.5)
@pytest.mark.parametrize("mode", ["strict", "lax"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_provider_fault(client: LanguageClient, fake: FakeProvider, fault: str, mode: str) -> None:
    scenario, kept, fragment = FAULTS[fault]
    fake.scenarios["m"] = [scenario, Scenario.text(["fine"])]
    editor = open_chat(client, mode=mode)
    await complete(client, editor)

    await wait_until(lambda: ended(client) and errors(client) and (closing_written(editor) or not kept))
    (message,) = errors(client)
    assert fragment in message and "\n" not in message
    assert fragment in progress_of(client)[-1].message or fault == "cut"  # type: ignore[attr-defined]
    assert editor.text == (QUESTION[:-1] + written(kept) + "\n" if kept else QUESTION)
    if kept:
        editor.type(len(editor.text), "And again?\n")
    client.progress_reports.clear()
    await complete(client, editor)  # the server goes on serving
    await wait_until(lambda: ended(client) and editor.text.endswith("fine\n\n# === USER ===\n\n"))
