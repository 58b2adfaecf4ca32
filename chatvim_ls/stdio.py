"""The editor's pipe (or socket), read on the event loop.

pygls reads stdin in a thread: each header line and each body is a call
handed to a thread pool and its result handed back to the loop, three
round trips per message. While an answer streams the editor sends two
messages per token (the edit's reply and its didChange), and those hops
cost a third of the server's CPU per token (`bench/tokens.py`: 2.3 ms per
token at 200 tokens/s through the thread, 1.6 ms here). Here stdin is read
by an asyncio `StreamReader` instead, fed by the loop's own epoll, and
handed to pygls' message loop (`pygls.io_.run_async`) unchanged: the same
parsing, the same handlers, the same writer.

Messages already buffered are handled back to back, before the tasks they
start run. So a client that writes `exit` without awaiting the replies to
what it sent before (LSP asks it to await `shutdown`'s) finds them
unanswered: `exit` ends the server at once, as LSP says.

Neovim and VS Code (libuv) hand their servers a socket pair, not a pipe,
for each of stdin and stdout: read here as well, Neovim's edits cost the
server 1.2 ms of CPU each rather than 2.2 to 2.6 (`bench/latency.py`).

Only for a pipe or socket of its own: `connect_read_pipe` makes stdin
non-blocking, which would make stdout non-blocking too where both are one
file (a terminal, one socket for both ways). Anything else is read as pygls
reads it (`LanguageServer.start_io`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
import threading
from typing import BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

LINE_LIMIT = 2**20  # bytes in a header line (a body may be any length)
_DROPPED = b"X-Dropped: a line over the limit\r\n"  # (what pygls reads instead: no header it knows)


def reads_on_the_loop(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Is `stdin` a pipe, or a socket, that is not also `stdout`? (Editors
    built on libuv, Neovim and VS Code, give their servers a socket pair for
    each of stdin and stdout.)"""
    try:
        source, sink = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError):  # (no file descriptor: a test's BytesIO)
        return False
    pipe = stat.S_ISFIFO(source.st_mode) or stat.S_ISSOCK(source.st_mode)
    posix = os.name == "posix"  # (Windows' loops read pipes their own way)
    return posix and pipe and (source.st_dev, source.st_ino) != (sink.st_dev, sink.st_ino)


def serve(server: LanguageServer) -> None:
    """Serve the editor over stdin and stdout until it goes or says `exit`."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    if not reads_on_the_loop(stdin, stdout):
        server.start_io(stdin, stdout)
        return
    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(_serve_pipe(server, stdin))
    except BrokenPipeError:
        log.error("the editor closed its end of the pipe; stopping")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


async def _serve_pipe(server: LanguageServer, stdin: BinaryIO) -> None:
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    await run_async(
        stop_event=threading.Event(),  # (never set: the loop ends at the end of stdin, or `exit`)
        reader=_Reader(reader),
        protocol=server.protocol,
        logger=log,
        error_handler=server.report_server_error,
    )


class _Reader:
    """pygls' reader interface on a StreamReader: end of input reads as b""
    (where `readexactly` would raise), as a closed stdin does for pygls."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def readline(self) -> bytes:
        try:
            return await self._reader.readline()
        except ValueError:  # a line over the limit, no LSP header: dropped, as pygls drops lines it does not know
            log.error("the editor sent a header line over %d bytes; dropped it", LINE_LIMIT)
            return _DROPPED

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""
