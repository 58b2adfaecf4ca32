"""Context from files: `@file:PATH` (or `@file:PATH#L10-L40`) in a question
sends that file's text with it, as a fenced block labelled with the
reference, read when the question is sent.

The rules, safety first (a chat that was merely opened must never send a
file the user did not choose):
- PATH is relative to the chat's folder, or absolute (`~` too). The file,
  symlinks followed, must lie in the chat's folder tree, or under one of
  the `context_roots` folders of config.md or the editor's settings (never
  of a chat).
- A file that may hold secrets (`.env`, private keys, `.netrc`, cloud and
  tool credentials, anything under `.ssh`, `.gnupg` or `.aws`) is refused
  unless it lies under a `context_roots` folder.
- A file that is missing, unreadable, not UTF-8 text, or larger than
  `context_limit` bytes (default `CONTEXT_LIMIT`) is refused.
- A refused reference stops the question, with a one-line message; a
  refused path is never read. References inside code blocks are text.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .chat import Message, parse_chat
from .config import NotText, read_text
from .problems import ChatvimError

CONTEXT_LIMIT = 200_000  # bytes
REFERENCE = re.compile(r"(?<![\w@/])@file:(\S+?)(?:#L(\d+)(?:-L(\d+))?)?(?=[\s,;!?)\]]|[.:](?:\s|$)|$)")
#: File names, and folders anywhere in a path, that may hold secrets.
SECRET_NAMES = (".env", ".env.*", "*.env", ".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials", "*.pem",
                "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "credentials",
                "credentials.json", "application_default_credentials.json", "*.tfstate", "secrets.*")  # fmt: skip
SECRET_FOLDERS = (".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", "gcloud")


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
    line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    found = []
    for match in REFERENCE.finditer(text):
        line = sum(1 for start in line_starts if start <= match.start()) - 1
        if any(first <= line <= last for first, last in blocks):
            continue
        first = int(match[2]) if match[2] else None
        last = int(match[3]) if match[3] else first
        found.append(Reference(match[0][len("@file:") :], match[1], first, last, match.start(), match.end()))
    return found


def resolve(reference: Reference, rules: Rules) -> Path:
    """The file a reference may send, or `ContextRefused` saying why not (nothing is read)."""
    written = Path(reference.path).expanduser()
    if not written.is_absolute():
        if rules.folder is None:
            raise ContextRefused(f"@file:{reference.path}: a relative path needs a chat saved as a file")
        written = rules.folder / written
    path = written.resolve()
    allowed_root = any(path.is_relative_to(root) for root in rules.roots)
    in_chat_folder = rules.folder is not None and path.is_relative_to(rules.folder)
    if not (allowed_root or in_chat_folder):
        raise ContextRefused(
            f"@file:{reference.path} is outside this chat's folder: add its folder to context_roots in config.md"
        )
    if _may_hold_secrets(path) and not allowed_root:
        raise ContextRefused(
            f"@file:{reference.path} may hold secrets: not sent (add its folder to context_roots to allow it)"
        )
    return path


def read(reference: Reference, path: Path, limit: int) -> str:
    """The text a reference sends, or `ContextRefused`."""
    name = f"@file:{reference.path}"
    try:
        if path.is_dir():
            raise ContextRefused(f"{name} is a folder, not a file")
        if path.exists() and path.stat().st_size > limit:
            raise ContextRefused(f"{name} has {path.stat().st_size:,} bytes, more than context_limit ({limit:,})")
        text = read_text(path)  # missing, unreadable, not UTF-8, binary: one line saying which
    except NotText as exc:
        raise ContextRefused(str(exc).replace(str(path), name, 1) + ": not sent") from None
    except OSError as exc:
        raise ContextRefused(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if reference.first is None:
        return text
    lines = text.splitlines(keepends=True)
    last = reference.last or reference.first
    if reference.first < 1 or last < reference.first or reference.first > len(lines):
        raise ContextRefused(f"{name}#L{reference.first}: no such lines (it has {len(lines)})")
    return "".join(lines[reference.first - 1 : last])


def check(reference: Reference, rules: Rules) -> tuple[Path, int]:
    """The file and its size, if the reference can be sent; else `ContextRefused`."""
    path = resolve(reference, rules)
    text = read(reference, path, rules.limit)
    return path, len(text.encode("utf-8"))


def expand(messages: list[Message], rules: Rules) -> list[Message]:
    """The messages with each question's files added after its text, in order, once each."""
    expanded = []
    for message in messages:
        refs = references(message.content) if message.role == "user" else []
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


def _may_hold_secrets(path: Path) -> bool:
    if any(part in SECRET_FOLDERS for part in path.parts[:-1]):
        return True
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in SECRET_NAMES)
