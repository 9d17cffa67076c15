"""Erasing devices from the lake: the enriched `probes` files that hold their rows are written
again without them, and so are the raw pieces of their partition (`app.logic.lake.erase`).

The archiver calls it after writing the piece that holds an erasure record: every earlier probe
of that device is in the lake by then (a MAC's probes all live in its own partition). A file is
replaced whole (written aside, then put in one step), and keeps its Parquet metadata (a
compacted file's list of sources); a file left with no row is deleted. Costs a scan of the
table's files and of the partition's raw pieces: erasures are rare, and batched per flush.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile

import duckdb

from app.lake.parquet import COLUMNS
from app.lake.storage import Lake
from app.logic.lake.erase import scrub_line
from app.logic.lake.layout import raw_glob, table_glob
from app.worker.counters import counters

logger = logging.getLogger(__name__)


class LakeEraser:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def erase(self, zone: str, partition: int, macs: frozenset[str]) -> tuple[int, int]:
        """Take the devices out of the lake: (enriched files, raw pieces) written again."""
        files = self._enriched(macs)
        pieces = self._raw(zone, partition, macs)
        counters.incr("lake.erased_devices", len(macs))
        logger.info(
            "lake: erased %d devices: %d files and %d raw pieces written again",
            len(macs),
            files,
            pieces,
        )
        return files, pieces

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        if not self.lake.local:
            con.register_filesystem(self.lake.fs)
        return con

    def _enriched(self, macs: frozenset[str]) -> int:
        paths = self.lake.glob(table_glob("probes"))
        if not paths:
            return 0
        listed = sorted(macs)
        with self._connection() as con:
            uris = {self.lake.uri(path): path for path in paths}
            holding = con.execute(
                "SELECT DISTINCT filename FROM read_parquet(?, filename = true, "
                "union_by_name = true) WHERE mac IN (SELECT unnest(?))",
                [list(uris), listed],
            ).fetchall()
            for (uri,) in holding:
                self._rewrite(con, uris[uri], uri, listed)
        return len(holding)

    def _rewrite(
        self, con: duckdb.DuckDBPyConnection, path: str, uri: str, macs: list[str]
    ) -> None:
        metadata = con.execute("SELECT key, value FROM parquet_kv_metadata(?)", [uri]).fetchall()
        kept = con.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE mac NOT IN (SELECT unnest(?))",
            [uri, macs],
        ).fetchone()
        if not kept or kept[0] == 0:
            self.lake.delete([path])
            return
        columns = ", ".join(f'"{name}"' for name in [*COLUMNS["probes"], "time"])
        options = ""
        if metadata:
            pairs = ", ".join(
                f"'{_sql(bytes(key).decode())}': '{_sql(bytes(value).decode())}'"
                for key, value in metadata
            )
            options = f", KV_METADATA {{{pairs}}}"
        handle, local = tempfile.mkstemp(suffix=".parquet", prefix="probewatch-erase-")
        os.close(handle)
        try:
            con.execute(
                f"COPY (SELECT {columns} FROM read_parquet(?) WHERE mac NOT IN "
                f"(SELECT unnest(?))) TO '{_sql(local)}' (FORMAT parquet, COMPRESSION zstd"
                f"{options})",
                [uri, macs],
            )
            self.lake.put_file(path, local)
        finally:
            if os.path.exists(local):
                os.unlink(local)

    def _raw(self, zone: str, partition: int, macs: frozenset[str]) -> int:
        rewritten = 0
        needles = [mac.encode() for mac in macs]
        for path in self.lake.glob(raw_glob(zone, partition)):
            data = gzip.decompress(self.lake.read_bytes(path))
            if not any(needle in data for needle in needles):
                continue
            lines = [scrub_line(line, macs) for line in data.splitlines(keepends=True)]
            kept = b"".join(line for line in lines if line is not None)
            if kept:
                self.lake.put_bytes(path, gzip.compress(kept, compresslevel=5))
            else:
                self.lake.delete([path])
            rewritten += 1
        return rewritten


def _sql(text: str) -> str:
    return text.replace("'", "''")
