"""A moderator's conversation with the bot (/new, /translate), continued by any worker.

The conversation lives in the database (kb.conversations), keyed by chat and moderator. Each
step reads it there and saves the next step *before* answering, so the moderator's next message
finds it on whichever worker the load balancer picks. A message no conversation waits for goes
on to the other handlers (in a private chat: a post to check), as does the first message after a
conversation sat idle for IDLE seconds (it ends, and says so).

Concurrency: within one worker, a chat's steps run one at a time (the per-chat lock). Across
workers, two steps of one moderator handled at the same moment are not ordered: the last save
wins and the moderator sees both answers. Last steps (publish, the translation, /cancel) take
the conversation out of the database in one statement, so each runs once however often it is
pressed or sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, CommandHandler, MessageHandler, filters

from handlers.render import Reply
from handlers.telegram_context import Context, TelegramApp
from handlers.telegram_mod_access import in_moderators_chat, moderator_only
from handlers.telegram_send import reply_to
from kb import conversations
from kb.conversations import Conversation

log = logging.getLogger(__name__)

IDLE = 30 * 60  # seconds a conversation may wait for the moderator's next step
STEPS_GROUP = -1  # before every other handler: a waiting conversation takes the message

Where = tuple[int, int]  # (chat id, user id): whose conversation
Step = Callable[[Update, Context, Conversation], Coroutine[Any, Any, None]]
Steps = Mapping[str, tuple[filters.BaseFilter, Step]]  # step -> the messages it takes, handler


def where(update: Update) -> Where | None:
    chat, user = update.effective_chat, update.effective_user
    return (chat.id, user.id) if chat is not None and user is not None else None


async def current(context: Context, at: Where) -> Conversation | None:
    """The moderator's conversation in this chat, lapsed or not."""
    async with context.bot_data.kb.sessions() as session:
        return await conversations.get(session, *at)


def lapsed(conversation: Conversation) -> bool:
    return conversation.idle() > IDLE


async def keep(context: Context, at: Where, step: str, data: dict[str, Any]) -> None:
    """Save the conversation's next step: from now on any worker continues it."""
    async with context.bot_data.kb.sessions() as session:
        await conversations.save(session, *at, step, data)
        await session.commit()


async def finish(context: Context, at: Where, step: str | None = None) -> Conversation | None:
    """End the conversation (if it waits at `step`); None if there was none or another took it."""
    async with context.bot_data.kb.sessions() as session:
        ended = await conversations.finish(session, *at, step)
        await session.commit()
    return ended


@asynccontextmanager
async def waiting_at(
    update: Update, context: Context, step: str
) -> AsyncIterator[Conversation | None]:
    """Hold the chat's turn; yield the conversation if it waits at `step` and has not lapsed."""
    if (at := where(update)) is None:
        yield None
        return
    async with context.bot_data.chat_locks(at[0]):
        found = await current(context, at)
        yield found if found is not None and found.step == step and not lapsed(found) else None


async def next_message(update: Update, context: Context, steps: Steps) -> None:
    """Hand a moderator's message to the conversation waiting for it, if any."""
    message, at = update.effective_message, where(update)
    if message is None or at is None or not in_moderators_chat(update, context):
        return
    async with context.bot_data.chat_locks(at[0]):
        found = await current(context, at)
        if found is None:
            return
        if lapsed(found):
            # PTB's own conversation timeout needs its JobQueue, which this bot does not run.
            await finish(context, at)
            command, minutes = found.step.split(":")[0], round(IDLE / 60)
            note = (
                f"Your /{command} was idle for {minutes} minutes and has ended; nothing was saved."
            )
            await reply_to(message, Reply().add(note))
            return  # and the message goes on: in a private chat, it is checked as a post
        taking = steps.get(found.step)
        if taking is None or not taking[0].check_update(update):
            return  # e.g. a text while /new waits for a button: not the conversation's
        await taking[1](update, context, found)
    raise ApplicationHandlerStop  # the conversation took the message


async def cancel_command(update: Update, context: Context) -> None:
    """/cancel: end the moderator's conversation in this chat, changing nothing."""
    if (message := update.effective_message) is None:
        return
    if (at := where(update)) is not None:
        async with context.bot_data.chat_locks(at[0]):
            ended = await finish(context, at)
        if ended is not None:
            await reply_to(message, Reply().add("Cancelled; nothing changed."))
            return
    await nothing_to_cancel(update, context)


@moderator_only
async def nothing_to_cancel(update: Update, context: Context) -> None:
    if (message := update.effective_message) is not None:
        await reply_to(message, Reply().add("Nothing to cancel."))


def add_handlers(app: TelegramApp, steps: Steps) -> None:
    """Register the router of conversation steps (`steps`: every conversation's) and /cancel."""

    async def conversation_step(update: Update, context: Context) -> None:
        await next_message(update, context, steps)

    taken = (filters.TEXT | filters.CAPTION) & ~filters.COMMAND
    app.add_handler(MessageHandler(taken, conversation_step), group=STEPS_GROUP)
    app.add_handler(CommandHandler("cancel", cancel_command))
