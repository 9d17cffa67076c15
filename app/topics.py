"""Every Kafka topic the app reads or writes, in one place (DESIGN.md names, with the prefix).

Keys and values stay raw bytes everywhere: a malformed message is rejected by our own validation
(and counted) instead of failing inside faust. Partition counts follow `app.kafka_admin`, which
creates these topics before a worker subscribes.
"""

from __future__ import annotations

from faust.types import TopicT

from app.kafka_admin import INPUT_TOPICS
from app.main import app, settings


def _raw_topic(name: str) -> TopicT:
    partitions = 1 if INPUT_TOPICS[name].single_partition else settings.partitions
    return app.topic(
        settings.topic(name), key_serializer="raw", value_serializer="raw", partitions=partitions
    )


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

#: Probes for watched SSIDs (see `app.logic.alerts`), keyed by MAC.
alerts_topic = _raw_topic("alerts")

#: Per batch and SSID, how many probes each device sent: the probe stream re-keyed by SSID.
ssid_probes_topic = _raw_topic("ssid-probes")

#: Records no agent could process, kept whole with where they came from and why
#: (`app.dead_letters`).
dead_letters_topic = _raw_topic("dead-letters")
