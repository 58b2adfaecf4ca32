"""files.py: chat files written without losing what is in them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatvim_ls import files
from chatvim_ls.files import ChangedMeanwhile, ReadOnly, replace_chat

OLD = "# === USER ===\n\nWho keeps the lamp?\n"
NEW = OLD + "\n# === ASSISTANT ===\n\nThe keeper.\n\n# === USER ===\n\n"
SAVED = OLD + "An edit saved by an editor.\n"


@pytest.fixture
def chat(tmp_path: Path) -> Path:
    path = tmp_path / "chat.md"
    path.write_text(OLD)
    return path


def test_a_save_while_the_new_text_is_written_is_not_lost(chat: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsync = os.fsync

    def fsync_while_an_editor_saves(fd: int) -> None:
        fsync(fd)
        chat.write_text(SAVED)  # after the first check, before the rename

    monkeypatch.setattr(files.os, "fsync", fsync_while_an_editor_saves)
    with pytest.raises(ChangedMeanwhile):
        replace_chat(chat, OLD.encode(), NEW)
    assert chat.read_text() == SAVED
    assert [p.name for p in chat.parent.iterdir()] == ["chat.md"]  # no temporary file left


def test_a_hard_linked_chat_stays_linked(chat: Path) -> None:
    link = chat.parent / "link.md"
    os.link(chat, link)
    inode = chat.stat().st_ino
    replace_chat(chat, OLD.encode(), NEW)
    assert link.read_text() == NEW and chat.stat().st_ino == inode and chat.stat().st_nlink == 2
    assert sorted(p.name for p in chat.parent.iterdir()) == ["chat.md", "link.md"]


def test_a_hard_linked_chat_saved_meanwhile_is_left_alone(chat: Path) -> None:
    os.link(chat, chat.parent / "link.md")
    chat.write_text(SAVED)
    with pytest.raises(ChangedMeanwhile):
        replace_chat(chat, OLD.encode(), NEW)
    assert chat.read_text() == SAVED


def test_the_owner_is_kept_where_it_may_be(chat: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[int, int]] = []

    def chown_refused(path: object, uid: int, gid: int) -> None:
        asked.append((uid, gid))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(files.os, "chown", chown_refused)
    replace_chat(chat, OLD.encode(), NEW)
    assert chat.read_text() == NEW  # written all the same
    assert asked == [(chat.stat().st_uid, chat.stat().st_gid)]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away")
def test_another_users_chat_stays_theirs(chat: Path) -> None:
    os.chown(chat, 12345, 23456)
    replace_chat(chat, OLD.encode(), NEW)
    assert (chat.read_text(), chat.stat().st_uid, chat.stat().st_gid) == (NEW, 12345, 23456)


def test_a_read_only_chat_is_not_replaced(chat: Path) -> None:
    chat.chmod(0o444)
    with pytest.raises(ReadOnly, match="is read-only"):
        replace_chat(chat, OLD.encode(), NEW)
    assert chat.read_text() == OLD and chat.stat().st_mode & 0o777 == 0o444
    assert [p.name for p in chat.parent.iterdir()] == ["chat.md"]
