"""The Quix Streams peer: the same per-device fold as probewatch, over the same probe records.

Runs in its own virtualenv (`.venv-peer`, made by bench/peer.py): Quix Streams 3.28 pins
confluent-kafka below the version the main venv has. Nothing here imports probewatch.

    .venv-peer/bin/python bench/peer_quix.py --input probes.jsonl --state-dir DIR

1. creates a fresh input topic and produces every line (one `probes` topic value) keyed by its MAC;
2. drains that backlog with a Quix Streams Application (RocksDB state, changelog on) that keeps, per
   MAC, the probe count, first/last seen time, the distinct non-empty SSIDs and the last RSSI;
3. checks every probe was counted once and every device is there;
4. prints one JSON line with the figures and deletes the topics and the consumer group it made.

Quix's defaults are kept (commit interval 5 s, at-least-once, changelog topics) except
`auto_offset_reset="earliest"`, a fresh consumer group and the given state folder.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
import uuid
from bisect import bisect_left, insort
from pathlib import Path
from typing import Any

import orjson
import quixstreams
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from quixstreams import Application, State

#: probewatch's default partition count (app/settings.py, sniffer/settings.py).
PARTITIONS = 8
#: probewatch's default cap on the SSIDs kept per device (app/settings.py).
MAX_SSIDS = 1000
STATE_KEY = "device"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, required=True, help="JSON lines, one probe a line")
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--state-dir", type=Path, required=True, help="Quix's RocksDB state")
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    parser.add_argument(
        "--idle-timeout", type=float, default=60.0, help="give up after this long without progress"
    )
    args = parser.parse_args()

    values, keys = _read(args.input)
    total = len(values)
    expected_devices = len(set(keys))
    if total == 0:
        raise SystemExit(f"{args.input}: no probe records")

    run_id = f"{int(time.time())}-{uuid.uuid4().hex[:8]}"
    topic_name = f"peer-quix-probes-{run_id}"
    group = f"peer-quix-{run_id}"
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    try:
        _create_topic(admin, topic_name, args.partitions)
        produce_s = _produce(args.bootstrap, topic_name, values, keys)
        result = _drain(args, topic_name, group, total, expected_devices)
        result["changelog_records"] = _changelog_records(args.bootstrap, group, run_id)
    finally:
        _cleanup(admin, run_id, group)

    drain_s = result["drain_s"]
    print(
        orjson.dumps(
            {
                "probes": total,
                "devices": result["devices"],
                "produce_s": round(produce_s, 3),
                "drain_s": round(drain_s, 3),
                "drain_probes_per_s": round(total / drain_s, 1),
                "end_to_end_probes_per_s": round(total / (produce_s + drain_s), 1),
                "quixstreams": quixstreams.__version__,
                # Where the drain time went: group join + assignment, then the records, then
                # the final checkpoint (state flush, changelog flush, offset commit) on stop.
                "assign_s": round(result["assign_s"], 3),
                "process_s": round(result["process_s"], 3),
                "final_commit_s": round(result["final_commit_s"], 3),
                # State is flushed once per key per checkpoint (every 5 s and on stop), so this
                # is about `devices` times the number of checkpoints, not one per probe.
                "changelog_records": result["changelog_records"],
            }
        ).decode(),
        flush=True,
    )
    return 0


def _read(path: Path) -> tuple[list[bytes], list[bytes]]:
    """The lines as they are (the exact topic values) and each one's MAC as the record key."""
    values: list[bytes] = []
    keys: list[bytes] = []
    with path.open("rb") as lines:
        for line in lines:
            value = line.rstrip(b"\r\n")
            if not value:
                continue
            values.append(value)
            keys.append(orjson.loads(value)["mac"].encode())
    return values, keys


def _create_topic(admin: AdminClient, name: str, partitions: int) -> None:
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=-1)],
        operation_timeout=30,
        request_timeout=30,
    )
    futures[name].result(timeout=60)


def _produce(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes]) -> float:
    """Produce every record (settings as probewatch's sniffer); seconds until all are acked."""
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": "probewatch-peer-quix",
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
        }
    )
    started = time.perf_counter()
    produce = producer.produce
    for index, (value, key) in enumerate(zip(values, keys, strict=True)):
        while True:
            try:
                produce(topic, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        if index % 1024 == 0:
            producer.poll(0)
    pending = producer.flush(120)
    elapsed = time.perf_counter() - started
    if pending or failures:
        first = failures[0] if failures else "timed out"
        raise SystemExit(f"produce: {pending} pending, {len(failures)} failed ({first})")
    return elapsed


def _drain(
    args: argparse.Namespace, topic_name: str, group: str, total: int, expected_devices: int
) -> dict[str, Any]:
    """Run the Quix app until every record went through the fold; its timings and check."""
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=str(args.state_dir),
    )
    topic = app.topic(topic_name, value_deserializer="json", key_deserializer="bytes")
    sdf = app.dataframe(topic)

    counts: dict[str, int] = {}  # MAC -> the count the state holds after its latest probe
    progress = {"processed": 0, "first_at": 0.0, "last_at": 0.0}

    def fold(probe: dict[str, Any], state: State) -> dict[str, Any]:
        ts = probe["ts"]
        device: dict[str, Any] | None = state.get(STATE_KEY)
        if device is None:
            device = {"count": 0, "first_seen": ts, "last_seen": ts, "ssids": [], "rssi": None}
        device["count"] += 1
        newest = ts >= device["last_seen"]
        if ts < device["first_seen"]:
            device["first_seen"] = ts
        if newest:
            device["last_seen"] = ts
        ssid = probe["ssid"]
        if ssid:
            ssids: list[str] = device["ssids"]
            at = bisect_left(ssids, ssid)
            if (at == len(ssids) or ssids[at] != ssid) and len(ssids) < MAX_SSIDS:
                insort(ssids, ssid)
        rssi = probe["rssi_dbm"]
        if rssi is not None and (newest or device["rssi"] is None):
            device["rssi"] = rssi
        state.set(STATE_KEY, device)

        counts[probe["mac"]] = device["count"]
        processed = progress["processed"] + 1
        progress["processed"] = processed
        if processed == 1:
            progress["first_at"] = time.perf_counter()
        if processed == total:
            progress["last_at"] = time.perf_counter()
            app.stop()
        return device

    sdf = sdf.apply(fold, stateful=True)

    stop_watch = threading.Event()

    def watchdog() -> None:
        """Stop the app when it makes no progress for --idle-timeout seconds (it never ends)."""
        seen, since = -1, time.monotonic()
        while not stop_watch.wait(1.0):
            if progress["processed"] != seen:
                seen, since = progress["processed"], time.monotonic()
            elif time.monotonic() - since > args.idle_timeout:
                print(f"peer_quix: no progress for {args.idle_timeout:g} s", file=sys.stderr)
                app.stop()
                return

    watcher = threading.Thread(target=watchdog, daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        app.run()
    finally:
        stopped = time.perf_counter()
        stop_watch.set()
        watcher.join()

    processed = progress["processed"]
    if processed != total or sum(counts.values()) != total or len(counts) != expected_devices:
        raise SystemExit(
            f"peer_quix: check failed: produced {total} probes of {expected_devices} devices; "
            f"processed {processed}, state counts sum to {sum(counts.values())} "
            f"over {len(counts)} devices"
        )
    return {
        "devices": len(counts),
        "drain_s": stopped - started,
        "assign_s": progress["first_at"] - started,
        "process_s": progress["last_at"] - progress["first_at"],
        "final_commit_s": stopped - progress["last_at"],
    }


def _changelog_records(bootstrap: str, group: str, run_id: str) -> int:
    """How many records Quix wrote to this run's changelog topic(s)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group}-inspect"})
    try:
        topics = consumer.list_topics(timeout=30).topics
        total = 0
        for name, meta in topics.items():
            if name.startswith("changelog__") and run_id in name:
                for partition in meta.partitions:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(name, partition), timeout=30
                    )
                    total += high - low
        return total
    finally:
        consumer.close()


def _cleanup(admin: AdminClient, run_id: str, group: str) -> None:
    """Delete this run's topics (input and Quix's changelog) and its consumer group."""
    with contextlib.suppress(KafkaException):
        names = [name for name in admin.list_topics(timeout=30).topics if run_id in name]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                with contextlib.suppress(KafkaException):
                    future.result(timeout=60)
        for future in admin.delete_consumer_groups([group], request_timeout=30).values():
            with contextlib.suppress(KafkaException):
                future.result(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
