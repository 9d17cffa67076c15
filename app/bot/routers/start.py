"""`/start` and `/help`: what the bot does and how to ask it."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from app.bot.format import HELP


async def command_start(message: Message) -> None:
    """A chat opened the bot: greet and explain."""
    await message.answer(f"Hi! {HELP}")


async def command_help(message: Message) -> None:
    """`/help`: the same explanation, without the greeting."""
    await message.answer(HELP)


def create_router() -> Router:
    """A fresh router: aiogram attaches a router to one dispatcher only, and tests build many."""
    router = Router(name=__name__)
    router.message.register(command_start, CommandStart())
    router.message.register(command_help, Command("help"))
    return router
