"""Alerts in a chat: `/subscribe` and `/unsubscribe`, both safe to send twice.

The chat's subscription is stored through the HTTP API (`PUT`/`DELETE /subscriptions/{chat}`)
together with the bot it was made with, so the notifier answers through the same bot. Only
chats on the allow-list get here (the middleware refuses the others), and the notifier checks the
allow-list again for every alert: a chat removed from it stops getting alerts at once.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message

from app.bot.api import EditDone, EditPending, EditRefused, ProbewatchApi
from app.bot.format import escape

SUBSCRIBED = (
    "🔔 Subscribed: this chat gets a message whenever a device probes for a watched SSID "
    "(/watchlist shows them). /unsubscribe stops them."
)
ALREADY_SUBSCRIBED = "🔔 This chat is already subscribed to alerts. /unsubscribe stops them."
UNSUBSCRIBED = "🔕 Unsubscribed: this chat gets no more alerts. /subscribe starts them again."
NOT_SUBSCRIBED = "🔕 This chat was not subscribed to alerts; there is nothing to stop."


async def command_subscribe(message: Message, bot: Bot, api: ProbewatchApi) -> None:
    """`/subscribe`: send this chat every alert, through the bot it is talking to."""
    match await api.subscribe(message.chat.id, bot.id):
        case EditDone(body):
            await message.answer(SUBSCRIBED if body.get("changed", True) else ALREADY_SUBSCRIBED)
        case EditPending():
            await message.answer(SUBSCRIBED)
        case EditRefused(_, error):
            await message.answer(f"Could not subscribe this chat: {escape(error)}.")


async def command_unsubscribe(message: Message, api: ProbewatchApi) -> None:
    """`/unsubscribe`: no more alerts in this chat."""
    match await api.unsubscribe(message.chat.id):
        case EditDone(body):
            await message.answer(UNSUBSCRIBED if body.get("changed", True) else NOT_SUBSCRIBED)
        case EditPending():
            await message.answer(UNSUBSCRIBED)
        case EditRefused(_, error):
            await message.answer(f"Could not unsubscribe this chat: {escape(error)}.")


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many."""
    router = Router(name=__name__)
    router.message.register(command_subscribe, Command("subscribe"))
    router.message.register(command_unsubscribe, Command("unsubscribe"))
    return router
