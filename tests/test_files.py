"""files.py: chat files written without losing what is in them."""

from __future__ import annotations

import errno
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


def refusing_chown(monkeypatch: pytest.MonkeyPatch, error: int) -> list[tuple[int, int]]:
    """`os.chown` failing with `error` for any change of owner (a group member, a file
    system without owners), as far as the uid goes; the calls it was asked."""
    asked: list[tuple[int, int]] = []
    real_chown = os.chown

    def chown(path: str | os.PathLike[str], uid: int, gid: int) -> None:
        asked.append((uid, gid))
        if uid != -1:
            raise OSError(error, os.strerror(error))
        real_chown(path, uid, gid)

    monkeypatch.setattr(files.os, "chown", chown)
    return asked


def test_a_chat_of_ones_own_is_not_given_away(chat: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = refusing_chown(monkeypatch, errno.EPERM)
    replace_chat(chat, OLD.encode(), NEW)
    assert chat.read_text() == NEW and asked == []  # (the new file is the user's already)


ROOT_ONLY = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away")


@ROOT_ONLY
def test_another_users_chat_stays_theirs(chat: Path) -> None:
    os.chown(chat, 12345, 23456)
    replace_chat(chat, OLD.encode(), NEW)
    assert (chat.read_text(), chat.stat().st_uid, chat.stat().st_gid) == (NEW, 12345, 23456)


@ROOT_ONLY
@pytest.mark.parametrize("error", [errno.EPERM, errno.EINVAL, errno.ENOTSUP])
def test_where_the_owner_cannot_be_kept_the_group_is(chat: Path, monkeypatch: pytest.MonkeyPatch, error: int) -> None:
    """A group member writing another user's chat, or a file system that refuses owners."""
    os.chown(chat, 12345, 23456)
    asked = refusing_chown(monkeypatch, error)
    replace_chat(chat, OLD.encode(), NEW)
    assert (chat.read_text(), chat.stat().st_uid, chat.stat().st_gid) == (NEW, os.geteuid(), 23456)
    assert asked == [(12345, 23456), (-1, 23456)]


def test_a_copy_of_a_private_chat_is_private(chat: Path, tmp_path: Path) -> None:
    chat.chmod(0o600)
    copy = files.write_new_chat(tmp_path, "chat-answered", NEW, files.mode_of_copy(chat))
    assert copy.read_text() == NEW and copy.stat().st_mode & 0o777 == 0o600
    chat.chmod(0o444)  # a read-only chat: its copy may be written by its owner
    assert files.mode_of_copy(chat) == 0o644


def test_a_read_only_chat_is_not_replaced(chat: Path) -> None:
    chat.chmod(0o444)
    with pytest.raises(ReadOnly, match="is read-only"):
        replace_chat(chat, OLD.encode(), NEW)
    assert chat.read_text() == OLD and chat.stat().st_mode & 0o777 == 0o444
    assert [p.name for p in chat.parent.iterdir()] == ["chat.md"]


@ROOT_ONLY
def test_a_copy_keeps_no_group_bits_for_another_group(chat: Path) -> None:
    os.chown(chat, os.geteuid(), 23456)
    chat.chmod(0o640)
    assert files.mode_of_copy(chat) == 0o600
