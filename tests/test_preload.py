"""`llm.preload`: the provider client's code, loaded in a thread ahead of the
first answer, and kept out of the way of the collector afterwards."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from chatvim_ls import llm


@pytest.fixture(autouse=True)
def fresh_preload(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(llm, "_preloading", None)
    yield
    gc.unfreeze()  # what the test froze is this process's, not a server's
    gc.enable()


async def test_what_it_loads_is_frozen_and_collection_goes_on() -> None:
    gc.unfreeze()
    await asyncio.wrap_future(llm.preload())
    assert gc.get_freeze_count() > 0  # no collection walks openai's objects again
    assert gc.isenabled()


async def test_a_failed_load_turns_collection_back_on_and_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ImportError("No module named 'openai'")

    loaded = llm._load_client_code
    monkeypatch.setattr(llm, "_load_client_code", broken)
    with pytest.raises(ImportError, match="openai"):
        await asyncio.wrap_future(llm.preload())
    assert gc.isenabled()
    monkeypatch.setattr(llm, "_load_client_code", loaded)
    await asyncio.wrap_future(llm.preload())  # the next chat opened, or answer asked, tries again
