"""The lake on the real Kafka: a real capture replayed through the sniffer into a worker; the
raw zone holds every record once, and SQL over the enriched zone (the CLI and the HTTP route)
answers what hand computations over tshark's dissection say."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.harness import Deployment, Worker, wait_for
from tests.kafka_io import end_offsets, produce
from tests.lake_io import lake_report, lake_sql, raw_records, served_probable_devices
from tests.pcaps import capture
from tests.tshark import TsharkProbe, ssid_text, tshark_probes

CAPTURE = "probe-request-project__position_2"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def archived(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Worker, list[TsharkProbe]]]:
    deployment = Deployment(
        data_dir=tmp_path_factory.mktemp("lake"),
        partitions=4,
        extra_env={
            "PROBEWATCH_LAKE_FLUSH_S": "1",
            # The capture's days are long finished: compact them as soon as they are written.
            "PROBEWATCH_LAKE_COMPACT_S": "2",
            "PROBEWATCH_LAKE_COMPACT_MIN_AGE_S": "0",
        },
    )
    pcap = capture(CAPTURE)
    truth = tshark_probes(pcap, damaged_ok=False)
    with Worker(deployment) as worker:
        result = deployment.sniffer("replay", "--no-progress", str(pcap))
        assert result.returncode == 0, result.stderr
        wait_for(
            lambda: lake_sql(deployment, "select count(*) from probes") == [[len(truth)]],
            120,
            "every probe in the lake",
        )
        yield deployment, worker, truth
    deployment.delete_topics()


def test_the_raw_zone_holds_every_record_of_the_topic_once(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, _, truth = archived
    lake = deployment.data_dir / "lake"
    paths = sorted((lake / "raw" / "probes").glob("context_date=*/*.jsonl.gz"))
    records = raw_records((path.name, path.read_bytes()) for path in paths)
    offsets = {p: [r["offset"] for r in held] for p, held in records.items()}
    values = [r["value"] for held in records.values() for r in held]
    probes = sum(len(value) if isinstance(value, list) else 1 for value in values)
    ends = end_offsets(f"{deployment.prefix}probes", deployment.partitions)
    for partition, end in ends.items():
        assert offsets.get(partition, []) == list(range(end)), f"partition {partition}"
    assert probes == len(truth)


def _probable(worker: Worker, deployment: Deployment, truth: list[TsharkProbe]) -> dict[str, str]:
    """Each MAC's probable device as `GET /devices/{mac}` serves it (groups begun in doubt left
    out, as the API counts them), once the lake holds every join."""
    return served_probable_devices(deployment, worker.url, sorted({p.mac for p in truth}))


def test_probes_per_hour_and_their_devices_are_tsharks(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, worker, truth = archived
    probable = _probable(worker, deployment, truth)
    hours: dict[datetime, list[str]] = defaultdict(list)
    for probe in truth:
        hours[_utc(probe.ts).replace(minute=0, second=0, microsecond=0)].append(probe.mac)
    want = [
        [
            hour.isoformat(),
            len(macs),
            len(set(macs)),
            len({probable[m] for m in macs if m in probable}),
        ]
        for hour, macs in sorted(hours.items())
    ]
    assert any(row[3] < row[2] for row in want), "grouping counts fewer devices than MACs"
    assert lake_report(deployment, "probes-per-hour") == want
    status, body = worker.get("/analytics/probes-per-hour")
    assert status == 200, body
    got = [[r["hour"], r["probes"], r["devices"], r["probable_devices"]] for r in body["rows"]]
    assert got == want


def test_new_and_returning_devices_and_top_ssids_per_day_are_tsharks(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, worker, truth = archived
    first_day: dict[str, str] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    per_ssid: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for probe in sorted(truth, key=lambda p: p.ts):
        day = _utc(probe.ts).date().isoformat()
        first_day.setdefault(probe.mac, day)
        seen[day].add(probe.mac)
        if probe.ssid:
            per_ssid[day][ssid_text(probe.ssid)].add(probe.mac)
    probable = _probable(worker, deployment, truth)
    first_group_day: dict[str, str] = {}
    for probe in sorted(truth, key=lambda p: p.ts):
        if probe.mac in probable:
            first_group_day.setdefault(probable[probe.mac], _utc(probe.ts).date().isoformat())
    want = []
    for day, macs in sorted(seen.items()):
        groups = {probable[m] for m in macs if m in probable}
        want.append(
            [
                day,
                sum(first_day[m] == day for m in macs),
                sum(first_day[m] < day for m in macs),
                sum(first_group_day[g] == day for g in groups),
                sum(first_group_day[g] < day for g in groups),
            ]
        )
    assert lake_report(deployment, "new-and-returning-devices-per-day") == want
    top = []
    for day, ssids in sorted(per_ssid.items()):
        ranked = sorted(ssids.items(), key=lambda item: (-len(item[1]), item[0]))[:3]
        top += [
            [day, ssid, len(macs), len({probable[m] for m in macs if m in probable})]
            for ssid, macs in ranked
        ]
    rows = lake_report(deployment, "top-ssids-per-day", "--top", "3")
    assert [row[:4] for row in rows] == top


def test_a_devices_visits_are_what_its_probes_say(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, worker, truth = archived
    busiest = Counter(p.mac for p in truth).most_common(1)[0][0]
    times = sorted(p.ts for p in truth if p.mac == busiest)
    visits: list[list[float]] = [[times[0]]]
    for ts in times[1:]:
        if ts - visits[-1][-1] > 20 * 60:
            visits.append([])
        visits[-1].append(ts)
    rows = lake_report(deployment, "presence", "--mac", busiest.upper(), "--gap-minutes", "20")
    assert [row[3] for row in rows] == [len(v) for v in visits]
    assert [row[1] for row in rows] == [_utc(v[0]).isoformat() for v in visits]
    url = f"{worker.url}/analytics/presence?mac={busiest}&gap_minutes=20&format=csv"
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        lines = response.read().decode().splitlines()
    assert lines[0] == "visit,first_probe,last_probe,probes,minutes"
    assert [int(line.split(",")[3]) for line in lines[1:]] == [len(v) for v in visits]


def test_bad_reports_and_queries_are_refused_clearly(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, worker, _ = archived
    status, body = worker.get("/analytics/presence")
    assert status == 400 and body["parameter"] == "mac"
    assert worker.get("/analytics/no-such-report")[0] == 400
    assert worker.get("/analytics/probes-per-hour?since=yesterday")[1]["parameter"] == "since"
    assert worker.get("/analytics/probes-per-hour?colour=red")[1]["parameter"] == "colour"
    failed = deployment.probewatch("sql", "select nothing from nowhere")
    assert failed.returncode == 1 and "query failed" in failed.stderr
    names = [r["name"] for r in worker.get("/analytics")[1]["reports"]]
    assert "probes-per-hour" in names and "messages-per-day" in names


def test_finished_days_are_compacted_into_one_file_each_and_nothing_changes(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, _, truth = archived
    days = deployment.data_dir / "lake" / "enriched" / "probes"

    def compacted() -> bool:
        folders = list(days.glob("day=*"))
        return bool(folders) and all(
            [p.name for p in folder.glob("*.parquet")][:1]
            == [p.name for p in folder.glob("compacted-*.parquet")]
            and len(list(folder.glob("*.parquet"))) == 1
            for folder in folders
        )

    wait_for(compacted, 60, "one compacted file per day")
    assert lake_sql(deployment, "select count(*), count(distinct mac) from probes_files") == [
        [len(truth), len({p.mac for p in truth})]
    ]


def test_a_finished_days_raw_pieces_become_one_piece_per_partition(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    """Updates received two days ago (by their Kafka timestamps), written in three flushes:
    merged into one piece per partition, every record kept once, in offset order."""
    deployment, _, _ = archived
    topic = f"{deployment.prefix}telegram-updates"
    day_ms = 86_400_000
    stamp = (int(time.time() * 1000) // day_ms - 2) * day_ms + 3_600_000
    day = datetime.fromtimestamp(stamp / 1000, UTC).strftime("%Y-%m-%d")
    folder = deployment.data_dir / "lake" / "raw" / "telegram" / f"context_date={day}"
    for burst in range(3):
        updates = [(b"-100", b'{"update_id": %d}' % (burst * 10 + i)) for i in range(10)]
        produce(topic, updates, stamp)
        time.sleep(1.5)  # PROBEWATCH_LAKE_FLUSH_S is 1: a piece per burst at least
    [(partition, end)] = [(p, e) for p, e in end_offsets(topic, deployment.partitions).items() if e]

    def merged() -> list[str] | None:
        names = sorted(path.name for path in folder.glob("*.jsonl.gz"))
        return names if len(names) == 1 else None

    [name] = wait_for(merged, 60, "one piece for the day")
    assert name == f"telegram+{partition:04d}+{0:020d}+{end - 1:020d}.jsonl.gz"
    [records] = raw_records([(name, (folder / name).read_bytes())]).values()
    assert [r["offset"] for r in records] == list(range(end))
    assert [r["value"]["update_id"] for r in records] == list(range(30))


def test_every_folder_and_file_the_worker_made_is_its_owners_only(
    archived: tuple[Deployment, Worker, list[TsharkProbe]],
) -> None:
    deployment, _, _ = archived
    made = [
        path
        for path in deployment.data_dir.rglob("*")
        if not path.is_symlink() and path.parent != deployment.data_dir  # the test's own log
    ]
    assert any(path.suffix == ".gz" for path in made) and any("worker-" in p.name for p in made)
    shared = [
        f"{oct(path.stat().st_mode & 0o777)} {path}" for path in made if path.stat().st_mode & 0o077
    ]
    assert shared == []
