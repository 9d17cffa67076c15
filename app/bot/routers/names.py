"""Naming devices from a chat: `/name <mac> <name…>` and `/unname <mac>`.

The edit goes through the HTTP API (`PUT`/`DELETE /devices/{mac}/name`), which routes it to the
worker owning the device and answers once that worker's table shows it, so a look-up right after
the reply already finds the device by its new name. The API's refusals (a MAC never seen, a name
too long) are passed on as they are: they already say what is wrong.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from app.bot.api import EditDone, EditPending, EditRefused, ProbewatchApi
from app.bot.args import BadArguments, parse_name, parse_whole
from app.bot.format import escape, not_a_mac
from app.logic.mac import InvalidMac, normalize_mac

NAME_USAGE = (
    "Send /name, a MAC address and the name, e.g. <code>/name aa:bb:cc:dd:ee:ff Alice phone</code>."
)
UNNAME_USAGE = "Send /unname and a MAC address, e.g. <code>/unname aa:bb:cc:dd:ee:ff</code>."


async def command_name(message: Message, command: CommandObject, api: ProbewatchApi) -> None:
    """`/name <mac> <name…>`: name a device the sensors have seen."""
    try:
        typed_mac, name = parse_name(command.args or "")
    except BadArguments:
        await message.answer(NAME_USAGE)
        return
    try:
        mac = normalize_mac(typed_mac)
    except InvalidMac:
        await message.answer(f"{not_a_mac(typed_mac)}\n{NAME_USAGE}")
        return
    match await api.name_device(mac, name):
        case EditDone(body):
            shown = escape(str(body.get("name") or name))
            unseen = (
                " No probes seen from it yet: the name is ready for when it shows up."
                if body.get("seen") is False
                else ""
            )
            await message.answer(f"✏️ <code>{mac}</code> is now named <b>{shown}</b>.{unseen}")
        case EditPending():
            await message.answer(
                f"✏️ Saved: <code>{mac}</code> will be named <b>{escape(name)}</b> in a moment."
            )
        case EditRefused(_, error):
            await message.answer(f"Could not name <code>{mac}</code>: {escape(error)}.")


async def command_unname(message: Message, command: CommandObject, api: ProbewatchApi) -> None:
    """`/unname <mac>`: forget a device's name."""
    typed_mac = parse_whole(command.args or "")
    if not typed_mac:
        await message.answer(UNNAME_USAGE)
        return
    try:
        mac = normalize_mac(typed_mac)
    except InvalidMac:
        await message.answer(f"{not_a_mac(typed_mac)}\n{UNNAME_USAGE}")
        return
    match await api.forget_name(mac):
        case EditDone() | EditPending():
            await message.answer(f"✏️ <code>{mac}</code> has no name any more.")
        case EditRefused(404, _):
            await message.answer(f"<code>{mac}</code> has no name; nothing to forget.")
        case EditRefused(_, error):
            await message.answer(
                f"Could not forget the name of <code>{mac}</code>: {escape(error)}."
            )


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many."""
    router = Router(name=__name__)
    router.message.register(command_name, Command("name"))
    router.message.register(command_unname, Command("unname"))
    return router
