"""The SSID watch list from a chat: `/watch <ssid> [reason…]`, `/unwatch <ssid>`, `/watchlist`.

Edits go through the HTTP API (`PUT`/`DELETE /watchlist/{ssid}`), which produces them to the
compacted `ssid-watchlist` topic every worker reads whole: alerting changes everywhere at once,
with no restart. SSIDs may contain spaces, so `/watch` reads a quoted SSID (see `app.bot.args`);
`/unwatch` takes the whole rest of the line, quotes optional.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from app.bot.api import EditDone, EditPending, EditRefused, ProbewatchApi
from app.bot.args import BadArguments, parse_watch, parse_whole
from app.bot.format import escape, format_watchlist

WATCH_USAGE = (
    "Send /watch, an SSID and why you watch it, e.g. "
    '<code>/watch "Free WiFi" phishing bait</code>. Put an SSID with spaces in quotes.'
)
UNWATCH_USAGE = "Send /unwatch and the SSID, e.g. <code>/unwatch Free WiFi</code>."
FIRST_WORD_HINT = (
    "\n<i>Only the first word is the SSID; for an SSID with spaces, put it in quotes: "
    '<code>/watch "Free WiFi" phishing bait</code>.</i>'
)


async def command_watch(message: Message, command: CommandObject, api: ProbewatchApi) -> None:
    """`/watch <ssid> [reason…]`: alert on every device that probes for this SSID."""
    if not (command.args or "").strip():
        await message.answer(WATCH_USAGE)
        return
    try:
        args = parse_watch(command.args or "")
    except BadArguments as bad:
        await message.answer(f"Cannot watch that: {escape(str(bad))}.")
        return
    ssid = f"<code>{escape(args.ssid)}</code>"
    match await api.watch(args.ssid, args.reason):
        case EditDone(body):
            reason = str(body.get("reason") or "")
            because = f" ({escape(reason)})" if reason else ""
            hint = FIRST_WORD_HINT if args.reason and not args.quoted else ""
            await message.answer(
                f"👁 Watching {ssid}{because}. Subscribed chats (/subscribe) get an alert when "
                f"a device probes for it.{hint}"
            )
        case EditPending():
            await message.answer(f"👁 Saved: {ssid} is watched in a moment.")
        case EditRefused(_, error):
            await message.answer(f"Cannot watch {ssid}: {escape(error)}.")


async def command_unwatch(message: Message, command: CommandObject, api: ProbewatchApi) -> None:
    """`/unwatch <ssid>`: stop alerting on this SSID."""
    typed = parse_whole(command.args or "")
    if not typed:
        await message.answer(UNWATCH_USAGE)
        return
    ssid = f"<code>{escape(typed)}</code>"
    match await api.unwatch(typed):
        case EditDone() | EditPending():
            await message.answer(f"Stopped watching {ssid}.")
        case EditRefused(404, _):
            await message.answer(f"{ssid} is not on the watch list; /watchlist shows what is.")
        case EditRefused(_, error):
            await message.answer(f"Cannot unwatch {ssid}: {escape(error)}.")


async def command_watchlist(message: Message, api: ProbewatchApi) -> None:
    """`/watchlist`: every watched SSID and why."""
    await message.answer(format_watchlist(await api.watchlist()))


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many."""
    router = Router(name=__name__)
    router.message.register(command_watch, Command("watch"))
    router.message.register(command_unwatch, Command("unwatch"))
    router.message.register(command_watchlist, Command("watchlist"))
    return router
