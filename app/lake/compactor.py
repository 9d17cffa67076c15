"""The daily "D-1" job, run by the workers themselves: a finished day's enriched files of a
table, one per raw piece, merged into one file sorted by time; and a finished day's raw pieces
of a partition merged into one piece (`compact_raw`).

Which worker compacts a day: the one whose archiver holds the `probes` partition the day's name
hashes to, and only between two of its polls, so the group's rebalancing (which waits for the
poll) never lets two workers compact the same day at once. A day is finished once it is before
today (UTC); files younger than `min_age_s` are left for the next round, so a piece being
written (its enriched files first, its raw piece last) is never taken half-done.

The merged file, `compacted-<hash of its sources>.parquet`, lists its sources in its Parquet
metadata. It is written whole before they are deleted; a crash in between leaves both, and the
next round deletes the sources a compacted file lists before anything else. (A query running
in that moment may count those rows twice; one a moment later does not.)

Raw pieces are merged by the worker archiving their partition, between its polls, so no piece
of that partition is being written meanwhile (no age to wait for). The merged piece is named
like any piece (its first and last offsets) and written whole before its sources are deleted;
after a crash in between, the next round deletes every piece another piece holds whole
(`superseded`).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zlib
from datetime import UTC, datetime

import duckdb
import orjson

from app.lake.parquet import COLUMNS
from app.lake.storage import Lake
from app.logic.lake.layout import Piece, merges, raw_day, raw_glob, raw_path, superseded
from app.worker.counters import counters

logger = logging.getLogger(__name__)

COMPACTED = "compacted-"
SOURCES_KEY = "probewatch.sources"


def owner_partition(day: str, partitions: int) -> int:
    """The `probes` partition whose archiver compacts this day."""
    return zlib.crc32(day.encode()) % partitions


class Compactor:
    def __init__(self, lake: Lake, partitions: int, min_age_s: float = 600.0) -> None:
        self.lake = lake
        self.partitions = partitions
        self.min_age_s = min_age_s

    def days_due(self, table: str, owned: set[int], today: str | None = None) -> list[str]:
        """The finished days of a table this worker compacts, oldest first."""
        today = today or datetime.now(UTC).strftime("%Y-%m-%d")
        days = []
        for folder in self.lake.glob(f"enriched/{table}/day=*"):
            day = folder.rsplit("day=", 1)[-1]
            if day < today and owner_partition(day, self.partitions) in owned:
                days.append(day)
        return sorted(days)

    def compact(self, table: str, day: str) -> int:
        """Merge the day's files (finishing a merge a crash interrupted first); how many merged."""
        folder = f"enriched/{table}/day={day}"
        files = self.lake.glob(f"{folder}/*.parquet")
        files = self._finish_interrupted(folder, files)
        old_enough = [path for path in files if self._age_s(path) >= self.min_age_s]
        if len(old_enough) < 2:
            return 0
        sources = sorted(path.rsplit("/", 1)[-1] for path in old_enough)
        digest = hashlib.sha1("\n".join(sources).encode()).hexdigest()[:16]
        target = f"{folder}/{COMPACTED}{digest}.parquet"
        handle, local = tempfile.mkstemp(suffix=".parquet", prefix="probewatch-compact-")
        os.close(handle)
        try:
            self._merge(table, [self.lake.uri(path) for path in old_enough], sources, local)
            self.lake.put_file(target, local)
        finally:
            if os.path.exists(local):
                os.unlink(local)
        self.lake.delete(old_enough)
        counters.incr(f"lake.{table}.compacted_files", len(old_enough))
        logger.info("lake: compacted %d files of %s %s", len(old_enough), table, day)
        return len(old_enough)

    def compact_raw(self, zone: str, partition: int, today: str | None = None) -> int:
        """Merge each finished day's raw pieces of a partition into one piece (finishing a
        merge a crash interrupted first); how many pieces merged."""
        today = today or datetime.now(UTC).strftime("%Y-%m-%d")
        paths = {}
        for path in self.lake.glob(raw_glob(zone, partition)):
            piece, day = Piece.parse(path), raw_day(path)
            if piece is not None and day is not None:
                paths[piece] = (path, day)
        stale = superseded(list(paths))
        if stale:
            logger.info("lake: deleting %d raw pieces a merged piece holds", len(stale))
            self.lake.delete([paths.pop(piece)[0] for piece in stale])
        merged = 0
        for merge in merges([(piece, day) for piece, (_, day) in paths.items()], today):
            handle, local = tempfile.mkstemp(suffix=".jsonl.gz", prefix="probewatch-compact-")
            os.close(handle)
            try:
                self._concatenate([paths[source][0] for source in merge.sources], local)
                self.lake.put_file(raw_path(merge.into, merge.day), local)
            finally:
                if os.path.exists(local):
                    os.unlink(local)
            self.lake.delete([paths[source][0] for source in merge.sources])
            merged += len(merge.sources)
            counters.incr(f"lake.{zone}.compacted_pieces", len(merge.sources))
            logger.info(
                "lake: merged %d raw pieces of %s %d on %s",
                len(merge.sources),
                zone,
                partition,
                merge.day,
            )
        return merged

    def _concatenate(self, pieces: list[str], local: str) -> None:
        """The pieces' lines, in order, into one gzip file (one gzip member: any reader)."""
        with gzip.open(local, "wb", compresslevel=5) as out:
            for path in pieces:
                with self.lake.fs.open(self.lake.full(path), "rb") as raw, gzip.open(raw) as lines:
                    shutil.copyfileobj(lines, out)

    def _finish_interrupted(self, folder: str, files: list[str]) -> list[str]:
        """Delete the sources a compacted file already holds; the files that remain."""
        names = {path.rsplit("/", 1)[-1]: path for path in files}
        held: set[str] = set()
        with self._connection() as con:
            for name, path in names.items():
                if name.startswith(COMPACTED):
                    held.update(self._sources_of(con, self.lake.uri(path)))
        stale = [names[name] for name in held if name in names]
        if stale:
            logger.info("lake: deleting %d files a compacted file of %s holds", len(stale), folder)
            self.lake.delete(stale)
        return [path for name, path in names.items() if name not in held]

    def _merge(self, table: str, uris: list[str], sources: list[str], local: str) -> None:
        columns = ", ".join(f'"{name}"' for name in [*COLUMNS[table], "time"])
        listed = orjson.dumps(sources).decode().replace("'", "''")
        with self._connection() as con:
            con.execute(
                f"COPY (SELECT {columns} FROM read_parquet(?, union_by_name = true) "
                f"ORDER BY time) TO '{local}' (FORMAT parquet, COMPRESSION zstd, "
                f"KV_METADATA {{'{SOURCES_KEY}': '{listed}'}})",
                [uris],
            )

    @staticmethod
    def _sources_of(con: duckdb.DuckDBPyConnection, uri: str) -> list[str]:
        rows = con.execute(
            "SELECT value FROM parquet_kv_metadata(?) WHERE key = ?", [uri, SOURCES_KEY.encode()]
        ).fetchall()
        return list(orjson.loads(rows[0][0])) if rows else []

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        if not self.lake.local:
            con.register_filesystem(self.lake.fs)
        return con

    def _age_s(self, path: str) -> float:
        info = self.lake.fs.info(self.lake.full(path))
        modified = info.get("mtime") or info.get("LastModified") or info.get("created")
        if isinstance(modified, datetime):
            modified = modified.timestamp()
        if modified is None:
            return float("inf")
        return datetime.now(UTC).timestamp() - float(modified)
