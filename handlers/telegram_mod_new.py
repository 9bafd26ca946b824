"""/new: a moderator writes an entry step by step (claim → verdict → summary → sources →
language → confirm), from scratch, from a post they reply /new to, or from a review-queue item's
"new entry" button. /cancel at any step leaves the KB untouched.

PTB's ConversationHandler owns the flow; the draft lives in the moderator's user_data, keyed by
chat, so a moderator may write in a private chat and in the moderators' group independently.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers import render, telegram
from handlers.i18n import LANGS, verdict_label
from handlers.render import Reply
from handlers.render_entries import short
from handlers.telegram_context import Context, TelegramApp
from handlers.telegram_mod_access import actor, allowed
from handlers.telegram_notify import notify_askers
from handlers.telegram_send import reply_to
from kb import editing, queue, review
from kb.errors import KbError
from kb.lang import detect_language
from kb.models import Verdict

log = logging.getLogger(__name__)

CLAIM, VERDICT, SUMMARY, SOURCES, LANG, CONFIRM = range(6)
END = ConversationHandler.END
FROM_QUEUE = r"^rq:new:(\d+)$"  # the review queue's "new entry" button
VERDICT_BUTTON, LANG_BUTTON, CONFIRM_BUTTON = r"^new:v:(\w+)$", r"^new:l:(\w+)$", r"^new:ok:(\w+)$"
CONFIRM_CHOICES = {"publish": "✅ Publish", "draft": "📝 Save as draft", "cancel": "✖️ Cancel"}
LANG_CODE = re.compile(r"^[a-z]{2,3}$")
DRAFT_IDLE = 30 * 60  # seconds a /new may wait for the moderator's next step


def _key(chat_id: int) -> tuple[str, int]:
    return ("new", chat_id)


def _draft(context: Context, chat_id: int) -> editing.Draft | None:
    """The moderator's draft in this chat; None once it sat idle for DRAFT_IDLE seconds."""
    found = (context.user_data or {}).get(_key(chat_id))
    if not isinstance(found, editing.Draft):
        return None
    now = time.monotonic()
    if now - found.touched > DRAFT_IDLE:
        _forget(context, chat_id)
        return None
    found.touched = now
    return found


async def _lapsed(update: Update, context: Context) -> int:
    """A message for a /new that lapsed: say so, and check it as the post it probably is.

    PTB's own conversation timeout needs its JobQueue, which this bot does not run.
    """
    message = update.effective_message
    if message is not None:
        minutes = round(DRAFT_IDLE / 60)
        note = f"Your /new was idle for {minutes} minutes and has ended; nothing was saved."
        await reply_to(message, Reply().add(note))
        if message.chat.type == ChatType.PRIVATE:
            await telegram.private_post(update, context)
    return END


def _keep(context: Context, chat_id: int, draft: editing.Draft) -> None:
    if context.user_data is not None:
        context.user_data[_key(chat_id)] = draft


def _forget(context: Context, chat_id: int) -> None:
    (context.user_data or {}).pop(_key(chat_id), None)


def _buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def _ask_verdict(message: Message, draft: editing.Draft) -> int:
    verdicts = [(verdict_label(v.value, "en"), f"new:v:{v.value}") for v in Verdict]
    reply = Reply().add("Claim: ", "b").add(short(draft.claim, 1500))
    reply.add("\n\nChoose the verdict (or send a new text to replace the claim; /cancel to stop).")
    await reply_to(message, reply, _buttons([verdicts[:3], verdicts[3:]]))
    return VERDICT


def _post_text(message: Message) -> str:
    return editing.phrasing(message.text or message.caption or "")


async def new_command(update: Update, context: Context) -> int:
    """/new, /new CLAIM, or /new replying to a post (its text is the claim and a phrasing)."""
    message = update.effective_message
    if message is None or not await allowed(update, context):
        return END
    draft = editing.Draft()
    replied = message.reply_to_message
    if replied is not None and (text := _post_text(replied)):
        draft.claim, draft.variants = text, [text]
    elif len(words := (message.text or "").split(maxsplit=1)) == 2:
        draft.claim = words[1].strip()
    _keep(context, message.chat_id, draft)
    if draft.claim:
        return await _ask_verdict(message, draft)
    await reply_to(
        message, Reply().add("New entry. Send the claim: the rumour in a sentence or two.")
    )
    return CLAIM


async def new_from_queue(update: Update, context: Context) -> int:
    """The queue's "new entry" button: the queued post is the claim and a first phrasing."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return END
    if not await allowed(update, context):
        return END
    found = re.match(FROM_QUEUE, query.data or "")
    item_id = int(found.group(1)) if found else 0
    async with context.bot_data.kb.sessions() as session:
        item = await queue.get_item(session, item_id)
    if item is None or item.status != "open":
        await query.answer("This queue item is already closed.", show_alert=True)
        return END
    await query.answer()
    text = editing.phrasing(item.text)
    draft = editing.Draft(claim=text, variants=[text], queue_item=item_id)
    _keep(context, query.message.chat_id, draft)
    return await _ask_verdict(query.message, draft)


async def got_claim(update: Update, context: Context) -> int:
    message = update.effective_message
    if message is None:
        return END
    if (draft := _draft(context, message.chat_id)) is None:
        return await _lapsed(update, context)
    if not (text := _post_text(message)):
        await reply_to(message, Reply().add("Send the claim as text, or /cancel."))
        return CLAIM
    draft.claim = text
    if message.forward_origin is not None:  # a forwarded post is also how the rumour spreads
        draft.variants = [text]
    return await _ask_verdict(message, draft)


async def _choice(update: Update, context: Context, pattern: str) -> tuple[str, Message] | None:
    """The pressed button's value and its message, after closing the button's spinner."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return None
    await query.answer()
    found = re.match(pattern, query.data or "")
    return (found.group(1), query.message) if found else None


async def _close(message: Message, answer: str) -> None:
    """Replace a question's buttons with the answer given, so each is pressed once."""
    reply = Reply().add(message.text or "").add("\n\n").add(answer, "b")
    await message.edit_text(reply.html(), reply_markup=None)


async def got_verdict(update: Update, context: Context) -> int:
    choice = await _choice(update, context, VERDICT_BUTTON)
    if choice is None or (draft := _draft(context, choice[1].chat_id)) is None:
        return END
    value, question = choice
    draft.verdict = editing.parse_verdict(value)
    await _close(question, f"Verdict: {verdict_label(draft.verdict.value, 'en')}")
    ask = "Send the summary: what is true, in two or three sentences."
    await reply_to(question, Reply().add(ask))
    return SUMMARY


async def got_summary(update: Update, context: Context) -> int:
    message = update.effective_message
    if message is None:
        return END
    if (draft := _draft(context, message.chat_id)) is None:
        return await _lapsed(update, context)
    draft.summary = (message.text or "").strip()
    ask = "Send the sources, one per line: a link, then its title. /skip if there are none."
    await reply_to(message, Reply().add(ask))
    return SOURCES


async def _ask_lang(message: Message, draft: editing.Draft) -> int:
    guess = detect_language(f"{draft.claim} {draft.summary}")
    langs = [guess, *(lang for lang in LANGS if lang != guess)]
    reply = Reply().add(f"The entry's language? I guess {guess}. Or send a code such as fr.")
    await reply_to(message, reply, _buttons([[(lang, f"new:l:{lang}") for lang in langs]]))
    return LANG


async def got_sources(update: Update, context: Context) -> int:
    message = update.effective_message
    if message is None:
        return END
    if (draft := _draft(context, message.chat_id)) is None:
        return await _lapsed(update, context)
    try:
        sources = [
            editing.parse_source(line) for line in (message.text or "").splitlines() if line.strip()
        ]
    except editing.BadEdit as exc:
        await reply_to(message, Reply().add(f"{exc}. Send the sources again, or /skip."))
        return SOURCES
    draft.sources = sources
    return await _ask_lang(message, draft)


async def skip_sources(update: Update, context: Context) -> int:
    message = update.effective_message
    if message is None:
        return END
    if (draft := _draft(context, message.chat_id)) is None:
        return await _lapsed(update, context)
    draft.sources = []
    return await _ask_lang(message, draft)


async def _preview(message: Message, draft: editing.Draft) -> int:
    try:
        entry = draft.entry("preview")
    except KbError as exc:
        await reply_to(message, Reply().add(f"{exc}. Start again with /new."))
        return END
    reply = Reply().add("This is how the answer will read:", "i").add("\n\n")
    reply.parts.extend(render.rebuttal(entry, entry.lang, limit=3500).parts)
    choices = [(label, f"new:ok:{key}") for key, label in CONFIRM_CHOICES.items()]
    await reply_to(message, reply, _buttons([choices]))
    return CONFIRM


async def got_lang_button(update: Update, context: Context) -> int:
    choice = await _choice(update, context, LANG_BUTTON)
    if choice is None or (draft := _draft(context, choice[1].chat_id)) is None:
        return END
    draft.lang, question = choice
    await _close(question, f"Language: {draft.lang}")
    return await _preview(question, draft)


async def got_lang_text(update: Update, context: Context) -> int:
    message = update.effective_message
    if message is None:
        return END
    if (draft := _draft(context, message.chat_id)) is None:
        return await _lapsed(update, context)
    code = (message.text or "").strip().lower()
    if not LANG_CODE.match(code):
        await reply_to(
            message, Reply().add("Send a two- or three-letter code such as en, or /cancel.")
        )
        return LANG
    draft.lang = code
    return await _preview(message, draft)


async def confirmed(update: Update, context: Context) -> int:
    """Publish or save the draft; a queue item it came from is answered with it."""
    choice = await _choice(update, context, CONFIRM_BUTTON)
    user = update.effective_user
    if choice is None or user is None or (draft := _draft(context, choice[1].chat_id)) is None:
        return END
    value, question = choice
    _forget(context, question.chat_id)
    if value not in ("publish", "draft") or not await allowed(update, context):
        await _close(question, "Cancelled; nothing changed.")
        return END
    who = actor(user)
    kb = context.bot_data.kb
    try:
        async with kb.sessions() as session:
            entry = await editing.create(session, draft, who, publish=value == "publish")
            await session.commit()
    except KbError as exc:
        await _close(question, f"Nothing saved: {exc}. Start again with /new.")
        return END
    if draft.queue_item is not None:
        # As the queue's attach button does: the item's whole group becomes phrasings, and a
        # "not this" becomes a counter-example of the entry that was wrongly offered.
        with contextlib.suppress(review.ClosedItem):  # answered by someone else meanwhile
            await review.attach(kb, draft.queue_item, entry.id, who)
    log.info("user %s created entry %s (%s)", user.id, entry.id, entry.status.value)
    told = await notify_askers(context, entry.id) if value == "publish" else 0
    done = f"Created {entry.id} ({entry.status.value})."
    if told:
        done += f" Told {told} who asked."
    await _close(question, done + f" /show {entry.id}")
    return END


async def cancel(update: Update, context: Context) -> int:
    if (message := update.effective_message) is not None:
        _forget(context, message.chat_id)
        await reply_to(message, Reply().add("Cancelled; nothing changed."))
    return END


def conversation() -> ConversationHandler[Context]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The buttons belong to the moderator's conversation in this chat, not to one message:
        # exactly the per_message=False tracking PTB warns about.
        warnings.filterwarnings(
            "ignore", r"If 'per_message=False', 'CallbackQueryHandler'", PTBUserWarning
        )
        return ConversationHandler(
            entry_points=[
                CommandHandler("new", new_command),
                CallbackQueryHandler(new_from_queue, FROM_QUEUE),
            ],
            states={
                CLAIM: [
                    MessageHandler((filters.TEXT | filters.CAPTION) & ~filters.COMMAND, got_claim)
                ],
                VERDICT: [
                    CallbackQueryHandler(got_verdict, VERDICT_BUTTON),
                    MessageHandler(text, got_claim),
                ],
                SUMMARY: [MessageHandler(text, got_summary)],
                SOURCES: [MessageHandler(text, got_sources), CommandHandler("skip", skip_sources)],
                LANG: [
                    CallbackQueryHandler(got_lang_button, LANG_BUTTON),
                    MessageHandler(text, got_lang_text),
                ],
                CONFIRM: [CallbackQueryHandler(confirmed, CONFIRM_BUTTON)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            allow_reentry=True,
        )


async def stale_button(update: Update, context: Context) -> None:
    """A /new button pressed after its conversation ended: close the spinner, change nothing."""
    if (query := update.callback_query) is not None:
        await query.answer("This question is closed; start again with /new.")


def add_handlers(app: TelegramApp) -> None:
    app.add_handler(conversation())
    app.add_handler(CallbackQueryHandler(stale_button, r"^new:"))
