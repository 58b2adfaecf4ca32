"""`chatvim-ls complete --dry-run FILE`, run as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import KEY_VARIABLES
from .lsp_editor import Replies


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    clean |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), **(env or {})}
    command = shutil.which("chatvim-ls", path=str(Path(sys.executable).parent))
    assert command, "the chatvim-ls console script is installed beside the interpreter"
    return subprocess.run([command, *args], capture_output=True, text=True, env=clean, timeout=30)


def write(tmp_path: Path, text: str | bytes, name: str = "chat.md") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_dry_run_prints_the_request(tmp_path: Path) -> None:
    path = write(tmp_path, '+++\nmodel = "grok-3"\nmax_tokens = 50\n+++\n# === USER ===\n\nHi ✓\n')
    result = run(tmp_path, "complete", "--dry-run", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "model": "grok-3",
        "provider": "xai",
        "messages": [{"role": "user", "content": "Hi ✓"}],
        "max_tokens": 50,
    }


def test_dry_run_uses_the_global_config(tmp_path: Path) -> None:
    config = tmp_path / "config" / "chatvim" / "config.md"
    config.parent.mkdir(parents=True)
    config.write_text("---\nmodel: claude-sonnet-4-5\ntemprature: 1\n---\nBe brief.\n")
    path = write(tmp_path, "q\n")
    result = run(tmp_path, "complete", "--dry-run", str(path))
    assert result.returncode == 0
    request = json.loads(result.stdout)
    assert request["provider"] == "anthropic"
    assert request["messages"] == [{"role": "user", "content": "Be brief."}, {"role": "user", "content": "q"}]
    assert "config.md:3:1: warning: unknown setting `temprature`" in result.stderr


def test_dry_run_without_model_uses_a_key_variable_but_never_prints_it(tmp_path: Path) -> None:
    path = write(tmp_path, "q\n")
    result = run(tmp_path, "complete", "--dry-run", str(path), env={"GROQ_API_KEY": "sk-secret-value"})
    assert result.returncode == 0
    assert json.loads(result.stdout)["provider"] == "groq"
    assert "sk-secret-value" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '+++\nmodel = "gpt-4.1"\ntemperature = 7\n+++\nq\n',
            "chat.md:3:15: error: `temperature` must be a number from 0 to 2, got 7",
        ),
        (
            '+++\nmodel = "gpt-4.1"\napi_key = "sk-1"\n+++\nq\n',
            "chat.md:3:1: error: `api_key` may only be set in config.md",
        ),
        ("+++\nmodel = [\n+++\nq\n", "chat.md:2:"),
        ("", "chat.md: error: nothing to send: the chat is empty"),
        (
            '+++\nmodel = "gpt-4.1"\n+++\nq\n# === ASSISTANT ===\na\n# === USER ===\n\n',
            "chat.md:7: error: nothing to send: write your message under the last",
        ),
        (b"q\n\xc3\x28\n", "chat.md:2:1: not UTF-8 text"),
        (b"q\x00\n", "chat.md:1:2: a NUL byte"),
    ],
    ids=["bad-value", "forbidden-key", "bad-toml", "empty", "nothing-to-send", "not-utf8", "binary"],
)
def test_failures_are_one_line(tmp_path: Path, content: str | bytes, expected: str) -> None:
    path = write(tmp_path, content)
    result = run(tmp_path, "complete", "--dry-run", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_dry_run_needs_no_model_and_no_key(tmp_path: Path) -> None:
    """The request is shown with the model unset, and a warning says how to choose one."""
    path = write(tmp_path, "# === USER ===\n\nHi\n")
    result = run(tmp_path, "complete", "--dry-run", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "model": None,
        "provider": None,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    assert result.stderr == (f"{path}: warning: no model set and no provider key found: set `model`, or export e.g. "
                             "OPENAI_API_KEY (the request below has none)\n")  # fmt: skip


@pytest.mark.parametrize("target", ["missing.md", "."])
def test_unreadable_paths_are_one_line(tmp_path: Path, target: str) -> None:
    result = run(tmp_path, "complete", "--dry-run", str(tmp_path / target))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_broken_config_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config" / "chatvim" / "config.md"
    config.parent.mkdir(parents=True)
    config.write_text("+++\nmodel = \n+++\n")
    result = run(tmp_path, "complete", "--dry-run", str(write(tmp_path, "q")))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{config}:2:9: error:")


def test_version_and_module_entry_point(tmp_path: Path) -> None:
    assert run(tmp_path, "--version").stdout.startswith("chatvim-ls ")
    module = subprocess.run(
        [sys.executable, "-m", "chatvim_ls", "--version"], capture_output=True, text=True, timeout=30
    )
    assert module.returncode == 0 and module.stdout.startswith("chatvim-ls ")


def test_bad_requests_leave_no_traceback_in_the_log(tmp_path: Path) -> None:
    """Errors answered to the editor on purpose are not logged as crashes."""

    def command(id_: int, name: str, arguments: list[object]) -> dict[str, object]:
        params = {"command": name, "arguments": arguments}
        return {"jsonrpc": "2.0", "id": id_, "method": "workspace/executeCommand", "params": params}

    document = {"uri": "file:///x.md", "languageId": "markdown", "version": 1, "text": "+++\ntemperature = 9\n+++\nq\n"}
    clean = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES} | {"XDG_CONFIG_HOME": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "chatvim_ls"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=clean)  # fmt: skip
    replies = Replies(server)
    replies.send(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}},
        command(2, "chatvim.complete", ["file:///x.md"]),
        command(3, "chatvim.complete", []),
        command(4, "chatvim.stop", [1, 2]),
    )
    assert replies.of(2)["result"]["started"] is False  # a refused chat is no error
    assert replies.of(3)["error"]["code"] == replies.of(4)["error"]["code"] == -32602
    replies.send({"jsonrpc": "2.0", "id": 5, "method": "shutdown"})  # as editors do: once the replies are in
    assert replies.of(5)["result"] is None
    replies.send({"jsonrpc": "2.0", "method": "exit"})
    assert server.wait(timeout=30) == 0
    errors = server.stderr.read().decode() if server.stderr else ""
    assert "Traceback" not in errors and "ERROR" not in errors, errors


def test_dry_run_shows_the_files_a_question_sends_and_refuses_the_rest(tmp_path: Path) -> None:
    write(tmp_path, "print(1)\n", "app.py")
    write(tmp_path, "OPENAI_API_KEY=sk-not-sent\n", ".env")
    path = write(tmp_path, '+++\nmodel = "grok-3"\n+++\n# === USER ===\n\nWhy @file:app.py?\n')
    result = run(tmp_path, "complete", "--dry-run", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["messages"][-1]["content"] == "Why @file:app.py?\n\n```app.py\nprint(1)\n```"
    secret = write(tmp_path, '+++\nmodel = "grok-3"\n+++\n# === USER ===\n\nAnd @file:.env?\n', "secret.md")
    result = run(tmp_path, "complete", "--dry-run", str(secret))
    assert result.returncode != 0 and result.stdout == "" and "sk-not-sent" not in result.stderr
    assert (
        result.stderr.strip()
        == f"{secret}: error: @file:.env is hidden or may hold secrets: not sent (add its folder to context_roots)"
    )
