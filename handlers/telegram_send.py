"""Sending replies (HTML, with a plain-text fallback Telegram always accepts) and the per-user
allowance in front of every check."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message, ReplyParameters, User
from telegram.error import BadRequest, Forbidden

from handlers.render import Reply
from handlers.render_telegram import notice
from handlers.telegram_context import Context
from handlers.telegram_posts import user_language

log = logging.getLogger(__name__)


async def reply_to(
    message: Message, reply: Reply, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Reply to `message` (in its thread); None when the chat no longer takes our messages."""
    try:
        try:
            return await message.reply_html(
                reply.html(),
                reply_markup=markup,
                do_quote=True,
                allow_sending_without_reply=True,
            )
        except BadRequest as exc:
            if "parse entities" not in exc.message.lower():
                raise
            # Our renderer escapes everything, so this is a bug; the user still gets the answer.
            log.error("Telegram refused our HTML (%s); sending the reply as plain text", exc)
            return await message.reply_text(
                reply.plain(),
                parse_mode=None,
                reply_markup=markup,
                do_quote=True,
                allow_sending_without_reply=True,
            )
    except Forbidden as exc:  # blocked by the user, or removed from the group
        log.info("cannot write to chat %s: %s", message.chat_id, exc.message)
        return None


async def send_in_reply(
    context: Context, chat_id: int, reply_to_id: int, reply: Reply, thread_id: int | None = None
) -> Message | None:
    """Like reply_to, for a message we only know by id (e.g. our own earlier answer)."""
    try:
        return await context.bot.send_message(
            chat_id,
            reply.html(),
            reply_parameters=ReplyParameters(reply_to_id, allow_sending_without_reply=True),
            message_thread_id=thread_id,
        )
    except Forbidden as exc:
        log.info("cannot write to chat %s: %s", chat_id, exc.message)
        return None


async def admit(message: Message, user: User | None, context: Context) -> bool:
    """Whether the user still has allowance for a post; warns them once when they run out."""
    if user is None:
        return True
    verdict = context.bot_data.allowance.take(user.id)
    if verdict == "warn":
        log.info("user %s is flooding; ignoring their posts for a while", user.id)
        await reply_to(message, notice("flood", user_language(user) or "en"))
    return verdict == "ok"
