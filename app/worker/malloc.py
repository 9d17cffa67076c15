"""The C allocator set up for a long-lived worker: large blocks mapped on their own
(`map_large_blocks`), freed heap given back (`give_freed_memory_back`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

#: glibc's mallopt parameter for the size from which a block gets its own memory mapping.
_M_MMAP_THRESHOLD = -3
#: From this size a block is mapped on its own: the listing index's columns (1 to 8 MB at
#: 1,000,000 devices), large fetch buffers.
LARGE_BLOCK = 1024 * 1024
#: While flushes go on, the heap is trimmed this often (`app.worker.heap_trim`).
TRIM_EVERY_S = 5.0


def map_large_blocks(size: int = LARGE_BLOCK) -> bool:
    """Give every block of `size` bytes or more its own mapping, returned to the system when
    freed and grown in place (mremap). Whether it could (glibc only; elsewhere a no-op).

    glibc starts so, but raises the threshold to the size of each large block freed (up to
    32 MiB): after the first big temporary list, the index's arrays grow inside the heap, and
    the holes each growth leaves are never given back. At 1,000,000 devices that was ~30 MB
    of a worker's resident memory; fixing the threshold stops its drift.
    """
    mallopt = _libc_function("mallopt", ctypes.c_int, ctypes.c_int)
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, size))


def give_freed_memory_back() -> bool:
    """Return the heap freed so far to the operating system (glibc's `malloc_trim`); whether
    any was returned. No-op where there is no glibc.

    glibc keeps freed heap for later allocations, so a worker's resident memory stays at its
    peak after whatever freed it (a restore, a burst of ingest). A ctypes call lets go of the
    GIL: called in a thread, the event loop runs on meanwhile.
    """
    trim = _libc_function("malloc_trim", ctypes.c_size_t)
    return trim is not None and bool(trim(0))


@functools.cache
def _libc_function(name: str, *argtypes: Any) -> Any | None:
    """glibc's `name`, taking `argtypes` and returning an int; None where there is none. Found
    once: `find_library` runs `ldconfig` in a subprocess, and the trim is called every few
    seconds."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function = getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function
