"""stdio.py without a server: which pipes are read on the event loop (the
wire tests drive the rest: pytest-lsp talks to the server over pipes)."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from chatvim_ls.stdio import reads_on_the_loop


@pytest.fixture
def pipe() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    reading, writing = os.pipe()
    with open(reading, "rb") as source, open(writing, "wb") as sink:
        yield source, sink


def test_a_pipe_of_its_own_is_read_on_the_loop(pipe: tuple[BinaryIO, BinaryIO], tmp_path: Path) -> None:
    source, _sink = pipe
    with (tmp_path / "out").open("wb") as out:
        assert reads_on_the_loop(source, out)


def test_one_file_both_ways_is_read_as_pygls_reads_it(pipe: tuple[BinaryIO, BinaryIO], tmp_path: Path) -> None:
    """Non-blocking stdin would make stdout non-blocking too: a terminal, a socket, one pipe both ways."""
    source, _sink = pipe
    assert not reads_on_the_loop(source, source)
    left, right = socket.socketpair()
    with left, right, left.makefile("rb") as both:
        assert not reads_on_the_loop(both, both)  # type: ignore[arg-type]
    with (tmp_path / "in").open("wb+") as file:
        assert not reads_on_the_loop(file, source)  # (a file is no pipe)
    assert not reads_on_the_loop(io.BytesIO(), io.BytesIO())  # (no descriptor)
