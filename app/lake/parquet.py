"""Rows into Parquet files and the lake's tables' columns, with DuckDB (no other engine).

Rows go through a temporary JSON-lines file, which DuckDB reads with the columns typed as
declared here (so a file of all-null signals still has an integer column; keys not declared are
ignored, missing ones are null) and writes as zstd-compressed Parquet. The lines are encoded
thousands at a time in C (msgspec), and DuckDB works outside the GIL, so the worker's event
loop keeps running.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from itertools import islice
from typing import Any

import duckdb
import msgspec

#: Each enriched table's columns as its Parquet files hold them (the day is the folder's).
COLUMNS: dict[str, dict[str, str]] = {
    "probes": {
        "ts": "DOUBLE",
        "mac": "VARCHAR",
        "ssid": "VARCHAR",
        "ssid_hex": "VARCHAR",
        "rssi_dbm": "SMALLINT",
        "freq_mhz": "INTEGER",
        "seq": "INTEGER",
        "randomized": "BOOLEAN",
        "sensor": "VARCHAR",
        "ie_fingerprint": "VARCHAR",
        "vendor": "VARCHAR",
        "name": "VARCHAR",
        "origin": "VARCHAR",
        "idx": "INTEGER",
    },
    "messages": {
        "bot_id": "BIGINT",
        "update_id": "BIGINT",
        "kind": "VARCHAR",
        "message_id": "BIGINT",
        "user_id": "BIGINT",
        "user_is_bot": "BOOLEAN",
        "user_first_name": "VARCHAR",
        "user_username": "VARCHAR",
        "chat_id": "BIGINT",
        "chat_type": "VARCHAR",
        "chat_title": "VARCHAR",
        "content": "VARCHAR",
        "text": "VARCHAR",
        "text_length": "INTEGER",
        "is_command": "BOOLEAN",
        "date": "DOUBLE",
        "edit_date": "BIGINT",
    },
    "group_joins": {
        "decided_ts": "DOUBLE",
        "mac": "VARCHAR",
        "group_id": "VARCHAR",
        "in_doubt": "BOOLEAN",
        "link_kind": "VARCHAR",
        "link_strength": "VARCHAR",
        "randomized": "BOOLEAN",
        "fingerprint": "VARCHAR",
        "origin": "VARCHAR",
        "idx": "INTEGER",
    },
}
_LINES = msgspec.json.Encoder()
#: Rows encoded per call: the file is written in steps, not built whole in memory.
_LINES_AT_ONCE = 10_000
#: The time column each table's rows carry as epoch seconds, and the timestamp made from it.
TIMES = {
    "probes": ("ts", "time"),
    "messages": ("date", "time"),
    "group_joins": ("decided_ts", "time"),
}


def select_list(table: str) -> str:
    """The columns of a table's files: every declared one, plus its UTC timestamp."""
    epoch, stamp = TIMES[table]
    names = ", ".join(f'"{name}"' for name in COLUMNS[table])
    return f"{names}, make_timestamp(CAST(round({epoch} * 1000000) AS BIGINT)) AS {stamp}"


def write_parquet(table: str, rows: Iterable[dict[str, Any]], target: str) -> int:
    """Write rows (dicts with the table's columns; others ignored) to a local Parquet file."""
    columns = COLUMNS[table]
    handle, scratch = tempfile.mkstemp(suffix=".jsonl", prefix="probewatch-lake-")
    count = 0
    try:
        with os.fdopen(handle, "wb") as out:
            remaining = iter(rows)
            while chunk := list(islice(remaining, _LINES_AT_ONCE)):
                out.write(_LINES.encode_lines(chunk))
                count += len(chunk)
        spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT {select_list(table)} FROM read_json(?, format='newline_delimited', "
                f"columns={spec})) TO '{_quoted(target)}' (FORMAT parquet, COMPRESSION zstd)",
                [scratch],
            )
    finally:
        os.unlink(scratch)
    return count


def empty_select(table: str) -> str:
    """A SELECT of no rows with a table's columns, for a view while the lake has no file."""
    stamp = TIMES[table][1]
    parts = [f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in COLUMNS[table].items()]
    parts += [f"CAST(NULL AS TIMESTAMP) AS {stamp}", "CAST(NULL AS DATE) AS day"]
    return f"SELECT {', '.join(parts)} WHERE false"


def _quoted(path: str) -> str:
    return path.replace("'", "''")
