"""The allocator setting of a worker (`app.worker.malloc`): large blocks are mapped on their
own, so memory freed by the listing index's growth goes back to the system."""

from __future__ import annotations

import ctypes.util
import gc
from array import array
from pathlib import Path

import pytest

from app.worker import malloc


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library to tune")
def test_large_blocks_freed_go_back_to_the_system() -> None:
    """A big temporary list, then columns that grow by appends (what an index read-back does):
    once they are freed, the process is back about where it started (without the setting,
    ~30 MB of the 24 MB columns' growth stays in the heap)."""
    assert malloc.map_large_blocks()
    gc.collect()
    before = resident_mb()
    scratch = list(range(2_000_000))  # 16 MB of pointers, freed at once
    del scratch
    columns = [array("Q") for _ in range(6)]
    for number in range(500_000):  # 6 x 4 MB, grown a little at a time
        for column in columns:
            column.append(number)
    del columns
    gc.collect()
    assert resident_mb() - before < 8, "the columns' memory went back when they were freed"


def test_without_a_c_library_it_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert malloc.map_large_blocks() is False
