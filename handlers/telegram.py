"""Private chat: posts people send or forward to the bot, and the commands that explain it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from telegram import Message, Update

from handlers import render_telegram
from handlers.i18n import message as ui_message
from handlers.render import Reply
from handlers.render_telegram import Checked
from handlers.telegram_context import Context
from handlers.telegram_posts import Post, merge_albums, read_post, user_language
from handlers.telegram_send import admit, reply_to
from kb import store
from kb.matcher import Decision
from kb.models import Status


async def start_command(update: Update, context: Context) -> None:
    await help_command(update, context)


async def help_command(update: Update, context: Context) -> None:
    if (message := update.effective_message) is None:
        return
    lang = user_language(update.effective_user) or "en"
    await reply_to(message, render_telegram.help_text(lang, context.bot.username))


async def about_command(update: Update, context: Context) -> None:
    if (message := update.effective_message) is None:
        return
    async with context.bot_data.kb.sessions() as session:
        published = (await store.count_entries(session)).get(Status.PUBLISHED.value, 0)
        updated = await store.last_update(session)
    lang = user_language(update.effective_user) or "en"
    await reply_to(message, render_telegram.about(lang, published, updated))


async def private_post(update: Update, context: Context) -> None:
    """A text, caption, photo, video or forward in a private chat: check it and answer."""
    if (message := update.effective_message) is None:
        return
    post = read_post(message)
    # The photos of an album after the first carry no caption: one album costs one post.
    if (post.album is None or post.text) and not await admit(message, message.from_user, context):
        return
    if post.forwarded or post.album:
        # Forwards and albums come in bursts: wait briefly and answer them all at once.
        context.bot_data.batches.add(
            message.chat_id,
            (message, post),
            lambda items: answer_posts(context, items),
            context.application.create_task,
        )
        return
    await answer_posts(context, [(message, post)])


async def answer_posts(context: Context, items: Sequence[tuple[Message, Post]]) -> None:
    """Check every post and answer in one reply to the first message."""
    # Updates are handled concurrently, so they may join the batch out of order.
    items = sorted(items, key=lambda item: item[0].message_id)
    first = items[0][0]
    posts = [p for p in merge_albums([post for _, post in items]) if p.worth_checking]
    fallback = user_language(first.from_user) or "en"
    if not posts:
        await reply_to(first, Reply().add(ui_message("empty", fallback)))
        return
    kb = context.bot_data.kb
    checked = []
    for post in posts:
        outcome = await kb.check(
            post.text,
            urls=post.match_urls,
            media=post.media,
            lang_hint=post.lang_hint,
            platform="telegram",
            chat_id=str(post.chat_id),
            message_id=str(post.message_id),
            user_id=str(post.user_id or ""),
            url=post.url,
            # A caption-less photo that matches nothing gives moderators nothing to read.
            queue_unanswered=bool(post.text.strip()),
        )
        checked.append(Checked(outcome, post.origin))
    lang = Counter(c.outcome.lang for c in checked).most_common(1)[0][0]
    nothing = checked[0].outcome.result.decision is Decision.NONE
    if len(checked) == 1 and nothing and not posts[0].text.strip():
        await reply_to(first, render_telegram.notice("no_text", lang))
        return
    answer = render_telegram.answer(checked, lang)
    await reply_to(first, answer.reply, answer.markup)
