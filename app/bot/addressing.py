"""Which group messages are meant for the bot, and what they ask once its name is taken out.

In a group the bot reads everything (privacy mode off, so the lake gets the whole chat), but it
must not answer people talking to each other. It answers a message only when it is
- one of its commands: `/device …`, or `/device@ThisBot …` (a command naming another bot, or a
  bare command it does not have, may be meant for another bot: left alone);
- a mention of it: `@ThisBot f0:18:98:11:22:33` (a `mention` entity with its username, or a
  `text_mention` of its user id, as apps make for users without a username); the query is the
  text with the mention taken out;
- a reply to one of its own messages.
Everything else is kept silent. Private chats are always addressed to the bot.
Entities count in UTF-16 code units, as Telegram does, so an emoji before a mention is safe.
"""

from __future__ import annotations

from collections.abc import Collection

from aiogram.enums import ChatType, MessageEntityType
from aiogram.types import Message, MessageEntity, User

GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


def addressed_text(message: Message, me: User, commands: Collection[str]) -> str | None:
    """What `message` asks the bot (its text, a mention of the bot taken out), or None when it
    is not meant for the bot: a group message that is no command of its, no mention, no reply.

    `commands` are the bot's command names (without `/`); `me` is the bot (getMe).
    """
    text = message.text or ""
    if message.chat.type not in GROUPS:
        return text
    if text.startswith("/"):
        return text if _is_own_command(text, me, commands) else None
    entities = message.entities or []
    mentions = [e for e in entities if _names_bot(e, text, me)]
    if mentions:
        return " ".join(_without(text, mentions).split())
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return text
    return None


def _is_own_command(text: str, me: User, commands: Collection[str]) -> bool:
    """`/cmd@ThisBot` (any cmd: the bot says if it does not know it), or `/cmd` of its own."""
    name, _, mention = text.split(maxsplit=1)[0][1:].partition("@")
    if mention:
        return bool(me.username) and mention.lower() == (me.username or "").lower()
    return name.lower() in commands


def _names_bot(entity: MessageEntity, text: str, me: User) -> bool:
    if entity.type == MessageEntityType.TEXT_MENTION:
        return entity.user is not None and entity.user.id == me.id
    if entity.type == MessageEntityType.MENTION and me.username:
        return entity.extract_from(text).lower() == f"@{me.username.lower()}"
    return False


def _without(text: str, entities: list[MessageEntity]) -> str:
    """`text` with the entities' spans (UTF-16 offsets) replaced by spaces."""
    units = text.encode("utf-16-le")
    for entity in sorted(entities, key=lambda e: e.offset, reverse=True):
        start, end = entity.offset * 2, (entity.offset + entity.length) * 2
        units = units[:start] + " ".encode("utf-16-le") + units[end:]
    return units.decode("utf-16-le", errors="replace")
