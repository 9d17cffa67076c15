"""`DELETE /telegram-users/{user_id}`: erase what a Telegram user wrote, from the lake.

The request is a user erasure (`app.logic.erasure`) sent to every partition of
`telegram-updates` (a user writes in many chats, and updates are keyed by chat): each partition's
archiver takes the user's messages out of what it archived, raw and enriched, after writing the
piece that holds the request. Answered 202 once Kafka has all of them: the lake follows within
the archivers' next flush. The topic itself keeps the user's updates until its retention.
"""

from __future__ import annotations

from faust import web

from app.logic.erasure import InvalidErasure, user_erasure_record
from app.main import settings
from app.topics import telegram_updates_topic

blueprint = web.Blueprint("telegram-users")


@blueprint.route("/telegram-users/{user_id}", name="telegram-user")
class TelegramUserView(web.View):
    async def delete(self, request: web.Request, user_id: str) -> web.Response:
        try:
            value = user_erasure_record(int(user_id), "api")
        except (ValueError, InvalidErasure):
            return self.json(
                {"error": f"not a Telegram user id: {user_id[:40]!r} (a positive integer)"},
                status=400,
            )
        for partition in range(settings.partitions):
            await (await telegram_updates_topic.send(value=value, partition=partition))
        return self.json(
            {
                "user_id": int(user_id),
                "partitions": settings.partitions,
                "lake": bool(settings.lake),
                "telegram_updates_retention_days": min(30, settings.retention_days or 30),
            },
            status=202,
        )
