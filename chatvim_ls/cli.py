"""The `chatvim-ls` command line.

`chatvim-ls complete --dry-run FILE` prints the request a chat would send as
one JSON object, with no network and no key. Every failure is one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .config import ConfigError, NotText, load_global_config, read_text
from .document import parse_chat
from .request import RequestError, build_request


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatvim-ls",
        description="Chat with an LLM inside a markdown file.",
    )
    parser.add_argument("--version", action="version", version=f"chatvim-ls {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    complete = commands.add_parser("complete", help="show the request a chat file would send")
    complete.add_argument("--dry-run", action="store_true", help="print the request as JSON; send nothing")
    complete.add_argument("file", type=Path, metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "complete":
        return _complete(args.file, dry_run=args.dry_run)
    _parser().print_help(sys.stderr)
    return 2


def _complete(path: Path, *, dry_run: bool) -> int:
    if not dry_run:
        return _fail("chatvim-ls complete: only --dry-run works from the command line; answers stream in your editor")
    try:
        config = load_global_config()
        text = read_text(path)
    except (ConfigError, NotText) as exc:
        return _fail(str(exc))
    chat = parse_chat(text, config.settings)
    for line in config.warnings + [p.one_line(str(path)) for p in chat.problems if not p.is_error]:
        print(line, file=sys.stderr)
    try:
        request = build_request(chat, config, os.environ)
    except RequestError as exc:
        return _fail(exc.one_line(str(path)))
    output = json.dumps(request.to_json(), ensure_ascii=False, indent=2) + "\n"
    sys.stdout.buffer.write(output.encode("utf-8"))
    return 0


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1
