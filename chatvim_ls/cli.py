"""The `chatvim-ls` command line.

`chatvim-ls` with no command serves LSP over stdio (or `--tcp`).
`chatvim-ls complete FILE` answers a chat file (`answer_file.py`);
`chatvim-ls complete --dry-run FILE` prints the request it would send as
one JSON object, with no network and no key (FILE `-`: the chat is read
from stdin). `chatvim-ls health` prints the configuration's health
(`health.py`) for an editor's health check. Every failure is one line on
stderr and a non-zero exit, never a traceback. Nothing but the protocol is
ever written to stdout while serving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from . import __version__
from .asking import context_rules
from .chat import parse_chat
from .config import GlobalConfig, load_global_config, read_text, text_of
from .context import expand
from .problems import ChatvimError
from .providers import BUILTIN_PROVIDERS, NO_MODEL, key_from_environment, provider_named
from .request import build_request
from .secrets import redact, remember_secret


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatvim-ls",
        description="Chat with an LLM inside a markdown file.",
    )
    parser.add_argument("--version", action="version", version=f"chatvim-ls {__version__}")
    parser.add_argument("--tcp", action="store_true", help="serve over TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    parser.add_argument("--log-file", type=Path, help="write logs here instead of stderr")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default WARNING"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    complete = commands.add_parser(
        "complete", help="answer a chat file: the answer streams to stdout and is written into the file"
    )
    complete.add_argument("--dry-run", action="store_true", help="print the request as JSON; send nothing")
    complete.add_argument("--no-write", action="store_true", help="print the answer only; leave the file as it is")
    complete.add_argument("file", metavar="FILE", help="the chat; - reads it from stdin and prints the answered chat")
    health = commands.add_parser("health", help="print the configuration's health as JSON (for :checkhealth)")
    health.add_argument(
        "--settings", default="{}", metavar="JSON", help="the editor's settings as JSON; - reads them from stdin"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "complete" and args.dry_run:
        return _dry_run(args.file)
    if args.command == "complete":
        from .answer_file import complete_file

        return complete_file(args.file, write=not args.no_write)
    if args.command == "health":
        return _health(args.settings)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from .secrets import RedactingFilter

    try:
        handler: logging.Handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler()
    except OSError as exc:
        return _fail(f"chatvim-ls: cannot write the log file {args.log_file}: {exc.strerror or exc}")
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    # pygls logs every message body at INFO: keep it at WARNING unless DEBUG is asked for.
    logging.getLogger("pygls").setLevel(args.log_level if args.log_level in ("DEBUG", "ERROR") else "WARNING")
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_without_answered_errors)

    import gc

    # Start-up makes about 100,000 objects that live as long as the server:
    # collecting less often meanwhile, and freezing them after, saves about
    # 60 ms before `initialize` is answered, and halves later full collections.
    thresholds = gc.get_threshold()
    gc.set_threshold(5000, *thresholds[1:])
    from .server import create_server

    server = create_server()
    gc.set_threshold(*thresholds)
    gc.freeze()
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        from . import stdio

        stdio.serve(server)
    return 0


def _without_answered_errors(record: logging.LogRecord) -> bool:
    """Drop pygls' ERROR traceback for a JSON-RPC error a handler raised on
    purpose (a bad argument, an invalid chat): the editor got the error as the
    answer and the user a message; a traceback in the log would only alarm."""
    from pygls.exceptions import JsonRpcException

    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, JsonRpcException)


def _dry_run(source: str) -> int:
    path = None if source == "-" else Path(source)
    where = "<stdin>" if path is None else source
    try:
        config = load_global_config()
        text = text_of(sys.stdin.buffer.read(), where) if path is None else read_text(path)
    except ChatvimError as exc:
        return _fail(str(exc))
    _remember_keys(config)
    chat = parse_chat(text, config.settings)
    for line in config.warnings + [p.one_line(where) for p in chat.problems if not p.is_error]:
        print(redact(line), file=sys.stderr)
    try:
        request = build_request(chat, config, os.environ, preview=True)
        request = replace(request, messages=expand(request.messages, context_rules(path, config.options)))
    except ChatvimError as exc:
        return _fail(exc.one_line(where))
    if not request.model:
        print(f"{where}: warning: {NO_MODEL} (the request below has none)", file=sys.stderr)
    output = json.dumps(request.to_json(), ensure_ascii=False, indent=2) + "\n"
    sys.stdout.buffer.write(output.encode("utf-8"))
    return 0


def _remember_keys(config: GlobalConfig) -> None:
    """Every provider's key in the environment, for `redact`: a dry run reads
    none, and a key pasted into a chat may show in a warning."""
    for name in {*BUILTIN_PROVIDERS, *config.providers}:
        with contextlib.suppress(ChatvimError):  # (a broken provider table, or no key: nothing to hide)
            key = key_from_environment(provider_named(name, config.providers, os.environ), os.environ)
            if key:
                remember_secret(key)


def _health(settings: str) -> int:
    from .health import report

    try:
        editor = json.loads(sys.stdin.read() if settings == "-" else settings)  # stdin: headers may hold tokens
    except ValueError:
        return _fail('chatvim-ls health: --settings must be JSON, like \'{"flush": "line"}\'')
    sys.stdout.buffer.write((json.dumps(report(editor), ensure_ascii=False) + "\n").encode("utf-8"))
    return 0


def _fail(message: str) -> int:
    print(redact(message), file=sys.stderr)
    return 1
