"""The lake across a `kill -9`: every committed record is there exactly once.

The archiver kills itself (SIGKILL, `PROBEWATCH_TEST_CRASH_AT=lake-enriched-written`) after
writing its first piece's enriched files and before the raw piece that proves them; its offsets
are never committed. The worker started again resumes after the pieces there are, deletes the
unfinished piece's files and writes it again: the raw zone holds each record once, and the
enriched zone each probe and each device's join once (its files, not only the deduplicating
view)."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson

from tests.harness import Deployment, Worker, new_prefix, wait_for
from tests.kafka_io import end_offsets, probe, produce, produce_probes
from tests.lake_io import lake_sql, raw_records

TS = 1_795_300_000.0
DEVICES = [f"f0:18:98:00:88:{i:02x}" for i in range(60)]
PER_DEVICE = 5


def _files_count(deployment: Deployment) -> int:
    [[count]] = lake_sql(deployment, "select count(*) from probes_files")
    return int(count)


def test_a_kill_between_a_pieces_files_and_the_piece_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    prefix = new_prefix("lakecrash")
    calm_env = {"PROBEWATCH_LAKE_FLUSH_S": "1"}
    crashing = Deployment(
        tmp_path,
        prefix=prefix,
        partitions=2,
        extra_env={**calm_env, "PROBEWATCH_TEST_CRASH_AT": "lake-enriched-written"},
    )
    calm = Deployment(tmp_path, prefix=prefix, partitions=2, extra_env=calm_env)
    sent = [probe(mac, TS + 10 * i + n) for n in range(PER_DEVICE) for i, mac in enumerate(DEVICES)]
    first = Worker(crashing).start()
    try:
        first.wait_ready()
        produce_probes(prefix, sent)
        status = first.wait_exit(90)
    finally:
        first.stop()
    assert status == -signal.SIGKILL, "the archiver was to kill its worker"
    lake = tmp_path / "lake"
    # The first piece may be of any zone: `probes`, or `groups` (the devices' joins).
    enriched = {p.name.split(".")[0] for p in (lake / "enriched").glob("*/day=*/*")}
    raw = {p.name.split(".")[0] for p in (lake / "raw").glob("*/context_date=*/*")}
    assert enriched - raw, "the crash left a piece's enriched files without their raw piece"

    with Worker(calm, port=first.port):
        wait_for(lambda: _files_count(calm) == len(sent), 90, "every probe in the lake once")
        wait_for(lambda: _joins(calm) == len(DEVICES), 90, "every device's join in the lake")
        for topic, zone in (("probes", "probes"), ("group-members", "groups")):
            wait_for(
                lambda t=topic, z=zone: _raw_offsets(lake, z) == _written(f"{prefix}{t}"),
                30,
                f"every record of {topic} in the raw zone once",
            )
    assert _files_count(calm) == len(sent), "no probe doubled in the files"
    assert _joins(calm) == len(DEVICES), "no join doubled in the files"


def _joins(deployment: Deployment) -> int:
    [[count]] = lake_sql(deployment, "select count(*) from group_joins_files")
    return int(count)


def _written(topic: str) -> dict[int, int]:
    """Per partition that has any, how many records the topic holds."""
    return {partition: end for partition, end in end_offsets(topic, 2).items() if end}


def _raw_offsets(lake: Path, zone: str) -> dict[int, int]:
    """Per partition, how many records the zone's raw pieces hold, if they are its offsets
    from 0 without a gap or a repeat (else -1)."""
    paths = sorted((lake / "raw" / zone).glob("context_date=*/*.jsonl.gz"))
    records = raw_records((path.name, path.read_bytes()) for path in paths)
    held = {}
    for partition, kept in records.items():
        offsets = sorted(r["offset"] for r in kept)
        held[partition] = len(offsets) if offsets == list(range(len(offsets))) else -1
    return held


def test_a_malformed_record_is_kept_raw_counted_and_skipped(tmp_path: Path) -> None:
    """Not JSON, and JSON that is no probe: both in the raw zone as they came, counted, left out
    of the enriched zone; the good probes around them are all there."""
    deployment = Deployment(tmp_path, extra_env={"PROBEWATCH_LAKE_FLUSH_S": "1"})
    good = [probe(DEVICES[0], TS + n) for n in range(3)]
    with Worker(deployment) as worker:
        produce_probes(deployment.prefix, good[:2])
        produce(
            f"{deployment.prefix}probes",
            [(DEVICES[0].encode(), b"not json\n at all"), (DEVICES[0].encode(), b'{"mac": 7}')],
        )
        produce_probes(deployment.prefix, good[2:])
        wait_for(lambda: _files_count(deployment) == len(good), 60, "the good probes in the lake")
        wait_for(
            lambda: worker.counters().get("lake.probes.rejected") == 2, 30, "both rejects counted"
        )
    paths = sorted((tmp_path / "lake" / "raw" / "probes").glob("*/*.jsonl.gz"))
    lines = [
        r for held in raw_records((p.name, p.read_bytes()) for p in paths).values() for r in held
    ]
    assert len(lines) == 5
    kept = {line.get("value_text") or orjson.dumps(line.get("value")).decode() for line in lines}
    assert "not json\n at all" in kept and '{"mac":7}' in kept
