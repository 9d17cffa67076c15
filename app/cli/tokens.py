"""`probewatch tokens create|list|revoke`: the HTTP API's tokens, kept in Kafka.

Tokens live in the compacted, one-partition `api-tokens` topic (key = token id, value = role,
SHA-256 and label; null = revoked), which every worker reads whole: a token created or revoked
here counts on every worker within a second, with no worker restarted. The token itself is
printed once, by `create`, and kept nowhere.

Exit status: 0 done, 1 Kafka failed, 2 a bad argument (an unknown role or token id).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from app.logic.tokens import ROLES, Entry, StoredToken, check_id, decode_entry, new_token
from app.settings import Settings

TOPIC = "api-tokens"
TIMEOUT_S = 30.0


class TokenStoreError(Exception):
    """Kafka could not be read or written."""


def ensure_topic(settings: Settings) -> None:
    """Create `api-tokens` if it is missing (compacted, one partition, as a worker makes it)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    topic = settings.topic(TOPIC)
    try:
        if topic in admin.list_topics(timeout=TIMEOUT_S).topics:
            return
        spec = NewTopic(topic, 1, settings.replication_factor, config={"cleanup.policy": "compact"})
        for future in admin.create_topics([spec]).values():
            try:
                future.result(TIMEOUT_S)
            except KafkaException as err:
                if "TOPIC_ALREADY_EXISTS" not in str(err):
                    raise
    except KafkaException as err:
        raise TokenStoreError(f"Kafka at {settings.kafka_bootstrap_servers}: {err}") from None


def read_tokens(settings: Settings) -> dict[str, Entry]:
    """The topic's latest entry per key, read to its end."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": "probewatch-tokens-cli",
            "enable.auto.commit": False,
        }
    )
    topic = settings.topic(TOPIC)
    entries: dict[str, Entry] = {}
    try:
        _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S)
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        position = 0
        while position < end:
            message = consumer.poll(TIMEOUT_S)
            if message is None:
                raise TokenStoreError(f"{topic} could not be read to its end")
            if message.error():
                raise TokenStoreError(f"{topic}: {message.error()}")
            position = (message.offset() or 0) + 1
            try:
                key = check_id((message.key() or b"").decode())
                entry = decode_entry(message.value())
            except ValueError:
                continue  # the workers count and skip it too
            if entry is None:
                entries.pop(key, None)
            else:
                entries[key] = entry
    except KafkaException as err:
        raise TokenStoreError(f"Kafka at {settings.kafka_bootstrap_servers}: {err}") from None
    finally:
        consumer.close()
    return entries


def write_entry(settings: Settings, key: str, value: bytes | None) -> None:
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

    producer.produce(settings.topic(TOPIC), key=key.encode(), value=value, on_delivery=on_delivery)
    if producer.flush(TIMEOUT_S) or failed:
        raise TokenStoreError(f"Kafka did not take the record: {', '.join(failed) or 'timeout'}")


def _created(entry: StoredToken) -> str:
    return datetime.fromtimestamp(entry.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(
        prog="probewatch tokens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a token and print it (once)")
    create.add_argument("--role", required=True, choices=sorted(ROLES))
    create.add_argument("--label", default="", help="who or what it is for")
    commands.add_parser("list", help="the tokens (ids, roles, labels; never the tokens)")
    revoke = commands.add_parser("revoke", help="revoke a token on every worker")
    revoke.add_argument("id", help="the token's id (the 8 hex digits after pw_)")
    args = parser.parse_args(argv)
    try:
        ensure_topic(settings)
        if args.command == "create":
            token_id, token, stored = new_token(args.role, args.label)
            write_entry(settings, token_id, stored.encode())
            print(token)
            print(
                f"token {token_id} ({args.role}) created: keep it, it is shown once",
                file=sys.stderr,
            )
            return 0
        entries = read_tokens(settings)
        stored_tokens = {k: v for k, v in entries.items() if isinstance(v, StoredToken)}
        if args.command == "list":
            print(f"{'id':<8}  {'role':<5}  {'created':<20}  label")
            for key, entry in sorted(stored_tokens.items(), key=lambda kv: kv[1].created):
                print(f"{key:<8}  {entry.role:<5}  {_created(entry):<20}  {entry.label}")
            return 0
        token_id = args.id.removeprefix("pw_")[:8]
        if token_id not in stored_tokens:
            print(f"probewatch tokens: error: no token {args.id!r}", file=sys.stderr)
            return 2
        write_entry(settings, token_id, None)
        print(f"token {token_id} revoked")
        return 0
    except TokenStoreError as err:
        print(f"probewatch tokens: error: {err}", file=sys.stderr)
        return 1
