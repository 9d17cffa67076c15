"""Every Kafka topic the app reads or writes, in one place: its spec and its declaration.

`probewatch worker` creates them from these specs before it subscribes (`app.cli.topic_admin`);
faust creates the table changelogs itself. Keys and values stay raw bytes everywhere: a malformed
message is rejected by our own validation (and counted) instead of failing inside faust.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faust.types import TopicT

from app.main import app, settings
from app.worker.raw_schema import RawSchema

COMPACTED = {"cleanup.policy": "compact"}
THIRTY_DAYS_MS = str(30 * 24 * 3600 * 1000)


@dataclass(frozen=True)
class TopicSpec:
    """A topic of DESIGN.md; `single_partition` for small lists every worker reads whole."""

    config: dict[str, str] = field(default_factory=dict)
    single_partition: bool = False


#: The topics the app reads or writes that faust does not create itself (changelogs it does).
INPUT_TOPICS: dict[str, TopicSpec] = {
    "probes": TopicSpec(),
    "pcap": TopicSpec(),
    "telegram-updates": TopicSpec({"retention.ms": THIRTY_DAYS_MS}),
    "device-names": TopicSpec(COMPACTED),
    "ssid-watchlist": TopicSpec(COMPACTED, single_partition=True),
    "chat-subscriptions": TopicSpec(COMPACTED, single_partition=True),
    "api-tokens": TopicSpec(COMPACTED, single_partition=True),
    "alerts": TopicSpec(),
    "ssid-probes": TopicSpec(),
    "dead-letters": TopicSpec({"retention.ms": THIRTY_DAYS_MS}),
    "group-probes": TopicSpec(),
    "group-assignments": TopicSpec(),
    "group-members": TopicSpec(),
}


#: The tables whose changelogs (faust names them `<app id>-<table>-changelog`) are created with
#: the input topics: faust creates them itself at start, but a group leader that looks before the
#: broker serves a new topic assigns without it ("Ignoring missing topic"), and the table is left
#: without partitions until the next rebalance.
TABLE_CHANGELOGS = (
    "devices",
    "device-names",
    "ssids",
    "processed-offsets",
    "device-activity",
    "activity-counters",
    "group-shards",
    "groups",
    "group-counters",
)


def changelog_topic(table: str) -> str:
    return f"{settings.app_id}-{table}-changelog"


def leader_topic() -> str:
    """faust's leader election topic (one partition: its holder is the leader)."""
    return f"{settings.app_id}-__assignor-__leader"


def internal_topics() -> dict[str, TopicSpec]:
    """The topics faust uses beside the inputs, by name: every table's changelog and the leader
    topic (`probewatch worker` creates them with the inputs)."""
    specs = {changelog_topic(table): TopicSpec(COMPACTED) for table in TABLE_CHANGELOGS}
    specs[leader_topic()] = TopicSpec(single_partition=True)
    return specs


def _raw_topic(name: str) -> TopicT:
    partitions = 1 if INPUT_TOPICS[name].single_partition else settings.partitions
    return app.topic(settings.topic(name), schema=RawSchema(), partitions=partitions)


#: One ProbeEvent per probe request, keyed by source MAC.
probes_topic = _raw_topic("probes")

#: Frames as the original ksqlDB demo fed them (`tshark -T ek` through jq), unkeyed.
pcap_topic = _raw_topic("pcap")

#: The raw zone: Telegram Update JSON exactly as the webhook received it, keyed by chat id.
telegram_updates_topic = _raw_topic("telegram-updates")

#: Device names from inventories or users: key MAC, value `{"name": …}`, null = forget.
device_names_topic = _raw_topic("device-names")

#: The SSID watch list: key SSID, value `{"reason": …}`, null = unwatch. One partition.
ssid_watchlist_topic = _raw_topic("ssid-watchlist")

#: Chats that asked for alerts: key chat id, value `{"subscribed": true, …}`, null = stop.
chat_subscriptions_topic = _raw_topic("chat-subscriptions")

#: API tokens (`app.logic.tokens`): key token id, value its role and hash, null = revoked; key
#: `cluster`, the workers' shared key. One partition.
api_tokens_topic = _raw_topic("api-tokens")

#: Probes for watched SSIDs (see `app.logic.alerts`), keyed by MAC.
alerts_topic = _raw_topic("alerts")

#: Per batch and SSID, how many probes each device sent: the probe stream re-keyed by SSID.
ssid_probes_topic = _raw_topic("ssid-probes")

#: Records no agent could process, kept whole with where they came from and why
#: (`app.worker.dead_letters`).
dead_letters_topic = _raw_topic("dead-letters")

#: Grouping (`app.agents.groups`): probes re-keyed by shard key (IE fingerprint), packed.
group_probes_topic = _raw_topic("group-probes")

#: What each shard decided, to each MAC's own partition (that of `devices`), packed.
group_assignments_topic = _raw_topic("group-assignments")

#: Each MAC that took its group, and its totals, to the group's partition, packed.
group_members_topic = _raw_topic("group-members")
