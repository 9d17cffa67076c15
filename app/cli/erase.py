"""`probewatch erase MAC [MAC…]`: erase devices everywhere probewatch keeps them.

Each erasure is a record on `probes`, keyed by the MAC (`app.logic.erasure`): the worker owning
the device's partition applies it in order with the device's probes — statistics, history,
name and SSID index at its next flush, the lake's files after the archiver's. Kafka's own copy
of earlier probes in `probes` goes with the topic's retention.

Exit status: 0 sent (and acknowledged by Kafka), 1 Kafka failed, 2 a MAC that is not one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from confluent_kafka import KafkaException, Producer

from app.logic.erasure import erasure_record
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


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(
        prog="probewatch erase",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("macs", nargs="+", metavar="MAC", help="any common spelling")
    args = parser.parse_args(argv)
    try:
        macs = [normalize_mac(mac) for mac in args.macs]
    except InvalidMac as bad:
        print(f"probewatch erase: error: {bad}", file=sys.stderr)
        return 2
    try:
        failed = send_erasures(settings, macs)
    except KafkaException as err:
        print(f"probewatch erase: error: Kafka: {err}", file=sys.stderr)
        return 1
    if failed:
        print(f"probewatch erase: error: Kafka did not take {failed} erasures", file=sys.stderr)
        return 1
    for mac in macs:
        print(f"{mac}: erasure sent; the worker owning it applies it at its next flush")
    return 0
