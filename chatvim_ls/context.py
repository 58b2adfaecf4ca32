"""Context from files: `@file:PATH` (or `@file:PATH#L10-L40`) in a question
sends that file's text with it, as a fenced block labelled with the
reference, read when the question is sent.

Only the question being sent (the last) is read for references; earlier
ones go as written. The rules, safety first (a chat that was merely opened
must never send a file the user did not choose):
- PATH is relative to the chat's folder, or absolute (`~` too). The file,
  symlinks followed, must lie in the chat's folder tree, or under one of
  the `context_roots` folders of config.md or the editor's settings (never
  of a chat).
- A hidden file, or one in a hidden folder below the chat's folder (`.env`,
  `.git/config`, anything under `.ssh`), or a name that may hold secrets
  (`SECRET_NAMES`: private keys, `credentials`, `*.tfvars`, …; without
  case) is refused unless it lies under a `context_roots` folder.
- A file that is missing, unreadable, not UTF-8 text, or larger than
  `context_limit` bytes (default `CONTEXT_LIMIT`) is refused.
- A refused reference stops the question, with a one-line message; a
  refused path is never read. In the editor, each one the question holds
  is a diagnostic where it is written (`problems`), found by the same rules,
  and completion offers only the paths they allow (`choices`). References
  inside code blocks, inline code and HTML comments (hidden in a preview)
  are text.
- Only regular files are opened, and only when their size is within
  `context_limit`, both told by `os.stat` first: a pipe, a device
  (`/dev/zero`) or a socket is refused unopened, as it could block or never
  end (diagnostics read references on every change).
"""

from __future__ import annotations

import bisect
import fnmatch
import heapq
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .chat import Message, parse_chat
from .config import NotText, text_of
from .problems import ChatvimError, Position, Problem, Range, error
from .textdoc import split_keeping_ends

CONTEXT_LIMIT = 200_000  # bytes
# Not after a word, `@`, `/` or a backtick (inline code); the path stops at a backtick or `*` (markup).
REFERENCE = re.compile(r"(?<![\w@/`])@file:([^\s`*]+?)(?:#L(\d{1,9})(?:-L(\d{1,9}))?)?(?=[\s,;!?)\]`*]|[.:](?:\s|$)|$)")
COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)  # hidden in a preview: references there are not read
#: File names (matched without case) that may hold secrets.
SECRET_NAMES = (".env", ".env.*", "*.env", ".envrc", ".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass", ".my.cnf",
                ".git-credentials", ".vault-token", ".htpasswd", ".bash_history", ".zsh_history", "*.pem", "*.key",
                "*.p12", "*.pfx", "*.ppk", "*.kdbx", "*.keystore", "*.jks", "id_rsa*", "id_dsa*", "id_ecdsa*",
                "id_ed25519*", "credentials", "credentials.*", "application_default_credentials.json", "*.tfstate",
                "*.tfstate.*", "*.tfvars", "secrets.*", "rclone.conf")  # fmt: skip


class ContextRefused(ChatvimError):
    """A reference that cannot be sent."""


@dataclass(frozen=True)
class Reference:
    written: str  # as in the text: PATH or PATH#L10-L40
    path: str
    first: int | None  # lines, from 1, inclusive
    last: int | None
    start: int  # offsets of `written` (with "@file:") in the text
    end: int


@dataclass(frozen=True)
class Rules:
    folder: Path | None  # the chat's, resolved; None for a chat that is no file
    roots: tuple[Path, ...] = ()  # context_roots, resolved
    limit: int = CONTEXT_LIMIT


def references(text: str) -> list[Reference]:
    """The references in a question's text, outside its code blocks."""
    blocks = parse_chat(text).code_blocks if "```" in text or "~~~" in text else []
    comments = [m.span() for m in COMMENT.finditer(text)]
    line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    found = []
    for match in REFERENCE.finditer(text):
        line = sum(1 for start in line_starts if start <= match.start()) - 1
        if any(first <= line <= last for first, last in blocks) or any(a <= match.start() < b for a, b in comments):
            continue
        first = int(match[2]) if match[2] else None
        last = int(match[3]) if match[3] else first
        found.append(Reference(match[0][len("@file:") :], match[1], first, last, match.start(), match.end()))
    return found


def resolve(reference: Reference, rules: Rules) -> Path:
    """The file a reference may send, or `ContextRefused` saying why not (nothing is read)."""
    name = f"@file:{reference.path}"
    if reference.path.startswith(("//", "\\\\")) or "\0" in reference.path:
        raise ContextRefused(f"{name}: not a path on this machine")  # (checked before the file system is asked)
    try:
        written = Path(reference.path).expanduser()
        if not written.is_absolute():
            if rules.folder is None:
                raise ContextRefused(f"{name}: a relative path needs a chat saved as a file")
            written = rules.folder / written
        path = written.resolve()
    except (OSError, RuntimeError, ValueError):  # an unknown ~user, a symlink loop
        raise ContextRefused(f"{name}: cannot follow this path") from None
    return _allowed(name, path, rules)


def _allowed(name: str, path: Path, rules: Rules) -> Path:
    """`path` (resolved) if the rules let it be sent, else `ContextRefused`."""
    root = next((r for r in rules.roots if path.is_relative_to(r)), None)
    in_chat_folder = rules.folder is not None and path.is_relative_to(rules.folder)
    if root is None and not in_chat_folder:
        raise ContextRefused(f"{name} is outside this chat's folder: add its folder to context_roots in config.md")
    if root is None and rules.folder is not None and _may_hold_secrets(path.relative_to(rules.folder)):
        raise ContextRefused(f"{name} is hidden or may hold secrets: not sent (add its folder to context_roots)")
    return path


def choices(typed: str, rules: Rules, limit: int = 500) -> list[tuple[str, bool]]:
    """What may follow `typed`, a path written after `@file:` so far: the
    names in the folder it names that the rules allow (with whether each is
    a folder), folders first, then by name without case; a folder outside
    what may be sent is offered only on the way to a `context_roots` folder.
    At most `limit`: the folder's names are heaped, not sorted, and taken in
    order till `limit` are allowed; only links among them are resolved (a
    name that is no link, in a resolved folder, is resolved already)."""
    folder_written = typed.rpartition("/")[0] + "/" if "/" in typed else ""
    try:
        folder: Path | None = resolve(_as_reference(folder_written or "."), rules)
    except ContextRefused:
        folder = _toward_a_root(folder_written or ".", rules)
    if folder is None:
        return []
    try:
        with os.scandir(folder) as scan:
            heap = [(not entry.is_dir(), entry.name.lower(), entry.name, entry) for entry in scan]
    except OSError:
        return []
    heapq.heapify(heap)  # (names are unique: the entries themselves are never compared)
    found: list[tuple[str, bool]] = []
    while heap and len(found) < limit:
        entry = heapq.heappop(heap)[-1]
        written, is_folder = folder_written + entry.name, entry.is_dir()  # (kept by the entry: no second stat)
        try:
            if entry.is_symlink() or (not folder_written and entry.name.startswith("~")):  # (`~x`: x's home)
                resolve(_as_reference(written), rules)
            else:
                _allowed(f"@file:{written}", folder / entry.name, rules)
        except ContextRefused:
            if not (is_folder and _toward_a_root(written, rules)):
                continue
        found.append((entry.name, is_folder))
    return found


def _as_reference(path: str) -> Reference:
    return Reference(path, path, None, None, 0, 0)


def _toward_a_root(written: str, rules: Rules) -> Path | None:
    """The folder `written` names if a `context_roots` folder lies below it, else None."""
    try:
        path = Path(written).expanduser()
        if not path.is_absolute():
            if rules.folder is None:
                return None
            path = rules.folder / path
        path = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return path if any(root.is_relative_to(path) for root in rules.roots) else None


def read(reference: Reference, path: Path, limit: int) -> str:
    """The text a reference sends, or `ContextRefused`: a regular file only,
    told by `os.stat` before anything is opened (a pipe would never end, a
    device may block or never end), of at most `limit` bytes by its size
    too; opened without blocking and without following a link swapped in
    since `resolve`, and checked again once open (a file swapped since)."""
    name = f"@file:{reference.path}"
    try:
        _regular(name, os.stat(path), limit)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise ContextRefused(f"{name}: no such file") from None
    except OSError as exc:
        raise ContextRefused(f"{name}: cannot read it ({exc.strerror or exc})") from None
    try:
        _regular(name, os.fstat(fd), limit)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise ContextRefused(f"{name}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # (it grew since)
        raise _too_big(name, limit)
    try:
        text = text_of(data, name)
    except NotText as exc:
        raise ContextRefused(f"{exc}: not sent") from None
    if reference.first is None:
        return text
    lines = split_keeping_ends(text)  # where LSP breaks lines, as the editor numbers them
    last = reference.last or reference.first
    if reference.first < 1 or last < reference.first or reference.first > len(lines):
        raise ContextRefused(f"{name}#L{reference.first}: no such lines (it has {len(lines)})")
    return "".join(lines[reference.first - 1 : last])


def _regular(name: str, info: os.stat_result, limit: int) -> None:
    """`ContextRefused` unless `info` is a regular file of at most `limit` bytes."""
    if stat.S_ISDIR(info.st_mode):
        raise ContextRefused(f"{name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ContextRefused(f"{name} is not a regular file (a pipe, device or socket): not read; name a file instead")
    if info.st_size > limit:
        raise _too_big(name, limit)


def _too_big(name: str, limit: int) -> ContextRefused:
    return ContextRefused(f"{name} has more than context_limit ({limit:,}) bytes: not sent")


def check(reference: Reference, rules: Rules) -> tuple[Path, int]:
    """The file and its size, if the reference can be sent; else `ContextRefused`."""
    path = resolve(reference, rules)
    text = read(reference, path, rules.limit)
    return path, len(text.encode("utf-8"))


def problems(lines: Sequence[str], first: int, rules: Rules) -> list[Problem]:
    """An error at each reference that would be refused, in a question whose
    lines (without their breaks) start at line `first` of the chat."""
    text = "\n".join(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    found = []
    for reference in references(text):
        try:
            check(reference, rules)
        except ContextRefused as exc:
            at = bisect.bisect_right(starts, reference.start) - 1
            start, end = reference.start - starts[at], reference.end - starts[at]
            found.append(error(str(exc), Range(Position(first + at, start), Position(first + at, end))))
    return found


def expand(messages: list[Message], rules: Rules) -> list[Message]:
    """The messages with the files of the question being sent (the last)
    added after its text, in order, once each. Earlier questions go as they
    are written: their files were sent with them, and a chat written by
    someone else must not send files through its old turns."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    expanded = []
    for index, message in enumerate(messages):
        refs = references(message.content) if index == last else []
        blocks, seen = [], set()
        for reference in refs:
            if reference.written in seen:
                continue
            seen.add(reference.written)
            blocks.append(_block(reference.written, read(reference, resolve(reference, rules), rules.limit)))
        expanded.append(replace(message, content="\n\n".join([message.content, *blocks])) if blocks else message)
    return expanded


def _block(label: str, text: str) -> str:
    char = "~" if "`" in label else "`"
    fence = char * max(3, _longest_run(text, char) + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{label}\n{body}{fence}"


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(re.escape(char) + "+", text)
    return max((len(run) for run in runs), default=0)


def _may_hold_secrets(below: Path) -> bool:
    """`below`, the part of a path inside the chat's folder: hidden (a part
    starting with ".") or a name that may hold secrets, without case (macOS)."""
    if any(part.startswith(".") for part in below.parts):
        return True
    return any(fnmatch.fnmatchcase(below.name.lower(), pattern) for pattern in SECRET_NAMES)
