"""The mirrored lists of this deployment, started with every worker."""

from __future__ import annotations

import logging
from typing import Any

from app.logic.subscriptions import decode_subscription, parse_chat_id
from app.logic.tokens import (
    CLUSTER_KEY_ID,
    ClusterKey,
    Entry,
    StoredToken,
    check_id,
    decode_entry,
    new_cluster_key,
)
from app.logic.watchlist import clean_ssid, decode_watch_value
from app.main import app, settings
from app.topics import api_tokens_topic
from app.worker.topic_mirror import TopicMirror

logger = logging.getLogger(__name__)

#: SSID → reason.
watchlist = TopicMirror[str](
    "watchlist", settings.topic("ssid-watchlist"), decode_watch_value, clean_ssid
)


#: chat id → `{"subscribed": True, "bot": the bot it subscribed through, or None}`.
subscriptions = TopicMirror[dict[str, Any]](
    "subscriptions", settings.topic("chat-subscriptions"), decode_subscription, parse_chat_id
)


#: token id → its role and hash; `cluster` → the workers' shared key (`app.logic.tokens`).
tokens = TopicMirror[Entry]("tokens", settings.topic("api-tokens"), decode_entry, check_id)


def cluster_key() -> ClusterKey | None:
    entry = tokens.get(CLUSTER_KEY_ID)
    return entry if isinstance(entry, ClusterKey) else None


@app.task_at_start
async def start_mirrors() -> None:
    """Begin reading the lists as the worker starts, before its tables are read back: requests
    wait for the tokens, agents for the watch list."""
    await watchlist.start(settings.kafka_bootstrap_servers)
    await subscriptions.start(settings.kafka_bootstrap_servers)
    await tokens.start(settings.kafka_bootstrap_servers)
    await tokens.wait_ready()
    if settings.api_auth == "auto" and not any(
        isinstance(entry, StoredToken) for _, entry in tokens.items()
    ):
        logger.warning(
            "the HTTP API is open to anyone who reaches it: no API token exists yet "
            "(create one: probewatch tokens create --role admin)"
        )
    if cluster_key() is None:
        # The first worker of a new deployment makes the key; two at once both write one, and
        # the last written wins on every worker alike.
        logger.info("making the cluster key the workers authenticate each other with")
        await api_tokens_topic.send(key=CLUSTER_KEY_ID.encode(), value=new_cluster_key().encode())
