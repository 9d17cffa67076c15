"""`probewatch names-import FILE`: load device names from an inventory (CSV or JSON) into Kafka.

The `device-names` topic is the integration point for inventories (a router's client list, a CDC
feed, a spreadsheet): key = MAC, value = `{"name": …}`, null = forget. This command is the small
importer for files; anything else that can produce to Kafka can feed the topic the same way.

Accepted files:
- CSV with a header row naming the columns `mac` and `name` (others are ignored); an empty name
  forgets the device's name.
- JSON: a list of `{"mac": …, "name": …}` objects, or one object mapping MAC → name (null forgets).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import KafkaException, Producer

from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import InvalidName, clean_name, encode_name_value
from app.settings import Settings


@dataclass(frozen=True)
class NameRow:
    mac: str
    name: str | None  # None: forget


class InventoryError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


def read_inventory(path: Path) -> tuple[list[NameRow], list[str]]:
    """Valid rows, and one message per rejected row naming its line or position."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InventoryError(f"cannot read {path}: {err}") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        return _validate(_json_rows(text))
    return _validate(_csv_rows(text))


def _json_rows(text: str) -> Iterator[tuple[str, Any, Any]]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise InventoryError(f"not valid JSON: {err}") from None
    if isinstance(data, dict):
        for mac, name in data.items():
            yield f"key {mac!r}", mac, name
    elif isinstance(data, list):
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                yield f"item {index}", None, None
            else:
                yield f"item {index}", item.get("mac"), item.get("name")
    else:
        raise InventoryError("JSON must be a list of {mac, name} objects or a {mac: name} object")


def _csv_rows(text: str) -> Iterator[tuple[str, Any, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower(): f for f in reader.fieldnames or []}
    if "mac" not in fields or "name" not in fields:
        raise InventoryError("CSV needs a header row with the columns 'mac' and 'name'")
    for row in reader:
        name = (row.get(fields["name"]) or "").strip()
        yield f"line {reader.line_num}", row.get(fields["mac"]), name or None


def _validate(rows: Iterable[tuple[str, Any, Any]]) -> tuple[list[NameRow], list[str]]:
    good: list[NameRow] = []
    errors: list[str] = []
    for where, mac, name in rows:
        try:
            good.append(NameRow(normalize_mac(mac), None if name is None else clean_name(name)))
        except (InvalidMac, InvalidName) as bad:
            errors.append(f"{where}: {bad}")
    return good, errors


def produce_names(settings: Settings, rows: list[NameRow], timeout: float = 60.0) -> int:
    """Produce every row keyed by MAC (murmur2, as the worker's router expects); failures count."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
        }
    )
    failed: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    topic = settings.topic("device-names")
    for row in rows:
        value = None if row.name is None else encode_name_value(row.name, "import")
        producer.produce(topic, key=row.mac.encode(), value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(timeout)
    return len(failed) + remaining


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(
        prog="probewatch names-import",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="CSV or JSON inventory")
    parser.add_argument("--dry-run", action="store_true", help="check the file, produce nothing")
    args = parser.parse_args(argv)
    try:
        rows, errors = read_inventory(args.file)
    except InventoryError as err:
        print(f"probewatch names-import: error: {err}", file=sys.stderr)
        return 2
    for error in errors:
        print(f"skipped {error}", file=sys.stderr)
    if args.dry_run:
        print(f"{len(rows)} names valid, {len(errors)} rows skipped (dry run: nothing produced)")
        return 1 if errors else 0
    try:
        failed = produce_names(settings, rows)
    except KafkaException as err:
        print(f"probewatch names-import: error: Kafka: {err}", file=sys.stderr)
        return 1
    forgotten = sum(1 for row in rows if row.name is None)
    print(
        f"{len(rows) - failed} of {len(rows)} names sent to {settings.topic('device-names')!r} "
        f"({forgotten} to forget), {len(errors)} rows skipped"
    )
    return 1 if failed or errors else 0
