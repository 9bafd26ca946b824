"""/new: a moderator writes an entry step by step (claim → verdict → summary → sources →
language → confirm), from scratch, from a post they reply /new to, or from a review-queue item's
"new entry" button. /cancel at any step leaves the KB untouched.

The draft and the step it waits at live in the database (handlers/telegram_mod_conversation.py),
keyed by chat and moderator, so that any worker continues it and a moderator may write in a
private chat and in the moderators' group independently. Text steps reach us through that
module's router (STEPS); buttons and /skip check the step themselves.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from handlers import render
from handlers.i18n import LANGS, verdict_label
from handlers.render import Reply
from handlers.render_entries import short
from handlers.telegram_context import Context, TelegramApp
from handlers.telegram_mod_access import actor, allowed
from handlers.telegram_mod_conversation import Steps, Where, finish, keep, waiting_at, where
from handlers.telegram_notify import claim_askers, tell_askers_after
from handlers.telegram_send import reply_to
from kb import editing, queue, review
from kb.conversations import Conversation
from kb.errors import KbError
from kb.lang import detect_language
from kb.models import Verdict

log = logging.getLogger(__name__)

CLAIM, VERDICT, SUMMARY = "new:claim", "new:verdict", "new:summary"
SOURCES, LANG, CONFIRM = "new:sources", "new:lang", "new:confirm"
FROM_QUEUE = r"^rq:new:(\d+)$"  # the review queue's "new entry" button
VERDICT_BUTTON, LANG_BUTTON, CONFIRM_BUTTON = r"^new:v:(\w+)$", r"^new:l:(\w+)$", r"^new:ok:(\w+)$"
CONFIRM_CHOICES = {"publish": "✅ Publish", "draft": "📝 Save as draft", "cancel": "✖️ Cancel"}
LANG_CODE = re.compile(r"^[a-z]{2,3}$")


async def _keep(context: Context, at: Where, step: str, draft: editing.Draft) -> None:
    await keep(context, at, step, draft.to_json())


def _buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def _ask_verdict(context: Context, at: Where, message: Message, draft: editing.Draft) -> None:
    await _keep(context, at, VERDICT, draft)
    verdicts = [(verdict_label(v.value, "en"), f"new:v:{v.value}") for v in Verdict]
    reply = Reply().add("Claim: ", "b").add(short(draft.claim, 1500))
    reply.add("\n\nChoose the verdict (or send a new text to replace the claim; /cancel to stop).")
    await reply_to(message, reply, _buttons([verdicts[:3], verdicts[3:]]))


def _post_text(message: Message) -> str:
    return editing.phrasing(message.text or message.caption or "")


async def new_command(update: Update, context: Context) -> None:
    """/new, /new CLAIM, or /new replying to a post (its text is the claim and a phrasing)."""
    message, at = update.effective_message, where(update)
    if message is None or at is None or not await allowed(update, context):
        return
    draft = editing.Draft()
    replied = message.reply_to_message
    if replied is not None and (text := _post_text(replied)):
        draft.claim, draft.variants = text, [text]
    elif len(words := (message.text or "").split(maxsplit=1)) == 2:
        draft.claim = words[1].strip()
    if draft.claim:
        await _ask_verdict(context, at, message, draft)
        return
    await _keep(context, at, CLAIM, draft)  # a /new in progress starts over
    await reply_to(
        message, Reply().add("New entry. Send the claim: the rumour in a sentence or two.")
    )


async def new_from_queue(update: Update, context: Context) -> None:
    """The queue's "new entry" button: the queued post is the claim and a first phrasing."""
    query, at = update.callback_query, where(update)
    if query is None or at is None or not isinstance(query.message, Message):
        return
    if not await allowed(update, context):
        return
    found = re.match(FROM_QUEUE, query.data or "")
    item_id = int(found.group(1)) if found else 0
    async with context.bot_data.kb.sessions() as session:
        item = await queue.get_item(session, item_id)
    if item is None or item.status != "open":
        await query.answer("This queue item is already closed.", show_alert=True)
        return
    await query.answer()
    text = editing.phrasing(item.text)
    draft = editing.Draft(claim=text, variants=[text], queue_item=item_id)
    await _ask_verdict(context, at, query.message, draft)


async def got_claim(update: Update, context: Context, conversation: Conversation) -> None:
    message, at = update.effective_message, where(update)
    if message is None or at is None:
        return
    draft = editing.Draft.from_json(conversation.data)
    if not (text := _post_text(message)):
        await reply_to(message, Reply().add("Send the claim as text, or /cancel."))
        return
    draft.claim = text
    if message.forward_origin is not None:  # a forwarded post is also how the rumour spreads
        draft.variants = [text]
    await _ask_verdict(context, at, message, draft)


async def _choice(update: Update, pattern: str) -> tuple[str, Message] | None:
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


@contextlib.asynccontextmanager
async def _pressed(
    update: Update, context: Context, step: str, pattern: str
) -> AsyncIterator[tuple[editing.Draft, Where, str, Message] | None]:
    """A button of the step the draft waits at, holding the chat's turn: the draft, where it
    is written, the button's value and its question. None for a button of an ended step."""
    async with waiting_at(update, context, step) as conversation:
        at = where(update)
        if conversation is None or at is None:
            await stale_button(update, context)
            yield None
            return
        choice = await _choice(update, pattern)
        yield None if choice is None else (editing.Draft.from_json(conversation.data), at, *choice)


async def got_verdict(update: Update, context: Context) -> None:
    async with _pressed(update, context, VERDICT, VERDICT_BUTTON) as pressed:
        if pressed is None:
            return
        draft, at, value, question = pressed
        draft.verdict = editing.parse_verdict(value)
        await _keep(context, at, SUMMARY, draft)
        await _close(question, f"Verdict: {verdict_label(draft.verdict.value, 'en')}")
        ask = "Send the summary: what is true, in two or three sentences."
        await reply_to(question, Reply().add(ask))


async def got_summary(update: Update, context: Context, conversation: Conversation) -> None:
    message, at = update.effective_message, where(update)
    if message is None or at is None:
        return
    draft = editing.Draft.from_json(conversation.data)
    draft.summary = (message.text or "").strip()
    await _keep(context, at, SOURCES, draft)
    ask = "Send the sources, one per line: a link, then its title. /skip if there are none."
    await reply_to(message, Reply().add(ask))


async def _ask_lang(context: Context, at: Where, message: Message, draft: editing.Draft) -> None:
    await _keep(context, at, LANG, draft)
    guess = detect_language(f"{draft.claim} {draft.summary}")
    langs = [guess, *(lang for lang in LANGS if lang != guess)]
    reply = Reply().add(f"The entry's language? I guess {guess}. Or send a code such as fr.")
    await reply_to(message, reply, _buttons([[(lang, f"new:l:{lang}") for lang in langs]]))


async def got_sources(update: Update, context: Context, conversation: Conversation) -> None:
    message, at = update.effective_message, where(update)
    if message is None or at is None:
        return
    draft = editing.Draft.from_json(conversation.data)
    try:
        sources = [
            editing.parse_source(line) for line in (message.text or "").splitlines() if line.strip()
        ]
    except editing.BadEdit as exc:
        await reply_to(message, Reply().add(f"{exc}. Send the sources again, or /skip."))
        return
    draft.sources = sources
    await _ask_lang(context, at, message, draft)


async def skip_sources(update: Update, context: Context) -> None:
    """/skip at the sources step; anywhere else it does nothing."""
    async with waiting_at(update, context, SOURCES) as conversation:
        message, at = update.effective_message, where(update)
        if conversation is None or message is None or at is None:
            return
        draft = editing.Draft.from_json(conversation.data)
        draft.sources = []
        await _ask_lang(context, at, message, draft)


async def _preview(context: Context, at: Where, message: Message, draft: editing.Draft) -> None:
    try:
        entry = draft.entry("preview")
    except KbError as exc:
        await finish(context, at)
        await reply_to(message, Reply().add(f"{exc}. Start again with /new."))
        return
    await _keep(context, at, CONFIRM, draft)
    reply = Reply().add("This is how the answer will read:", "i").add("\n\n")
    reply.parts.extend(render.rebuttal(entry, entry.lang, limit=3500).parts)
    choices = [(label, f"new:ok:{key}") for key, label in CONFIRM_CHOICES.items()]
    await reply_to(message, reply, _buttons([choices]))


async def got_lang_button(update: Update, context: Context) -> None:
    async with _pressed(update, context, LANG, LANG_BUTTON) as pressed:
        if pressed is None:
            return
        draft, at, lang, question = pressed
        draft.lang = lang
        await _close(question, f"Language: {draft.lang}")
        await _preview(context, at, question, draft)


async def got_lang_text(update: Update, context: Context, conversation: Conversation) -> None:
    message, at = update.effective_message, where(update)
    if message is None or at is None:
        return
    draft = editing.Draft.from_json(conversation.data)
    code = (message.text or "").strip().lower()
    if not LANG_CODE.match(code):
        await reply_to(
            message, Reply().add("Send a two- or three-letter code such as en, or /cancel.")
        )
        return
    draft.lang = code
    await _preview(context, at, message, draft)


async def confirmed(update: Update, context: Context) -> None:
    """Publish or save the draft; a queue item it came from is answered with it."""
    async with waiting_at(update, context, CONFIRM) as waiting:
        at, user = where(update), update.effective_user
        # Taken out of the database at once: a second press, here or on another worker, finds
        # nothing and creates no second entry.
        ended = await finish(context, at, CONFIRM) if waiting and at else None
        if ended is None or user is None:
            await stale_button(update, context)
            return
        if (choice := await _choice(update, CONFIRM_BUTTON)) is None:
            return
        value, question = choice
        if value not in ("publish", "draft") or not await allowed(update, context):
            await _close(question, "Cancelled; nothing changed.")
            return
        await _create(update, context, editing.Draft.from_json(ended.data), value, question)


async def _create(
    update: Update, context: Context, draft: editing.Draft, value: str, question: Message
) -> None:
    user = update.effective_user
    if user is None:
        return
    who = actor(user)
    kb = context.bot_data.kb
    try:
        async with kb.sessions() as session:
            entry = await editing.create(session, draft, who, publish=value == "publish")
            await session.commit()
    except KbError as exc:
        await _close(question, f"Nothing saved: {exc}. Start again with /new.")
        return
    if draft.queue_item is not None:
        # As the queue's attach button does: the item's whole group becomes phrasings, and a
        # "not this" becomes a counter-example of the entry that was wrongly offered.
        with contextlib.suppress(review.ClosedItem):  # answered by someone else meanwhile
            await review.attach(kb, draft.queue_item, entry.id, who)
    log.info("user %s created entry %s (%s)", user.id, entry.id, entry.status.value)
    notices = await claim_askers(context, entry.id) if value == "publish" else []
    done = f"Created {entry.id} ({entry.status.value})."
    if notices:
        done += f" Telling {len(notices)} who asked."
    with tell_askers_after(context, notices):
        await _close(question, done + f" /show {entry.id}")


async def stale_button(update: Update, context: Context) -> None:
    """A /new button pressed after its conversation ended: close the spinner, change nothing."""
    if (query := update.callback_query) is not None:
        await query.answer("This question is closed; start again with /new.")


_TEXT = filters.TEXT & ~filters.COMMAND
# Which messages each step takes (through the conversation router), and who handles them.
STEPS: Steps = {
    CLAIM: ((filters.TEXT | filters.CAPTION) & ~filters.COMMAND, got_claim),
    VERDICT: (_TEXT, got_claim),  # a better wording of the claim
    SUMMARY: (_TEXT, got_summary),
    SOURCES: (_TEXT, got_sources),
    LANG: (_TEXT, got_lang_text),
}


def add_handlers(app: TelegramApp) -> None:
    """/new's entry points, buttons and /skip; its text steps are in STEPS."""
    app.add_handler(CommandHandler("new", new_command))
    app.add_handler(CommandHandler("skip", skip_sources))
    app.add_handler(CallbackQueryHandler(new_from_queue, FROM_QUEUE))
    app.add_handler(CallbackQueryHandler(got_verdict, VERDICT_BUTTON))
    app.add_handler(CallbackQueryHandler(got_lang_button, LANG_BUTTON))
    app.add_handler(CallbackQueryHandler(confirmed, CONFIRM_BUTTON))
    app.add_handler(CallbackQueryHandler(stale_button, r"^new:"))
