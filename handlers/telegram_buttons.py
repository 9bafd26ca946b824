"""Buttons under the bot's replies: helpful / not this, and yes / no to "is this the claim?"."""

from __future__ import annotations

from telegram import CallbackQuery, Message, Update

from handlers import render, render_telegram
from handlers.i18n_telegram import text
from handlers.render_telegram import HELPFUL, YES, read_button
from handlers.telegram_context import Context
from handlers.telegram_posts import user_language
from handlers.telegram_send import reply_to
from kb import feedback


async def _close_row(query: CallbackQuery, report_id: int) -> None:
    """Take the pressed row off the keyboard, so each answer is rated once."""
    message = query.message
    if isinstance(message, Message):
        await query.edit_message_reply_markup(
            render_telegram.without_report(message.reply_markup, report_id)
        )


async def feedback_button(update: Update, context: Context) -> None:
    """👍 counts for the entry; 👎 also sends the post to the moderators as a wrong match."""
    query = update.callback_query
    if query is None or (found := read_button(query.data)) is None or query.message is None:
        return
    action, report_id = found
    sessions, chat_id = context.bot_data.kb.sessions, str(query.message.chat.id)
    if action == HELPFUL:
        result = await feedback.helpful(sessions, report_id, chat_id)
    else:
        result = await feedback.not_this(sessions, report_id, chat_id, str(query.from_user.id))
    # A toast is interface talk: in the presser's language, not the post's.
    lang = user_language(query.from_user) or (result.lang if result else "") or "en"
    if result is None:
        await query.answer(text("stale_button", lang))
        return
    await query.answer(text("thanks" if action == HELPFUL else "passed_on", lang))
    await _close_row(query, report_id)


async def ask_button(update: Update, context: Context) -> None:
    """Yes: the rebuttal, as a reply to the post. No: the post goes to the moderators."""
    query = update.callback_query
    if query is None or (found := read_button(query.data)) is None or query.message is None:
        return
    action, report_id = found
    sessions, chat_id = context.bot_data.kb.sessions, str(query.message.chat.id)
    fallback = user_language(query.from_user) or "en"
    if action == YES:
        confirmed = await feedback.confirm(sessions, report_id, chat_id)
        if confirmed is None:
            await query.answer(text("stale_button", fallback))
            return
        entry, lang = confirmed
        await query.answer()
        question = query.message
        if isinstance(question, Message):
            post = question.reply_to_message or question
            markup = render_telegram.keyboard([render_telegram.feedback_row(report_id, lang)])
            await reply_to(post, render.rebuttal(entry, lang), markup)
    else:
        declined = await feedback.decline(sessions, report_id, chat_id, str(query.from_user.id))
        if declined is None:
            await query.answer(text("stale_button", fallback))
            return
        await query.answer(text("passed_on", user_language(query.from_user) or declined or "en"))
    await _close_row(query, report_id)
