"""Server CPU per keystroke in a 10 MB chat, from didChange to its diagnostics.

    python bench/diagnostics.py       # from the repository root, with the test extras installed

A 10 MB chat (40,000 turns, a code block in every tenth answer) is opened in
a real chatvim-ls over stdio. Then a person types: a character at a time at
the end of the last turn, in the middle of the chat, and in the front
matter (each keystroke changes a setting's value). Each keystroke is a
didChange, and the diagnostics the server pushes for it say it is done with
it. Printed: the server's CPU per keystroke (from /proc, over all of them)
and the time from didChange to the push, p50 and p95. The target is 20 ms of CPU per keystroke; parsing the
whole chat once takes about 25 times that.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.parse import build_chat
from bench.startup import cpu_ms
from chatvim_ls.chat import parse_chat
from tests.conftest import SERVER_ENV

KEYSTROKES = 60
URI = "file:///tmp/bench-diagnostics.md"


async def main() -> None:
    text = build_chat(40_000, 10_000_000)
    lines = text.split("\n")
    started = time.perf_counter()
    parse_chat(text)
    parse_ms = (time.perf_counter() - started) * 1000
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "chatvim_ls", env=SERVER_ENV)
    await client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("neovim@0.11")))
    item = lsp.TextDocumentItem(uri=URI, language_id="markdown", version=1, text=text)
    pushed = diagnostics_pushed(client)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=item))
    await pushed
    pid = client._server.pid  # type: ignore[union-attr]
    version = 1
    print(f"chat: {len(text) / 1e6:.1f} MB, {len(lines)} lines; parsing it whole: {parse_ms:.0f} ms")
    print(f"{'typing':28} {'CPU/keystroke':>14} {'p50':>8} {'p95':>8}")
    for where, line in (("at the end", len(lines) - 2), ("in the middle", len(lines) // 2), ("in the front matter", 2)):
        column = len(lines[line])
        cpu_before = cpu_ms(pid)
        times = []
        for _ in range(KEYSTROKES):
            version += 1
            at = lsp.Position(line=line, character=column)
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(start=at, end=at), text="1")
            column += 1
            started = time.perf_counter()
            pushed = diagnostics_pushed(client)
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=URI, version=version),
                    content_changes=[change],
                )
            )
            await pushed
            times.append((time.perf_counter() - started) * 1000)
        cpu = (cpu_ms(pid) - cpu_before) / KEYSTROKES
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{where:28} {cpu:>11.1f} ms {statistics.median(times):>5.1f} ms {p95:>5.1f} ms")
    await client.shutdown_session()


def diagnostics_pushed(client: LanguageClient) -> asyncio.Future[object]:
    """The next diagnostics the server pushes (waited for from now: call it before the change)."""
    return asyncio.ensure_future(client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS))


if __name__ == "__main__":
    asyncio.run(main())
