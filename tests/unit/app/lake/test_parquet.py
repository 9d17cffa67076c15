"""Rows into Parquet (`app.lake.parquet`): every row, typed as declared, in steps."""

from __future__ import annotations

from pathlib import Path

import duckdb

from app.lake import parquet
from app.lake.parquet import write_parquet


def test_every_row_is_written_typed_with_undeclared_keys_ignored_and_missing_ones_null(
    tmp_path: Path,
) -> None:
    rows = [
        {"ts": 1_704_067_200.5 + index, "mac": f"02:00:00:00:{index // 256:02x}:{index % 256:02x}"}
        | ({"rssi_dbm": -40 - index % 50, "day": "2024-01-01"} if index % 2 else {})
        for index in range(parquet._LINES_AT_ONCE * 2 + 7)
    ]
    target = tmp_path / "probes.parquet"

    assert write_parquet("probes", rows, str(target)) == len(rows)

    found = duckdb.sql(
        f"SELECT mac, rssi_dbm, ssid, epoch_ms(time) FROM read_parquet('{target}') ORDER BY ts"
    ).fetchall()
    assert found == [
        (row["mac"], row.get("rssi_dbm"), None, round(row["ts"] * 1000)) for row in rows
    ]
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{target}')").fetchall()
    kinds = {name: kind for name, kind, *_ in described}
    assert kinds["rssi_dbm"] == "SMALLINT" and kinds["time"] == "TIMESTAMP"
    assert "day" not in kinds
