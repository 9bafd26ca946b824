"""Moderators' review queue: /queue with its buttons, /attach, /dismiss, /block, /unblock, /stats.

Each handler reads the update, calls kb.review (or kb.stats), and answers with a view from
handlers/render_review.py; a malformed command answers with its usage and changes nothing.
The queue's "New entry" button (rq:new:ITEM) is taken by /new's conversation.
"""

from __future__ import annotations

import math

from telegram import CallbackQuery, Message, MessageOriginUser, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers import render_review as views
from handlers.render import Reply
from handlers.telegram_context import Context, TelegramApp
from handlers.telegram_mod_access import actor, moderator_only
from handlers.telegram_notify import Notice, claim_askers, tell_askers_after
from handlers.telegram_send import reply_to
from kb import queue, review, roles, stats
from kb.errors import KbError
from kb.review import QueueGroup, Suggestion

PAGE_SIZE = 5  # groups per /queue page, each one message with its buttons
SUGGESTIONS = 3


def add_handlers(app: TelegramApp) -> None:
    """Register this module's handlers; called before the private-post handler."""
    app.add_handler(CommandHandler("queue", queue_command))
    app.add_handler(CommandHandler("attach", attach_command))
    app.add_handler(CommandHandler("dismiss", dismiss_command))
    app.add_handler(CommandHandler("block", block_command))
    app.add_handler(CommandHandler("unblock", unblock_command))
    app.add_handler(CommandHandler("stats", stats_command))
    app.add_handler(CallbackQueryHandler(queue_button, views.QUEUE_BUTTONS))


async def _usage(message: Message, command: str) -> None:
    await reply_to(message, views.notice(views.USAGE[command]))


def _item_id(text: str) -> int | None:
    text = text.removeprefix("#")
    return int(text) if text.isdigit() and len(text) <= 12 else None


# --- the queue ------------------------------------------------------------------------------


@moderator_only
async def queue_command(update: Update, context: Context) -> None:
    """/queue [PAGE]: the open queue, grouped, most asked first."""
    if (message := update.effective_message) is None:
        return
    args = context.args or []
    page = _item_id(args[0]) if len(args) == 1 else 1 if not args else None
    if page is None or page < 1:
        await _usage(message, "queue")
        return
    await _send_page(message, context, page)


async def _send_page(message: Message, context: Context, page: int) -> None:
    kb = context.bot_data.kb
    groups = await review.review_queue(kb)
    async with kb.sessions() as session:
        items, posts = await queue.open_count(session)
    pages = max(1, math.ceil(len(groups) / PAGE_SIZE))
    page = min(page, pages)
    header = views.queue_header(len(groups), items, posts, page, pages)
    await reply_to(message, header)
    for group in groups[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        offered = await _suggestions(context, group)
        await reply_to(
            message, views.queue_group(group, offered), views.queue_keyboard(group, offered)
        )
    if (nav := views.page_keyboard(page, pages)) is not None:
        await reply_to(message, Reply().add(f"Page {page} of {pages}."), nav)


async def _suggestions(context: Context, group: QueueGroup) -> list[Suggestion]:
    """The matcher's best entries for the lead post, minus one an asker said it is not."""
    kb = context.bot_data.kb
    result = await kb.match(group.lead.text, top=SUGGESTIONS + 1, exact_scores=True)
    refused = {i.entry_id for i in group.items if i.reason in review.WRONG and i.entry_id}
    ids = [c.entry_id for c in result.candidates if c.entry_id not in refused][:SUGGESTIONS]
    scores = {c.entry_id: c.score for c in result.candidates}
    return await review.suggestions(kb, ids, scores)


@moderator_only
async def queue_button(update: Update, context: Context) -> None:
    """Attach, Dismiss, Block sender and the page buttons under /queue's messages."""
    query = update.callback_query
    if query is None or (found := views.read_button(query.data)) is None:
        return
    action, number, entry_id = found
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        await query.answer("This message is too old; send /queue again.")
        return
    if action == views.PAGE:
        await query.answer()
        await _send_page(message, context, number)
        return
    who = actor(query.from_user)
    notices: list[Notice] = []
    try:
        if action == views.ATTACH:
            reply, notices = await _attach(context, number, entry_id, who)
        elif action == views.DISMISS:
            reply = views.dismissed(await review.dismiss(context.bot_data.kb, number, who))
        else:
            reply = views.blocked(await review.block_sender(context.bot_data.kb, number, who))
    except KbError as exc:
        await query.answer(f"Nothing changed: {exc}.", show_alert=True)
        return
    with tell_askers_after(context, notices):
        await query.answer("Done.")
        await _close(query)
        await reply_to(message, reply)


async def _close(query: CallbackQuery) -> None:
    """Take the buttons off an item that was dealt with, so nobody presses them twice."""
    await query.edit_message_reply_markup(None)


async def _attach(
    context: Context, item_id: int, entry_id: str, who: str
) -> tuple[Reply, list[Notice]]:
    """Attach the item's group to the entry; the reply, and the askers to tell after it."""
    result = await review.attach(context.bot_data.kb, item_id, entry_id, who)
    notices = await claim_askers(context, entry_id, rematch=False) if result.published else []
    return views.attached(result, len(notices)), notices


@moderator_only
async def attach_command(update: Update, context: Context) -> None:
    """/attach ITEM ENTRY_ID."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    args = context.args or []
    item_id = _item_id(args[0]) if len(args) == 2 else None
    if item_id is None:
        await _usage(message, "attach")
        return
    notices: list[Notice] = []
    try:
        reply, notices = await _attach(context, item_id, args[1], actor(update.effective_user))
    except KbError as exc:
        reply = views.notice(f"Nothing changed: {exc}.")
    with tell_askers_after(context, notices):
        await reply_to(message, reply)


@moderator_only
async def dismiss_command(update: Update, context: Context) -> None:
    """/dismiss ITEM."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    args = context.args or []
    item_id = _item_id(args[0]) if len(args) == 1 else None
    if item_id is None:
        await _usage(message, "dismiss")
        return
    try:
        closed = await review.dismiss(context.bot_data.kb, item_id, actor(update.effective_user))
        reply = views.dismissed(closed)
    except KbError as exc:
        reply = views.notice(f"Nothing changed: {exc}.")
    await reply_to(message, reply)


# --- spam -----------------------------------------------------------------------------------


def _target(message: Message, args: list[str]) -> tuple[str, str] | None:
    """(platform, user id) from `USER_ID`, `x:USER_ID`, or a reply to a user's forward."""
    if len(args) == 1:
        platform, _, user_id = args[0].rpartition(":")
        platform = (platform or "telegram").lower()
        if platform in ("telegram", "x") and user_id.isdigit() and len(user_id) <= 20:
            return platform, user_id
        return None
    replied = message.reply_to_message
    if not args and replied is not None and isinstance(replied.forward_origin, MessageOriginUser):
        return "telegram", str(replied.forward_origin.sender_user.id)
    return None


@moderator_only
async def block_command(update: Update, context: Context) -> None:
    """/block USER_ID, or a reply to a forward: the user's posts are never queued again."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    target = _target(message, context.args or [])
    if target is None:
        await _usage(message, "block")
        return
    platform, user_id = target
    result = await review.block_user(
        context.bot_data.kb, platform, user_id, actor(update.effective_user)
    )
    await reply_to(message, views.blocked(result))


@moderator_only
async def unblock_command(update: Update, context: Context) -> None:
    """/unblock USER_ID, or a reply to a forward."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    target = _target(message, context.args or [])
    if target is None:
        await _usage(message, "unblock")
        return
    platform, user_id = target
    async with context.bot_data.kb.sessions() as session:
        changed = await roles.unblock(session, platform, user_id, actor(update.effective_user))
        await session.commit()
    who = user_id if platform == "telegram" else f"{platform}:{user_id}"
    await reply_to(
        message, views.notice(f"Unblocked {who}." if changed else f"{who} was not blocked.")
    )


@moderator_only
async def stats_command(update: Update, context: Context) -> None:
    """/stats: checks per day, match rate, top rumours, the queue, feedback."""
    if (message := update.effective_message) is None:
        return
    if context.args:
        await _usage(message, "stats")
        return
    async with context.bot_data.kb.sessions() as session:
        figures = await stats.collect(session)
    await reply_to(message, views.stats(figures))
