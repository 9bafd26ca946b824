"""The moderators' command menu: shown in each owner's and moderator's private chat with the bot
and in the moderators' group, nowhere else.

A chat's own menu replaces the all-private-chats one, so it repeats the everyday commands. It
is English, like the rest of the moderators' interface.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from handlers.telegram_context import TelegramApp
from kb import roles

log = logging.getLogger(__name__)

EVERYDAY = [
    ("check", "check a text: /check TEXT"),
    ("help", "what the bot does"),
]
MODERATION = [
    ("new", "write a new entry step by step"),
    ("queue", "posts the bot could not answer"),
    ("find", "closest entries to a text: /find TEXT"),
    ("show", "an entry: /show ID"),
    ("edit", "/edit ID FIELD VALUE"),
    ("source", "/source ID URL [title]"),
    ("translate", "/translate ID LANG, then claim and summary"),
    ("variant", "reply to a post: /variant ID"),
    ("media", "reply to a photo or video: /media ID"),
    ("publish", "/publish ID"),
    ("archive", "/archive ID"),
    ("history", "who changed an entry: /history ID"),
    ("export", "the KB as a file: /export [yaml|json|claimreview]"),
    ("attach", "answer a queue item: /attach ITEM ENTRY_ID"),
    ("dismiss", "drop a queue item: /dismiss ITEM"),
    ("block", "keep a user's posts out of the queue: /block USER_ID"),
    ("unblock", "/unblock USER_ID"),
    ("stats", "checks, match rate, queue size"),
    ("cancel", "stop /new or /translate"),
]
OWNERS = [("mod", "moderators: /mod add|remove|list")]


def menu(owner: bool) -> list[BotCommand]:
    return [BotCommand(*c) for c in (*MODERATION, *(OWNERS if owner else []), *EVERYDAY)]


async def show_menu(bot: Bot, chat_id: int, *, owner: bool = False) -> bool:
    """Give one chat the moderators' menu; False (logged) when Telegram refuses."""
    try:
        await bot.set_my_commands(menu(owner), scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:  # e.g. a moderator who never opened a chat with the bot
        log.info("no moderators' menu for chat %s: %s", chat_id, exc)
        return False
    return True


async def hide_menu(bot: Bot, chat_id: int) -> None:
    """Back to the everyday menu, after /mod remove."""
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.info("could not reset the menu of chat %s: %s", chat_id, exc)


async def publish_moderator_menus(app: TelegramApp) -> None:
    """The menu for every owner, every moderator and the moderators' group."""
    services = app.bot_data
    async with services.kb.sessions() as session:
        moderators = await roles.moderators(session)
    for owner in sorted(services.roles.owners):
        await show_menu(app.bot, int(owner), owner=True)
    for moderator in moderators:
        if moderator.user_id.isdigit():
            await show_menu(app.bot, int(moderator.user_id))
    if services.moderator_chat is not None:
        await show_menu(app.bot, services.moderator_chat)
