"""`probewatch erase MAC [MAC…]`: erase devices everywhere probewatch keeps them;
`probewatch erase --telegram-user ID`: erase what a Telegram user wrote, from the lake.

Each erasure is a record on `probes`, keyed by the MAC (`app.logic.erasure`): the worker owning
the device's partition applies it in order with the device's probes — statistics, history,
name and SSID index at its next flush, the lake's files after the archiver's. Kafka's own copy
of earlier probes in `probes` goes with the topic's retention.

A user's erasure goes to every partition of `telegram-updates`: each partition's archiver takes
the user's messages out of the lake; the topic keeps them until its retention.

Exit status: 0 sent (and acknowledged by Kafka), 1 Kafka failed, 2 a MAC or user id that is not
one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from confluent_kafka import KafkaException, Producer

from app.logic.erasure import InvalidErasure, erasure_record, user_erasure_record
from app.logic.mac import InvalidMac, normalize_mac
from app.settings import Settings

TIMEOUT_S = 60.0


def send_erasures(settings: Settings, macs: list[str], by: str = "cli") -> int:
    """Produce one erasure per MAC, partitioned as the sniffer partitions probes; failures."""
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

    for mac in macs:
        key, value = erasure_record(mac, by)
        producer.produce(settings.topic("probes"), key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    return len(failed) + producer.flush(TIMEOUT_S)


def send_user_erasures(settings: Settings, users: list[int], by: str = "cli") -> int:
    """One user erasure per user to every partition of `telegram-updates`; failures."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
        }
    )
    failed: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    topic = settings.topic("telegram-updates")
    for user in users:
        value = user_erasure_record(user, by)
        for partition in range(settings.partitions):
            producer.produce(topic, value=value, partition=partition, on_delivery=on_delivery)
            producer.poll(0)
    return len(failed) + producer.flush(TIMEOUT_S)


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(
        prog="probewatch erase",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("macs", nargs="*", metavar="MAC", help="any common spelling")
    parser.add_argument(
        "--telegram-user",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="a Telegram user id whose messages to erase from the lake (repeatable)",
    )
    args = parser.parse_args(argv)
    if not args.macs and not args.telegram_user:
        parser.error("name at least one MAC or --telegram-user")
    try:
        macs = [normalize_mac(mac) for mac in args.macs]
        users = [user for user in args.telegram_user if user_erasure_record(user, "cli")]
    except (InvalidMac, InvalidErasure) as bad:
        print(f"probewatch erase: error: {bad}", file=sys.stderr)
        return 2
    try:
        failed = send_erasures(settings, macs) + send_user_erasures(settings, users)
    except KafkaException as err:
        print(f"probewatch erase: error: Kafka: {err}", file=sys.stderr)
        return 1
    if failed:
        print(f"probewatch erase: error: Kafka did not take {failed} erasures", file=sys.stderr)
        return 1
    for mac in macs:
        print(f"{mac}: erasure sent; the worker owning it applies it at its next flush")
    for user in users:
        print(f"Telegram user {user}: erasure sent; the lake drops their messages within a flush")
    return 0
