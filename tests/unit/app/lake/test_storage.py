"""Where the lake's paths go and when it counts as usable (`app.lake.storage`), with no store:
an s3:// lake is made without a request (s3fs connects on first use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.lake.storage import Lake, LakeUnavailable


def test_an_s3_lake_names_its_objects_by_bucket_and_prefix() -> None:
    lake = Lake("s3://bucket/some/prefix/")
    assert not lake.local and lake.bucket == "bucket"
    assert lake.full("raw/probes/x.jsonl.gz") == "bucket/some/prefix/raw/probes/x.jsonl.gz"
    assert (
        lake.uri("enriched/probes/day=*/*.parquet")
        == "s3://bucket/some/prefix/enriched/probes/day=*/*.parquet"
    )
    assert Lake("s3://bucket").full("raw/x") == "bucket/raw/x"


def test_an_object_store_is_listed_afresh_every_time() -> None:
    """Other workers write the same prefix: a cached listing would hide their pieces."""
    lake = Lake("s3://bucket/lake")
    lake.fs.dircache["bucket/lake/raw"] = [{"name": "bucket/lake/raw/stale", "type": "file"}]
    assert "bucket/lake/raw" not in lake.fs.dircache


def test_a_folder_lake_has_no_bucket_and_is_always_usable(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "not-yet"))
    assert lake.local and lake.bucket is None
    lake.check()
    assert lake.uri("raw/x") == f"{tmp_path}/not-yet/raw/x"


def test_a_lake_is_unavailable_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake("s3://missing/lake")
    reasons: list[Exception] = [
        FileNotFoundError("Not Found"),
        PermissionError("Forbidden"),
        RuntimeError('Could not connect to the endpoint URL: "http://127.0.0.1:1/missing"'),
    ]

    def info(path: str) -> None:
        assert path == "missing"
        raise reasons.pop(0)

    monkeypatch.setattr(lake.fs, "info", info)
    with pytest.raises(LakeUnavailable, match=r"bucket 'missing' does not exist \(create it"):
        lake.check()
    with pytest.raises(LakeUnavailable, match="access to bucket 'missing' denied"):
        lake.check()
    with pytest.raises(LakeUnavailable, match="cannot be reached: Could not connect"):
        lake.check()
