"""`/erase <mac>`: erase a device everywhere probewatch keeps it, from the chats allowed to.

The erasure goes through the HTTP API (`DELETE /devices/{mac}`), which routes it to the worker
owning the device and answers once applied, saying where the device was found. Erasing is not
for every chat the bot answers: a third allow-list (PROBEWATCH_TELEGRAM_ADMIN_CHATS) says which
chats may, and every other chat is told its id.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from app.bot.api import EditDone, EditPending, EditRefused, ProbewatchApi
from app.bot.args import parse_whole
from app.bot.format import escape, not_a_mac
from app.logic.mac import InvalidMac, normalize_mac

USAGE = "Send /erase and a MAC address, e.g. <code>/erase aa:bb:cc:dd:ee:ff</code>."


def erase_refused(chat_id: int) -> str:
    return (
        "Sorry, erasing devices is not open to this chat. This chat's id is "
        f"<code>{chat_id}</code>; the bot's owner can add it to PROBEWATCH_TELEGRAM_ADMIN_CHATS."
    )


def where_erased(mac: str, found: dict[str, Any]) -> str:
    """The reply: where the device was found, and so erased."""
    places = [
        label
        for key, label in (
            ("device", "its statistics"),
            ("history", "its history"),
            ("name", "its name"),
        )
        if found.get(key)
    ]
    if found.get("ssids"):
        places.append(f"the index of {found['ssids']} SSIDs")
    if found.get("lake"):
        places.append("the history lake (after its next flush)")
    if not places:
        return f"🧹 Nothing was kept about <code>{mac}</code>; it is erased all the same."
    return f"🧹 <code>{mac}</code> is erased: " + ", ".join(places) + "."


async def command_erase(
    message: Message, command: CommandObject, api: ProbewatchApi, admin_chats: frozenset[int]
) -> None:
    if message.chat.id not in admin_chats:
        await message.answer(erase_refused(message.chat.id))
        return
    typed_mac = parse_whole(command.args or "")
    if not typed_mac:
        await message.answer(USAGE)
        return
    try:
        mac = normalize_mac(typed_mac)
    except InvalidMac:
        await message.answer(f"{not_a_mac(typed_mac)}\n{USAGE}")
        return
    match await api.erase(mac):
        case EditDone(body):
            await message.answer(where_erased(mac, body.get("erased") or {}))
        case EditPending():
            await message.answer(f"🧹 <code>{mac}</code> will be erased in a moment.")
        case EditRefused(_, error):
            await message.answer(f"Could not erase <code>{mac}</code>: {escape(error)}.")


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many."""
    router = Router(name=__name__)
    router.message.register(command_erase, Command("erase"))
    return router
