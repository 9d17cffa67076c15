"""Every Kafka topic the app reads or writes, in one place (names per DESIGN.md, with the prefix)."""

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
