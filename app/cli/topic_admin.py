"""Create the input topics (`app.topics`) before a worker subscribes, with their partition count.

A worker that subscribes to a topic that does not exist yet is not assigned its partitions until
the next metadata refresh, minutes later; and a topic auto-created by a producer gets the broker's
default partition count, which would break co-partitioning with the changelogs.

With PROBEWATCH_RETENTION_DAYS, the topics that keep raw records (every input topic that is not
compacted) keep them no longer than that: `retention.ms` is set when they are created, and set
again on existing ones at every start.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from app.settings import Settings
from app.topics import INPUT_TOPICS, TopicSpec, internal_topics

logger = logging.getLogger(__name__)


class TopicSetupError(RuntimeError):
    """The cluster refused or did not answer; the message says which topic and why."""


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing input topics and table changelogs; return the names created.

    Existing ones are checked.
    """
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as err:
        raise TopicSetupError(
            f"Kafka at {settings.kafka_bootstrap_servers} did not answer: {err}"
        ) from None
    wanted = {
        settings.topic(name): with_retention(spec, settings) for name, spec in INPUT_TOPICS.items()
    }
    wanted.update(internal_topics())
    for name in wanted.keys() & existing.keys():
        partitions = len(existing[name].partitions)
        if not wanted[name].single_partition and partitions != settings.partitions:
            logger.warning(
                "topic %s has %d partitions, PROBEWATCH_PARTITIONS says %d: keep them equal",
                name,
                partitions,
                settings.partitions,
            )
    _set_retention(admin, settings, [name for name in wanted if name in existing], wanted, timeout)
    missing = [
        NewTopic(
            name,
            1 if spec.single_partition else settings.partitions,
            settings.replication_factor,
            config=spec.config,
        )
        for name, spec in wanted.items()
        if name not in existing
    ]
    if not missing:
        return []
    for name, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as err:
            if err.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise TopicSetupError(f"could not create topic {name}: {err}") from None
    _wait_until_served(admin, list(wanted), timeout)
    return [topic.topic for topic in missing]


def with_retention(spec: TopicSpec, settings: Settings) -> TopicSpec:
    """The spec, its `retention.ms` capped by PROBEWATCH_RETENTION_DAYS (compacted topics keep
    their latest values: their tombstones are how they forget)."""
    if settings.retention_days is None or spec.config.get("cleanup.policy") == "compact":
        return spec
    cap = int(settings.retention_days * 86_400_000)
    current = int(spec.config.get("retention.ms", cap))
    return TopicSpec({**spec.config, "retention.ms": str(min(cap, current))}, spec.single_partition)


def _set_retention(
    admin: AdminClient,
    settings: Settings,
    names: list[str],
    wanted: dict[str, TopicSpec],
    timeout: float,
) -> None:
    """Set `retention.ms` on existing topics as their specs say (only with a retention)."""
    if settings.retention_days is None:
        return
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(
                    "retention.ms",
                    wanted[name].config["retention.ms"],
                    incremental_operation=AlterConfigOpType.SET,
                )
            ],
        )
        for name in names
        if "retention.ms" in wanted[name].config
    ]
    if not resources:
        return
    for resource, future in admin.incremental_alter_configs(
        resources, request_timeout=timeout
    ).items():
        try:
            future.result()
        except KafkaException as err:
            raise TopicSetupError(
                f"could not set the retention of {resource.name}: {err}"
            ) from None


def _wait_until_served(admin: AdminClient, names: list[str], timeout: float) -> None:
    """Until the broker's metadata lists every topic with a leader for each partition.

    A created topic reaches the broker's metadata a moment after the controller says yes; a
    consumer group leader that looks in between assigns without it (faust logs "Ignoring missing
    topic"), and the topic's partitions stay unassigned until the next rebalance.
    """
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        pending = [
            name
            for name in names
            if name not in topics
            or topics[name].error is not None
            or any(p.leader < 0 for p in topics[name].partitions.values())
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TopicSetupError(f"topics not served by the broker in {timeout} s: {pending}")
        time.sleep(0.2)
