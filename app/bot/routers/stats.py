"""`/stats`: the reports over the history lake, for the chats allowed to see them.

The rows come from the HTTP API (`GET /analytics/{report}`), which any worker answers by reading
the lake itself; the bot never opens the lake. Reports are made from what people wrote in the
chats the bot is in, and from where devices were: a second allow-list
(PROBEWATCH_TELEGRAM_STATS_CHATS) says which chats may ask, and every other chat is told its id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from app.bot.api import ProbewatchApi, ReportRefused, ReportRows
from app.bot.args import BadArguments, parse_stats
from app.bot.report_format import (
    bad_stats_arguments,
    format_report,
    format_reports,
    report_refused,
    stats_refused,
)


async def command_stats(
    message: Message, command: CommandObject, api: ProbewatchApi, stats_chats: frozenset[int]
) -> None:
    """`/stats` lists the reports; `/stats <report> [since] [until] [key=value…]` runs one.

    API failures (down, 5xx, too slow) reach the dispatcher's error handler, which says so.
    """
    if message.chat.id not in stats_chats:
        await message.answer(stats_refused(message.chat.id))
        return
    if not (command.args or "").strip():
        await message.answer(format_reports(await api.reports()))
        return
    try:
        args = parse_stats(command.args or "", datetime.now(UTC))
    except BadArguments as bad:
        await message.answer(bad_stats_arguments(str(bad)))
        return
    match await api.report(args.report, args.params):
        case ReportRows() as rows:
            await message.answer(format_report(rows, args.params))
        case ReportRefused() as refusal:
            await message.answer(report_refused(args.report, refusal))


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many."""
    router = Router(name=__name__)
    router.message.register(command_stats, Command("stats"))
    return router
