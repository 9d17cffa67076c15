"""Chats subscribed to alerts: `GET /subscriptions`, `PUT` and `DELETE /subscriptions/{chat_id}`.

The list lives in the compacted one-partition `chat-subscriptions` topic (key = chat id, value
`{"subscribed": true, "bot": <bot id>}`, null = unsubscribed) that every worker mirrors whole, so
any worker answers and the notifier on every worker sees an edit within milliseconds. An edit is
answered once this worker's mirror shows it (read your writes), and editing to what already is
changes nothing (`"changed": false`): the bot's /subscribe and /unsubscribe are safe to repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from faust import web

from app.logic.subscriptions import InvalidSubscription, parse_bot, parse_chat_id
from app.topics import chat_subscriptions_topic
from app.web.server import read_body
from app.worker.lists import subscriptions
from app.worker.topic_mirror import TopicMirror

blueprint = web.Blueprint("subscriptions")

EDIT_VISIBLE_WITHIN_S = 10.0
READY_WITHIN_S = 10.0


@blueprint.route("/subscriptions", name="subscriptions")
class SubscriptionsView(web.View):
    """Every subscribed chat and the bot it subscribed through."""

    async def get(self, request: web.Request) -> web.Response:
        if not await subscriptions.wait_ready(READY_WITHIN_S):
            return self.json({"error": "the subscription list is still being read"}, status=503)
        return self.json(
            {
                "subscriptions": [
                    {"chat_id": int(chat), "bot": value.get("bot")}
                    for chat, value in subscriptions.items()
                ]
            }
        )


@blueprint.route("/subscriptions/{chat_id}", name="subscription")
class SubscriptionView(web.View):
    """Subscribe a chat (`PUT`, body `{"bot": <bot id>}` optional) or unsubscribe it (`DELETE`)."""

    async def put(self, request: web.Request, chat_id: str) -> web.Response:
        try:
            chat = parse_chat_id(chat_id)
            bot = parse_bot(await read_body(request))
        except InvalidSubscription as bad:
            return self.json({"error": str(bad)}, status=400)
        if not await subscriptions.wait_ready(READY_WITHIN_S):
            return self.json({"error": "the subscription list is still being read"}, status=503)
        key = str(chat)
        wanted = {"subscribed": True, "bot": bot}
        answer = {"chat_id": chat, "subscribed": True, "bot": bot}
        if subscriptions.get(key) == wanted:
            return self.json({**answer, "changed": False})
        value = {"subscribed": True} if bot is None else {"subscribed": True, "bot": bot}
        await (await chat_subscriptions_topic.send(key=key.encode(), value=orjson.dumps(value)))
        return await self._answer_when(lambda m: m.get(key) == wanted, answer)

    async def delete(self, request: web.Request, chat_id: str) -> web.Response:
        try:
            chat = parse_chat_id(chat_id)
        except InvalidSubscription as bad:
            return self.json({"error": str(bad)}, status=400)
        if not await subscriptions.wait_ready(READY_WITHIN_S):
            return self.json({"error": "the subscription list is still being read"}, status=503)
        key = str(chat)
        answer = {"chat_id": chat, "subscribed": False}
        if key not in subscriptions:
            return self.json({**answer, "changed": False})
        await (await chat_subscriptions_topic.send(key=key.encode(), value=None))
        return await self._answer_when(lambda m: key not in m, answer)

    async def _answer_when(
        self, applied: Callable[[TopicMirror[dict[str, Any]]], bool], answer: dict[str, Any]
    ) -> web.Response:
        """Answer once this worker's mirror shows the edit (read your writes)."""
        if not await subscriptions.wait_until(applied, EDIT_VISIBLE_WITHIN_S):
            return self.json(
                {"error": "stored in Kafka, not applied yet", "chat_id": answer["chat_id"]},
                status=202,
            )
        return self.json({**answer, "changed": True})
