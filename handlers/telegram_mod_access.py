"""The gate in front of every moderator command and button: the right person in the right chat.

Moderator commands work in a private chat with the bot and in the configured moderators'
group (TELEGRAM_MODERATOR_CHAT_ID). Anyone else gets one short refusal, and the attempt is
logged with who and where, never with what they typed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update, User
from telegram.constants import ChatType

from handlers.render import Reply
from handlers.telegram_context import Context
from handlers.telegram_send import reply_to

log = logging.getLogger(__name__)

# Coroutine, not Awaitable: PTB's handler classes ask for coroutine functions.
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]

REFUSED = "Only moderators can do that."
REFUSED_OWNER = "Only the bot's owners can do that."
WRONG_CHAT = "Moderator commands work in a private chat with me or in the moderators' group."


def actor(user: User) -> str:
    """How the audit log names a Telegram user: stable id first, handle for humans."""
    handle = f" @{user.username}" if user.username else ""
    return f"telegram:{user.id}{handle}"


def _what(update: Update) -> str:
    if update.callback_query is not None:
        return f"button {(update.callback_query.data or '').split(':', 1)[0]!r}"
    text = update.effective_message.text if update.effective_message else None
    return f"command {(text or '').split(maxsplit=1)[0][:40]!r}" if text else "an update"


async def _refuse(update: Update, text: str) -> None:
    if (query := update.callback_query) is not None:
        await query.answer(text, show_alert=True)
    elif (message := update.effective_message) is not None:
        await reply_to(message, Reply().add(text))


def in_moderators_chat(update: Update, context: Context) -> bool:
    """A private chat with the bot, or the moderators' group (TELEGRAM_MODERATOR_CHAT_ID)."""
    chat = update.effective_chat
    return chat is not None and (
        chat.type == ChatType.PRIVATE or chat.id == context.bot_data.moderator_chat
    )


async def allowed(update: Update, context: Context, *, owners_only: bool = False) -> bool:
    """Whether this update may run a moderator action; refuses (and logs) when it may not."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return False
    services = context.bot_data
    if owners_only:
        ok = services.roles.is_owner(user.id)
    else:
        async with services.kb.sessions() as session:
            ok = await services.roles.is_moderator(session, user.id)
    if not ok:
        log.warning(
            "refused %s from user %s in chat %s: not a moderator", _what(update), user.id, chat.id
        )
        await _refuse(update, REFUSED_OWNER if owners_only else REFUSED)
        return False
    if not in_moderators_chat(update, context):
        log.warning(
            "refused %s from moderator %s in chat %s: not a moderators' chat",
            _what(update),
            user.id,
            chat.id,
        )
        await _refuse(update, WRONG_CHAT)
        return False
    return True


def moderator_only(handler: Handler) -> Handler:
    """Run `handler` only for moderators (owners included) in a moderators' chat."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        if await allowed(update, context):
            await handler(update, context)

    return guarded


def owner_only(handler: Handler) -> Handler:
    """Run `handler` only for owners (TELEGRAM_OWNER_IDS) in a moderators' chat."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        if await allowed(update, context, owners_only=True):
            await handler(update, context)

    return guarded
