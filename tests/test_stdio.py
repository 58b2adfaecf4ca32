"""stdio.py without a server: which pipes are read on the event loop (the
wire tests drive the rest: pytest-lsp talks to the server over pipes)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from chatvim_ls.stdio import LINE_LIMIT, reads_on_the_loop

from .lsp_editor import Replies


@pytest.fixture
def pipe() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    reading, writing = os.pipe()
    with open(reading, "rb") as source, open(writing, "wb") as sink:
        yield source, sink


def test_a_pipe_of_its_own_is_read_on_the_loop(pipe: tuple[BinaryIO, BinaryIO], tmp_path: Path) -> None:
    source, _sink = pipe
    with (tmp_path / "out").open("wb") as out:
        assert reads_on_the_loop(source, out)


def test_a_socket_of_its_own_is_read_on_the_loop() -> None:
    """As Neovim and VS Code (libuv) start a server: a socket pair for stdin, another for stdout."""
    (editor_in, server_in), (server_out, editor_out) = socket.socketpair(), socket.socketpair()
    with editor_in, server_in, server_out, editor_out:
        assert reads_on_the_loop(server_in.makefile("rb"), server_out.makefile("wb"))


def test_one_file_both_ways_is_read_as_pygls_reads_it(pipe: tuple[BinaryIO, BinaryIO], tmp_path: Path) -> None:
    """Non-blocking stdin would make stdout non-blocking too: a terminal, a socket, one pipe both ways."""
    source, _sink = pipe
    assert not reads_on_the_loop(source, source)
    left, right = socket.socketpair()
    with left, right, left.makefile("rb") as both:
        assert not reads_on_the_loop(both, both)
    with (tmp_path / "in").open("wb+") as file:
        assert not reads_on_the_loop(file, source)  # (a file is no pipe)
    assert not reads_on_the_loop(io.BytesIO(), io.BytesIO())  # (no descriptor)


def test_a_header_line_over_the_limit_is_dropped_and_the_server_goes_on(tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, "-m", "chatvim_ls", "--log-file", str(tmp_path / "log")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert server.stdin is not None and server.stdout is not None
    replies = Replies(server)
    with server:
        server.stdin.write(b"X" * (LINE_LIMIT + 100) + b"\r\n")
        replies.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        reply = replies.of(1)
        replies.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        assert replies.of(2)["result"] is None
        replies.send({"jsonrpc": "2.0", "method": "exit"})
        server.stdin.close()
        assert server.wait(10) == 0
        assert server.stderr is not None and server.stderr.read() == b""
    assert "capabilities" in reply["result"]
    log = (tmp_path / "log").read_text()
    assert "a header line over 1048576 bytes; dropped it" in log and "Traceback" not in log, log


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts the threads in /proc (Linux)")
def test_a_server_given_sockets_reads_them_on_the_loop(tmp_path: Path) -> None:
    """Started as Neovim starts it: no thread reads stdin (pygls' reader would start a pool)."""
    (editor_in, server_in), (server_out, editor_out) = socket.socketpair(), socket.socketpair()
    with editor_in, editor_out:
        with server_in, server_out:
            server = subprocess.Popen([sys.executable, "-m", "chatvim_ls", "--log-file", str(tmp_path / "log")],
                                      stdin=server_in.fileno(), stdout=server_out.fileno())  # fmt: skip
        replies = Replies((editor_in.makefile("wb"), editor_out.makefile("rb")))
        replies.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        assert "capabilities" in replies.of(1)["result"]
        threads = len(list(Path(f"/proc/{server.pid}/task").iterdir()))
        replies.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        assert replies.of(2)["result"] is None
        replies.send({"jsonrpc": "2.0", "method": "exit"})
        assert server.wait(10) == 0
    assert threads == 1
