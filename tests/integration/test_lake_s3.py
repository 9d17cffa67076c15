"""The lake in object storage: a worker archives a real capture into a bucket of a local
S3-compatible server (moto's, started here; nothing leaves the machine), pointed at by the
standard AWS_* variables only. The raw objects hold every record once; `probewatch sql`, the
worker's `GET /analytics/…` and a plain DuckDB reading the bucket as an outside user would all
answer what tshark's dissection says. Before the bucket exists, the archiver waits and says so;
it never creates it."""

from __future__ import annotations

import os
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import duckdb
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from tests.harness import Deployment, Worker, free_port, wait_for
from tests.kafka_io import end_offsets
from tests.lake_io import lake_sql, raw_records
from tests.pcaps import capture
from tests.tshark import TsharkProbe, tshark_probes

CAPTURE = "probe-request-project__position_2"
BUCKET = "probewatch-lake"
LAKE = f"s3://{BUCKET}/lake"


@dataclass
class Store:
    """The local S3 server: its endpoint and what a client needs to reach it."""

    endpoint: str
    env: dict[str, str]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def fs(self) -> s3fs.S3FileSystem:
        """A file system of its own, configured by arguments (not the environment), as an
        outside user's would be."""
        return s3fs.S3FileSystem(
            endpoint_url=self.endpoint,
            key="testing",
            secret="testing",
            client_kwargs={"region_name": "us-east-1"},
            skip_instance_cache=True,
            use_listings_cache=False,
        )


@dataclass
class BeforeTheBucket:
    """What a worker and the CLI said while the lake's bucket did not exist."""

    buckets: list[str]
    log: str
    analytics: tuple[int, Any]
    sql: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """moto's S3 server on a free local port, and the only AWS_* variables the processes see
    (a developer's own, AWS_ENDPOINT_URL_S3 or a profile, would point them elsewhere)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    nowhere = tmp_path_factory.mktemp("aws") / "none"
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(nowhere),
        "AWS_SHARED_CREDENTIALS_FILE": str(nowhere),
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in [name for name in os.environ if name.startswith("AWS_")]:
                patch.delenv(name)
            yield Store(endpoint, env)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def archived(
    tmp_path_factory: pytest.TempPathFactory, store: Store
) -> Iterator[tuple[Deployment, Worker, list[TsharkProbe], BeforeTheBucket]]:
    deployment = Deployment(
        data_dir=tmp_path_factory.mktemp("lake-s3"),
        partitions=4,
        extra_env={"PROBEWATCH_LAKE": LAKE, "PROBEWATCH_LAKE_FLUSH_S": "1", **store.env},
    )
    pcap = capture(CAPTURE)
    truth = tshark_probes(pcap, damaged_ok=False)
    with Worker(deployment) as worker:
        wait_for(
            lambda: worker.counters().get("lake.unavailable", 0) >= 1,
            60,
            "the archiver's check of the missing bucket",
        )
        before = BeforeTheBucket(
            buckets=[b["Name"] for b in store.client().list_buckets()["Buckets"]],
            log=worker.log_text(),
            analytics=worker.get("/analytics/probes-per-hour"),
            sql=deployment.probewatch("sql", "select 1"),
        )
        store.client().create_bucket(Bucket=BUCKET)
        result = deployment.sniffer("replay", "--no-progress", str(pcap))
        assert result.returncode == 0, result.stderr
        wait_for(
            lambda: lake_sql(deployment, "select count(*) from probes") == [[len(truth)]],
            120,
            "every probe in the lake",
        )
        yield deployment, worker, truth, before
    deployment.delete_topics()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def test_a_missing_bucket_is_said_and_not_created(
    archived: tuple[Deployment, Worker, list[TsharkProbe], BeforeTheBucket],
) -> None:
    *_, before = archived
    assert BUCKET not in before.buckets
    said = f"{LAKE}: bucket '{BUCKET}' does not exist (create it first"
    assert said in before.log
    status, body = before.analytics
    assert status == 503 and said in body["error"], body
    assert before.sql.returncode == 2
    assert f"probewatch: error: the lake cannot be read: {said}" in before.sql.stderr


def test_the_raw_objects_hold_every_record_of_the_topic_once(
    archived: tuple[Deployment, Worker, list[TsharkProbe], BeforeTheBucket], store: Store
) -> None:
    deployment, _, truth, _ = archived
    fs = store.fs()
    paths = sorted(fs.glob(f"{BUCKET}/lake/raw/probes/context_date=*/*.jsonl.gz"))
    records = raw_records((path, fs.cat_file(path)) for path in paths)
    offsets = {p: [r["offset"] for r in held] for p, held in records.items()}
    values = [r["value"] for held in records.values() for r in held]
    probes = sum(len(value) if isinstance(value, list) else 1 for value in values)
    ends = end_offsets(f"{deployment.prefix}probes", deployment.partitions)
    for partition, end in ends.items():
        assert offsets.get(partition, []) == list(range(end)), f"partition {partition}"
    assert probes == len(truth)


def test_sql_and_the_workers_report_are_tsharks(
    archived: tuple[Deployment, Worker, list[TsharkProbe], BeforeTheBucket],
) -> None:
    deployment, worker, truth, _ = archived
    assert lake_sql(deployment, "select count(*) from probes") == [[len(truth)]]
    hours: dict[datetime, list[str]] = defaultdict(list)
    for probe in truth:
        hours[_utc(probe.ts).replace(minute=0, second=0, microsecond=0)].append(probe.mac)
    want = [[hour.isoformat(), len(macs), len(set(macs))] for hour, macs in sorted(hours.items())]
    status, body = worker.get("/analytics/probes-per-hour")
    assert status == 200, body
    assert [[r["hour"], r["probes"], r["devices"]] for r in body["rows"]] == want


def test_a_plain_duckdb_reads_the_same_rows_from_the_bucket(
    archived: tuple[Deployment, Worker, list[TsharkProbe], BeforeTheBucket],
    store: Store,
) -> None:
    """As a DuckDB elsewhere would: the table's location, Hive partitions, nothing of ours."""
    deployment, _, truth, _ = archived
    columns = "mac, ssid_hex, ts, CAST(day AS VARCHAR) AS day"
    with duckdb.connect() as con:
        con.register_filesystem(store.fs())
        outside = con.sql(
            f"SELECT {columns} FROM read_parquet("
            f"'s3://{BUCKET}/lake/enriched/probes/*/*.parquet', hive_partitioning = true) "
            "ORDER BY ALL"
        ).fetchall()
    ours = lake_sql(deployment, f"SELECT {columns} FROM probes ORDER BY ALL")
    assert [list(row) for row in outside] == ours
    assert Counter((mac, round(ts, 6)) for mac, _, ts, _ in outside) == Counter(
        (p.mac, round(p.ts, 6)) for p in truth
    )
    assert all(day == _utc(ts).date().isoformat() for _, _, ts, day in outside)


def test_the_readmes_duckdb_example_counts_tsharks_probes_per_day(
    archived: tuple[Deployment, Worker, list[TsharkProbe], BeforeTheBucket], store: Store
) -> None:
    *_, truth, _ = archived
    days: dict[str, list[str]] = defaultdict(list)
    for probe in truth:
        days[_utc(probe.ts).date().isoformat()].append(probe.mac)
    with duckdb.connect() as con:
        con.register_filesystem(store.fs())
        rows = con.sql(
            "SELECT CAST(day AS VARCHAR), count(DISTINCT (origin, idx)) AS probes, "
            "count(DISTINCT mac) AS devices "
            f"FROM read_parquet('s3://{BUCKET}/lake/enriched/probes/*/*.parquet', "
            "hive_partitioning = true) GROUP BY day ORDER BY day"
        ).fetchall()
    assert [list(row) for row in rows] == [
        [day, len(macs), len(set(macs))] for day, macs in sorted(days.items())
    ]
