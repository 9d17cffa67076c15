"""Every Kafka topic the app reads or writes, in one place (DESIGN.md names, with the prefix)."""

from __future__ import annotations

from app.main import app, settings

#: One ProbeEvent per probe request, keyed by source MAC. Values stay raw bytes so that a malformed
#: message is rejected by our own validation (and counted) instead of failing inside faust.
probes_topic = app.topic(
    settings.topic("probes"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

#: Frames as the original ksqlDB demo fed them (`tshark -T ek` through jq), unkeyed.
pcap_topic = app.topic(
    settings.topic("pcap"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

#: The raw zone: Telegram Update JSON exactly as the webhook received it, keyed by chat id.
telegram_updates_topic = app.topic(
    settings.topic("telegram-updates"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

#: Device names from inventories or users: key MAC, value `{"name": …}`, null = forget.
device_names_topic = app.topic(
    settings.topic("device-names"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

#: The SSID watch list: key SSID, value `{"reason": …}`, null = unwatch. One partition.
ssid_watchlist_topic = app.topic(
    settings.topic("ssid-watchlist"), key_serializer="raw", value_serializer="raw", partitions=1
)

#: Chats that asked for alerts: key chat id, value `{"subscribed": true, …}`, null = stop.
chat_subscriptions_topic = app.topic(
    settings.topic("chat-subscriptions"), key_serializer="raw", value_serializer="raw", partitions=1
)

#: Probes for watched SSIDs (see `app.logic.alerts`), keyed by MAC.
alerts_topic = app.topic(
    settings.topic("alerts"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

#: Per batch, per device and SSID, how many probes it sent: the probe stream re-keyed by SSID.
ssid_probes_topic = app.topic(
    settings.topic("ssid-probes"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)
