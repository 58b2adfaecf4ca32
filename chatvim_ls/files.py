"""Writing chat files without ever losing one.

- `write_new_chat` writes a new file, `STEM.md`, else `STEM-2.md` and so
  on: never over another file (opened with O_EXCL).
- `replace_chat` writes a chat's new text whole: into a temporary file in
  the same folder (the same file system), flushed to disk, then renamed
  over it, so a crash, a Ctrl-C or a full disk leaves the old file or the
  new one, never half of one. The file keeps its mode; a symlink stays a
  link (its target is written). If the file no longer holds what it held
  when it was read (an editor saved it meanwhile), it is left alone and
  `ChangedMeanwhile` says so.
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


class ChangedMeanwhile(ChatvimError):
    """The file changed on disk since it was read."""


def write_new_chat(folder: Path, stem: str, text: str) -> Path:
    """Write `text` into a new file in `folder`: `stem.md`, else `stem-2.md`
    and so on; never over another file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, 100):
            path = folder / (f"{stem}.md" if number == 1 else f"{stem}-{number}.md")
            try:
                with path.open("x", encoding="utf-8", newline="") as file:
                    file.write(text)
                return path
            except FileExistsError:
                continue
    except (OSError, ValueError) as exc:  # (ValueError: a NUL in the name)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CannotCreate(f"cannot write a new chat in {folder}: {reason}; set `new_chats`") from None
    raise CannotCreate(f"cannot write a new chat in {folder}: {stem}.md to {stem}-99.md are taken")


def replace_chat(path: Path, was: bytes, text: str) -> None:
    """Write `text` over the chat at `path`, which held `was` when it was read."""
    target = path.resolve()
    try:
        now = target.read_bytes()
    except OSError:
        now = None
    if now != was:
        raise ChangedMeanwhile(f"{path} changed on disk while the answer streamed")
    temporary = None
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        temporary = Path(name)
        with os.fdopen(handle, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise CannotCreate(f"cannot write {path}: {exc.strerror or exc}; it is as it was") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
