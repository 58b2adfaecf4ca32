"""Writing chat files without ever losing one.

- `write_new_chat` writes a new file, `STEM.md`, else `STEM-2.md` and so
  on: never over another file (opened with O_EXCL). A file it could not
  write whole (a full disk) is removed, not left half written. A copy of a
  chat (a fork, an answered chat kept beside) is no more readable than the
  chat (`mode_of_copy`).
- `replace_chat` writes a chat's new text over it only while the file still
  holds what it held when it was read. If it does not (an editor saved it
  meanwhile), it is left alone and `ChangedMeanwhile` says so. That is
  checked before anything is written, and again once the new text is on
  disk, just before it takes the file's place.
- The new text goes into a temporary file in the same folder (the same file
  system), flushed to disk, then renamed over the file, so a crash, a
  Ctrl-C or a full disk leaves the old file or the new one, never half of
  one. It keeps the file's mode, and its owner and group where the user may
  set them; a symlink stays a link (its target is written).
- A file with other hard links is written in place instead (after the same
  check, through the one open file), so that every link sees the new text;
  when the new text only adds to the old, only what it adds is written.
- A read-only file (the user may not write it, or no one may) is not
  replaced through the rename either: `ReadOnly` says so.
- `ChangedMeanwhile` and `ReadOnly` are `KeptAsIs`: the file is as it was,
  and the caller must put the new text elsewhere. `CannotCreate` is any
  other failure to write.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from .problems import ChatvimError


class CannotCreate(ChatvimError):
    """A chat file cannot be written."""


class KeptAsIs(ChatvimError):
    """The file is left as it is on purpose: the new text must go elsewhere."""


class ChangedMeanwhile(KeptAsIs):
    """The file changed on disk since it was read."""


class ReadOnly(KeptAsIs):
    """The file may not be written."""


def write_new_chat(folder: Path, stem: str, text: str, mode: int = 0o666) -> Path:
    """Write `text` into a new file in `folder`: `stem.md`, else `stem-2.md`
    and so on; never over another file. `mode`: its permissions (less the umask)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, 100):
            path = folder / (f"{stem}.md" if number == 1 else f"{stem}-{number}.md")
            try:
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            except FileExistsError:
                continue
            file = os.fdopen(handle, "w", encoding="utf-8", newline="")
            try:
                with file:
                    file.write(text)
            except BaseException:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
            return path
    except (OSError, ValueError) as exc:  # (ValueError: a NUL in the name)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CannotCreate(f"cannot write a new chat in {folder}: {reason}; set `new_chats`") from None
    raise CannotCreate(f"cannot write a new chat in {folder}: {stem}.md to {stem}-99.md are taken")


def mode_of_copy(path: Path) -> int:
    """The permissions for a copy of the chat at `path`: its own read and
    write bits (its group's only if the copy's group, the user's, is the
    chat's), and its owner may write it; 0o600 if they cannot be read."""
    try:
        info = path.stat()
    except OSError:
        return 0o600
    mode = (stat.S_IMODE(info.st_mode) & 0o666) | stat.S_IWUSR
    return mode if info.st_gid == os.getegid() else mode & ~0o070


def replace_chat(path: Path, was: bytes, text: str) -> None:
    """Write `text` over the chat at `path`, which held `was` when it was read."""
    target = path.resolve()
    _check_unchanged(path, _read(target), was)
    new = text.encode("utf-8")
    try:
        info = target.stat()
        if not os.access(target, os.W_OK) or not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise ReadOnly(f"{path} is read-only")
    except OSError as exc:
        raise CannotCreate(f"cannot write {path}: {exc.strerror or exc}; it is as it was") from None
    if info.st_nlink > 1:
        _write_in_place(path, target, was, new)
    else:
        _write_and_rename(path, target, was, new, info)


def _write_and_rename(path: Path, target: Path, was: bytes, new: bytes, info: os.stat_result) -> None:
    temporary = None
    try:
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        temporary = Path(name)
        with os.fdopen(handle, "wb") as file:
            file.write(new)
            file.flush()
            os.fsync(file.fileno())
        _keep_owner(temporary, info)
        os.chmod(temporary, stat.S_IMODE(info.st_mode))  # (after chown, which may clear set-id bits)
        _check_unchanged(path, _read(target), was)  # again: a save while the text was written
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise CannotCreate(f"cannot write {path}: {exc.strerror or exc}; it is as it was") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _keep_owner(path: Path, info: os.stat_result) -> None:
    """Give `path` the owner and group in `info`, as far as the user may
    (another user's file, written by its group: the group only; a file system
    without owners: neither)."""
    if not hasattr(os, "chown"):
        return
    now = path.stat()
    if (now.st_uid, now.st_gid) == (info.st_uid, info.st_gid):
        return
    try:
        os.chown(path, info.st_uid, info.st_gid)
    except OSError:
        with contextlib.suppress(OSError):
            os.chown(path, -1, info.st_gid)


def _write_in_place(path: Path, target: Path, was: bytes, new: bytes) -> None:
    try:
        file = target.open("r+b")
    except OSError as exc:
        raise CannotCreate(f"cannot write {path}: {exc.strerror or exc}; it is as it was") from None
    with file:
        try:
            now: bytes | None = file.read()
        except OSError:
            now = None
        _check_unchanged(path, now, was)
        same = len(was) if new.startswith(was) else 0  # (an answer only adds to the end)
        try:
            file.seek(same)
            file.write(new[same:])
            file.truncate()
            file.flush()
            os.fsync(file.fileno())
        except OSError as exc:
            raise CannotCreate(f"cannot write {path}: {exc.strerror or exc}; it may hold part of the answer") from None


def _read(target: Path) -> bytes | None:
    try:
        return target.read_bytes()
    except OSError:
        return None


def _check_unchanged(path: Path, now: bytes | None, was: bytes) -> None:
    if now != was:
        raise ChangedMeanwhile(f"{path} changed on disk while the answer streamed")
