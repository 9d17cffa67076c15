"""How every table's RocksDB databases are opened: sized for a worker, not for a server.

faust opens one database per table partition with 64 MiB write buffers (up to 3 of them) and a
2 GiB block cache each; with four tables, eight partitions and their standbys that is dozens of
databases, and after a restore of 1,000,000 devices the full write buffers alone held ~600 MB.
Small buffers flush to sorted files sooner (reads stay fast: bloom filters and the OS page cache),
and a small cache per database bounds what reads keep. Passed to each `app.Table` as `options`.
"""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024

ROCKSDB_OPTIONS: dict[str, Any] = {
    "write_buffer_size": 4 * MIB,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * MIB,
    "block_cache_size": 8 * MIB,
}
