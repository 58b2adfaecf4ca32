"""Each real editor as a person uses it (tests/test_emacs.py, test_vim.py,
test_nvim_lspconfig.py, in tmux), answered 121 tokens at 50 tokens/s by the
fake provider, once left alone and once while a note is typed above the
question. Prints, per editor: asking to the first word on screen, tokens/s
written into the editor, the longest gap between two edits, and the edits
the editor refused (from the server's log).

    python bench/editors.py            # from the repository root; about a minute
"""

from __future__ import annotations

import itertools
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_provider import Scenario, ThreadedFake
from tests.terminal import WORDS, Editor, make_home, newer_editor
from tests.test_emacs import CLIENTS as EMACS_CLIENTS
from tests.test_emacs import Emacs
from tests.test_nvim_lspconfig import Neovim
from tests.test_vim import CLIENTS as VIM_CLIENTS
from tests.test_vim import Vim

EDIT = re.compile(r'^(\S+ \S+) DEBUG pygls.protocol.json_rpc: Sending request with id "([^"]+)": workspace/applyEdit')
# The editor's reply to an edit: refused with `applied: false`, or with an error (eglot 1.17, a stale version).
REPLY = re.compile(r'Received (?:result for|error response to) message "([^"]+)": (.*)')
EMACS_30, NVIM_010 = newer_editor("emacs-30"), newer_editor("nvim-0.10")  # (tests/fetch_newer_editors.sh)

EDITORS: dict[str, tuple[Callable[[Path], Editor], tuple[str, ...]]] = {
    # name: (a new editor in a home, the keys that start a note above the question)
    "Emacs 28 + eglot 1.9": (lambda home: Emacs(EMACS_CLIENTS["eglot"], "emacs", home), ("M-<",)),
    "Emacs 28 + lsp-mode 8": (lambda home: Emacs(EMACS_CLIENTS["lsp-mode"], "emacs", home), ("M-<",)),
    "Vim 9.0 + yegappan/lsp": (lambda home: Vim(VIM_CLIENTS["yegappan"], home), ("g", "g", "O")),
    "Vim 9.0 + vim-lsp": (lambda home: Vim(VIM_CLIENTS["vim-lsp"], home), ("g", "g", "O")),
    "Neovim 0.11 + nvim-lspconfig": (lambda home: Neovim("neovim-0.11", "nvim", home), ("g", "g", "O")),
}
if EMACS_30 is not None:
    emacs_30 = EMACS_30  # (a str, for the lambda)
    EDITORS["Emacs 30 + eglot 1.17"] = (lambda home: Emacs(EMACS_CLIENTS["eglot"], emacs_30, home), ("M-<",))
if NVIM_010 is not None:
    nvim_010 = NVIM_010
    EDITORS["Neovim 0.10 + lspconfig"] = (lambda home: Neovim("neovim-0.10-lspconfig", nvim_010, home), ("g", "g", "O"))


def edit_times(log: Path, since: int) -> tuple[list[float], int]:
    """applyEdit send times after byte `since` of the log, and the refusals."""
    text = log.read_bytes()[since:].decode(errors="replace")
    times, edits, refused = [], set(), 0
    for line in text.splitlines():
        if match := EDIT.match(line):
            times.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
            edits.add(match.group(2))
        elif (match := REPLY.search(line)) and match.group(1) in edits:
            refused += "applied=True" not in match.group(2)
    return times, refused


def one_answer(editor: Editor, typing_keys: tuple[str, ...] | None) -> dict[str, float]:
    log = editor.home / "server.log"
    since = log.stat().st_size if log.exists() else 0
    chat = editor.open_chat()
    asked = time.monotonic()
    editor.code_action("Chatvim: complete")
    editor.terminal.wait_for_text("word0 ", 15)
    first = time.monotonic() - asked
    if typing_keys:
        editor.terminal.wait_for_text("word3 ", 10)
        editor.terminal.keys(*typing_keys)
        editor.terminal.type("a note above" + ("\n" if typing_keys == ("M-<",) else ""), every=0.08)
        if typing_keys != ("M-<",):
            editor.terminal.keys("Escape")
    editor.wait_for_answer(timeout=40)
    text = editor.saved(chat)
    times, refused = edit_times(log, since)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "first": first,
        "rate": len(WORDS) / (times[-2] - times[0]) if len(times) > 2 else 0.0,  # the last edit is the closing
        "stall": max(gaps) if gaps else 0.0,
        "edits": len(times),
        "refused": refused,
        "whole": float(text.count("word120 ") == 1 and "".join(WORDS) in text),
    }


def main() -> None:
    provider = ThreadedFake()
    provider.fake.scenarios["m"] = Scenario.text(WORDS, delay=0.02)
    print("provider: 121 tokens at 50 tokens/s\n")
    print(f"{'editor':30} {'':8} {'first text':>10} {'tokens/s':>9} {'longest gap':>12} "
          f"{'edits':>6} {'refused':>8} {'whole':>6}")  # fmt: skip
    try:
        for name, (start, keys) in EDITORS.items():
            editor = start(make_home(Path(tempfile.mkdtemp(prefix="bench-editor-")), provider.fake.base_url))
            try:
                for label, typing in (("quiet", None), ("typing", keys)):
                    r = one_answer(editor, typing)
                    print(f"{name:30} {label:8} {r['first'] * 1000:8.0f}ms {r['rate']:9.1f} "
                          f"{r['stall'] * 1000:10.0f}ms {r['edits']:6.0f} {r['refused']:8.0f} "
                          f"{'yes' if r['whole'] else 'NO':>6}", flush=True)  # fmt: skip
            finally:
                editor.close()
    finally:
        provider.stop()


if __name__ == "__main__":
    main()
