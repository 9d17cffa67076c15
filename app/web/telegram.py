"""`POST /telegram/{path}`: Telegram's webhook, on the faust web server of every worker.

A request is checked (secret path, source network, secret header, size, an Update-shaped JSON
object) and its body is published unchanged to `telegram-updates`, keyed by chat id and labelled
with the bot's id. The 200 is sent only once Kafka has the record: an update Telegram delivered
is never lost when a worker dies, and whichever worker consumes it answers it. Rejections are
counted (`telegram.webhook.rejected.<reason>`) and logged without the path or any secret.
The route exists only while the bot is on (PROBEWATCH_TELEGRAM_TOKEN set).
"""

from __future__ import annotations

import logging
from typing import cast

from aiohttp import web as aiohttp_web
from faust import web

from app.bot.config import WEBHOOK_PREFIX, telegram_config
from app.bot.updates import InvalidUpdate, bot_headers, decode_update, kafka_key
from app.bot.webhook import client_address, network_allowed, secret_matches
from app.main import settings
from app.topics import telegram_updates_topic
from app.web.server import BodyRejected, read_body
from app.worker.counters import counters

logger = logging.getLogger(__name__)

STREAM = "telegram.webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

blueprint = web.Blueprint("telegram")


@blueprint.route(WEBHOOK_PREFIX + "{path}", name="telegram-webhook")
class TelegramWebhookView(web.View):
    """One bot's webhook per secret path ("many bots, one server")."""

    async def post(self, request: web.Request, path: str) -> web.Response:
        """Check, publish and acknowledge one update; each refusal says why with its status."""
        raw = cast(aiohttp_web.Request, request)
        config = telegram_config(settings)
        bot = config.bot_for_path(path) if config and config.mode == "webhook" else None
        client = client_address(
            raw.remote, raw.headers.get("X-Forwarded-For"), config.trusted_proxies if config else ()
        )
        if config is None or bot is None:
            return self._reject("unknown_path", 404, "404: Not Found", client)
        if not network_allowed(client, config.allowed_networks):
            return self._reject("network", 403, "403: Forbidden", client)
        secret = config.webhook_secret
        if secret is None or not secret_matches(
            raw.headers.get(SECRET_HEADER), secret.get_secret_value()
        ):
            return self._reject("bad_secret", 401, "401: Unauthorized", client)
        try:
            body = await read_body(
                request, limit=config.max_body_bytes, stream=STREAM, client=client
            )
        except BodyRejected as bad:  # counted and logged by read_body
            return self.text(f"{bad.code}: {bad.detail}", status=bad.code, headers=bad.headers)
        try:
            update = decode_update(body)
        except InvalidUpdate as bad:
            return self._reject(bad.reason, 400, f"400: {bad}", client)
        try:
            delivery = await telegram_updates_topic.send(
                key=kafka_key(update), value=body, headers=bot_headers(bot.bot_id)
            )
            await delivery
        except Exception as err:
            # Telegram retries a failed delivery; a 503 asks it to.
            logger.error("could not publish a Telegram update to Kafka: %s", type(err).__name__)
            return self._reject("kafka", 503, "503: Service Unavailable", client)
        counters.incr(f"{STREAM}.accepted")
        return self.json({"ok": True})

    def _reject(self, reason: str, status: int, text: str, client: object) -> web.Response:
        counters.reject(STREAM, reason, f"HTTP {status} to {client}")
        return self.text(text, status=status)
