"""Context from files (chatvim_ls/context.py), without a server: what a
reference sends, and every way one is refused before anything is read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from chatvim_ls.chat import Message
from chatvim_ls.context import ContextRefused, Rules, check, choices, expand, problems, references


@pytest.fixture
def chats(tmp_path: Path) -> Path:
    folder = tmp_path / "chats"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text("one\ntwo\nthree\nfour\n")
    return folder


def ask(text: str, rules: Rules) -> str:
    (message,) = expand([Message("user", text)], rules)
    return message.content


def test_a_file_in_the_chats_folder_is_sent_after_the_question_labelled(chats: Path) -> None:
    rules = Rules(chats.resolve())
    assert (
        ask("Explain @file:src/app.py.", rules)
        == "Explain @file:src/app.py.\n\n```src/app.py\none\ntwo\nthree\nfour\n```"
    )
    assert ask("and @file:src/app.py#L2-L3", rules).endswith("```src/app.py#L2-L3\ntwo\nthree\n```")
    assert ask("@file:src/app.py#L4 twice @file:src/app.py#L4", rules).count("```src/app.py#L4\nfour\n```") == 1


def test_references_in_code_blocks_and_answers_are_text(chats: Path) -> None:
    rules = Rules(chats.resolve())
    assert references("```\n@file:src/app.py\n```\n") == []
    answer = Message("assistant", "see @file:src/app.py")
    assert expand([answer], rules) == [answer]


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("../outside.txt", "outside this chat's folder"),
        ("/etc/hostname", "outside this chat's folder"),
        ("link.txt", "outside this chat's folder"),  # a symlink inside, to a file outside
        (".env", "may hold secrets"),
        ("keys/id_ed25519", "may hold secrets"),
        (".ssh/config", "may hold secrets"),
        ("missing.py", "no such file"),
        ("data.bin", "not UTF-8 text"),
        ("nul.txt", "a NUL byte"),
        ("big.txt", "more than context_limit"),
        ("src/app.py#L9", "no such lines"),
        ("src", "is a folder"),
        (".git/config", "is hidden"),
        ("ID_RSA", "may hold secrets"),  # without case: a case-insensitive disk opens id_rsa
        ("prod.tfvars", "may hold secrets"),
        ("fifo", "not a regular file"),  # a pipe would never end
        ("~nosuchuser/x", "cannot follow this path"),
        ("loop", "cannot follow this path|no such file"),
        ("//server/share/x", "not a path on this machine"),
    ],
)
def test_a_reference_is_refused_with_one_line_saying_why(chats: Path, written: str, why: str) -> None:
    (chats.parent / "outside.txt").write_text("private")
    (chats / "link.txt").symlink_to(chats.parent / "outside.txt")
    (chats / ".env").write_text("OPENAI_API_KEY=sk-secret")
    (chats / "keys").mkdir()
    (chats / "keys" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    (chats / ".ssh").mkdir()
    (chats / ".ssh" / "config").write_text("Host x")
    (chats / "data.bin").write_bytes(b"\xff\xfe\x00")
    (chats / "nul.txt").write_bytes(b"a\x00b")
    (chats / "big.txt").write_text("x" * 101)
    (chats / ".git").mkdir()
    (chats / ".git" / "config").write_text("url = https://u:token@host/x")
    (chats / "ID_RSA").write_text("key")
    (chats / "prod.tfvars").write_text("password = 1")
    os.mkfifo(chats / "fifo")
    (chats / "loop").symlink_to(chats / "loop")
    with pytest.raises(ContextRefused, match=why) as refused:
        ask(f"look at @file:{written}", Rules(chats.resolve(), limit=100))
    assert "\n" not in str(refused.value) and "sk-secret" not in str(refused.value)


def test_context_roots_allow_files_outside_and_secrets_there(chats: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / ".env").write_text("A=1\n")
    rules = Rules(chats.resolve(), roots=(notes.resolve(),))
    assert ask(f"@file:{notes}/.env", rules).endswith(f"```{notes}/.env\nA=1\n```")
    path, size = check(references(f"@file:{notes}/.env")[0], rules)
    assert path == (notes / ".env").resolve() and size == 4


def test_a_chat_that_is_no_file_sends_only_absolute_paths_under_its_roots(chats: Path) -> None:
    with pytest.raises(ContextRefused, match="needs a chat saved as a file"):
        ask("@file:src/app.py", Rules(None))
    with pytest.raises(ContextRefused, match="outside this chat's folder"):
        ask(f"@file:{chats}/src/app.py", Rules(None))


def test_only_the_question_being_sent_is_read_and_comments_and_inline_code_are_text(chats: Path) -> None:
    rules = Rules(chats.resolve())
    old, new = Message("user", "earlier @file:src/app.py"), Message("user", "now <!-- @file:src/app.py --> `@file:x`")
    assert expand([old, Message("assistant", "ok"), new], rules) == [old, Message("assistant", "ok"), new]
    assert references("**@file:src/app.py**")[0].path == "src/app.py"


def test_each_refused_reference_is_an_error_where_it_is_written(chats: Path) -> None:
    (chats / "blob.bin").write_bytes(b"\x00\xff" * 10)
    lines = ["# === USER ===", "", "Read @file:src/app.py and @file:nope.txt,", "```", "@file:nope.txt", "```",
             "then @file:.env and @file:blob.bin"]  # fmt: skip
    found = [(p.range.start.line, p.range.start.character, p.range.end.character, p.message)
             for p in problems(lines, 10, Rules(chats.resolve()))]  # fmt: skip
    assert found == [
        (12, 26, 40, "@file:nope.txt: no such file"),
        (16, 5, 15, "@file:.env is hidden or may hold secrets: not sent (add its folder to context_roots)"),
        (16, 20, 34, found[2][3]),
    ]
    assert found[2][3].startswith("@file:blob.bin") and found[2][3].endswith("not sent")


def test_completion_offers_only_what_may_be_sent(chats: Path, tmp_path: Path) -> None:
    (chats / "notes.txt").write_text("n\n")
    (chats / ".env").write_text("KEY=k\n")
    (chats / "id_rsa").write_text("key\n")
    (chats / ".git").mkdir()
    rules = Rules(chats.resolve())
    assert choices("", rules) == [("src", True), ("notes.txt", False)]
    assert choices("src/a", rules) == [("app.py", False)]
    assert choices(".git/", rules) == choices("../", rules) == choices("/", rules) == []
    (tmp_path / "shared" / "docs").mkdir(parents=True)
    (tmp_path / "shared" / "docs" / "guide.md").write_text("g\n")
    (tmp_path / "elsewhere.txt").write_text("e\n")
    rooted = Rules(chats.resolve(), roots=((tmp_path / "shared" / "docs").resolve(),))
    assert choices("../", rooted) == [("chats", True), ("shared", True)]  # only on the way to a root
    assert choices("../shared/docs/", rooted) == [("guide.md", False)]
    assert choices("x", Rules(None)) == []


def test_only_a_regular_file_within_the_limit_is_ever_opened(chats: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device may block or never end, and diagnostics read references on
    every change: `os.stat` tells what a path is before anything is opened."""
    with (chats / "big.txt").open("wb") as big:
        big.truncate(101)  # (sparse: its size says it all)
    opened: list[str] = []
    real_open = os.open

    def recording_open(path: str | os.PathLike[str], *a: Any, **k: Any) -> int:
        opened.append(str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", recording_open)
    rules = Rules(chats.resolve(), roots=(Path("/dev"),), limit=100)
    with pytest.raises(ContextRefused, match="not a regular file"):
        ask("@file:/dev/zero", rules)
    with pytest.raises(ContextRefused, match="more than context_limit"):
        ask("@file:big.txt", rules)
    assert opened == []
    assert ask("@file:src/app.py#L1", rules).endswith("one\n```") and len(opened) == 1


def test_completion_takes_the_first_names_in_order_up_to_its_limit(chats: Path) -> None:
    for name in ("b.txt", "A.txt", "c.txt", "D.txt"):
        (chats / name).write_text("x\n")
    (chats / "Zdocs").mkdir()
    rules = Rules(chats.resolve())
    assert choices("", rules) == [("src", True), ("Zdocs", True)] + [
        (n, False) for n in ("A.txt", "b.txt", "c.txt", "D.txt")
    ]
    assert choices("", rules, limit=3) == [("src", True), ("Zdocs", True), ("A.txt", False)]
