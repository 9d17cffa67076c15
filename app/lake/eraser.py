"""Erasing devices and Telegram users from the lake: the enriched files that hold their rows
(`probes` and `group_joins` by MAC, `messages` by user id) are written again without them, and
so are the raw pieces of the partition (`app.logic.lake.erase`).

The archiver calls it after writing the piece that holds an erasure record: every earlier record
of that partition is in the lake by then (a MAC's probes all live in its own partition, its
join in its group's, where its group is told of the erasure after the join; a user's erasure is
sent to every partition of `telegram-updates`). A file is
replaced whole (written aside, then put in one step), and keeps its Parquet metadata (a
compacted file's list of sources); a file left with no row is deleted. Costs a scan of the
table's files and of the partition's raw pieces: erasures are rare, and batched per flush.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

import duckdb

from app.lake.compactor import COMPACTED
from app.lake.parquet import COLUMNS
from app.lake.storage import Lake
from app.logic.lake.erase import scrub_line, scrub_member_line, scrub_user_line
from app.logic.lake.layout import TABLES, raw_glob, table_glob
from app.worker.counters import counters

logger = logging.getLogger(__name__)


class LakeEraser:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def erase(self, zone: str, partition: int, subjects: frozenset[str]) -> tuple[int, int]:
        """Take devices (zone `probes`: MACs) or Telegram users (zone `telegram`: user ids) out
        of the lake: (enriched files, raw pieces) written again."""
        if zone == "telegram":
            users = frozenset(int(user) for user in subjects)
            files = self._enriched("messages", "user_id", sorted(users), partition)
            pieces = self._raw(zone, partition, lambda line: scrub_user_line(line, users))
        elif zone == "groups":
            files = self._enriched("group_joins", "mac", sorted(subjects), partition)
            pieces = self._raw(zone, partition, lambda line: scrub_member_line(line, subjects))
        else:
            files = self._enriched("probes", "mac", sorted(subjects), partition)
            pieces = self._raw(zone, partition, lambda line: scrub_line(line, subjects))
        counters.incr(f"lake.erased.{zone}", len(subjects))
        logger.info(
            "lake: erased %d %s: %d files and %d raw pieces written again",
            len(subjects),
            "users" if zone == "telegram" else "devices",
            files,
            pieces,
        )
        return files, pieces

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        if not self.lake.local:
            con.register_filesystem(self.lake.fs)
        return con

    def _enriched(self, table: str, column: str, values: list[Any], partition: int) -> int:
        """Rewrite the table's files that hold rows of `values`: those made from this
        partition's pieces, and the compacted ones (any partition's rows are in them)."""
        zone = TABLES[table]
        mine = f"{zone}+{partition:04d}+"
        paths = [
            path
            for path in self.lake.glob(table_glob(table))
            if path.rsplit("/", 1)[-1].startswith((mine, COMPACTED))
        ]
        if not paths:
            return 0
        with self._connection() as con:
            uris = {self.lake.uri(path): path for path in paths}
            holding = con.execute(
                f"SELECT DISTINCT filename FROM read_parquet(?, filename = true, "
                f'union_by_name = true) WHERE "{column}" IN (SELECT unnest(?))',
                [list(uris), values],
            ).fetchall()
            for (uri,) in holding:
                self._rewrite(con, table, column, uris[uri], uri, values)
        return len(holding)

    def _rewrite(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        column: str,
        path: str,
        uri: str,
        values: list[Any],
    ) -> None:
        metadata = con.execute("SELECT key, value FROM parquet_kv_metadata(?)", [uri]).fetchall()
        kept = con.execute(
            f'SELECT count(*) FROM read_parquet(?) WHERE "{column}" IS NULL OR "{column}" NOT IN '
            "(SELECT unnest(?))",
            [uri, values],
        ).fetchone()
        if not kept or kept[0] == 0:
            self.lake.delete([path])
            return
        columns = ", ".join(f'"{name}"' for name in [*COLUMNS[table], "time"])
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
                f'COPY (SELECT {columns} FROM read_parquet(?) WHERE "{column}" IS NULL OR '
                f"\"{column}\" NOT IN (SELECT unnest(?))) TO '{_sql(local)}' "
                f"(FORMAT parquet, COMPRESSION zstd{options})",
                [uri, values],
            )
            self.lake.put_file(path, local)
        finally:
            if os.path.exists(local):
                os.unlink(local)

    def _raw(self, zone: str, partition: int, scrub: Callable[[bytes], bytes | None]) -> int:
        rewritten = 0
        for path in self.lake.glob(raw_glob(zone, partition)):
            data = gzip.decompress(self.lake.read_bytes(path))
            lines = data.splitlines(keepends=True)
            scrubbed = [scrub(line) for line in lines]
            if scrubbed == lines:
                continue
            kept = b"".join(line for line in scrubbed if line is not None)
            if kept:
                self.lake.put_bytes(path, gzip.compress(kept, compresslevel=5))
            else:
                self.lake.delete([path])
            rewritten += 1
        return rewritten


def _sql(text: str) -> str:
    return text.replace("'", "''")
