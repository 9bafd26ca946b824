"""Groups and channel discussion groups: mentions, /check, and auto-replies where enabled."""

from __future__ import annotations

import dataclasses
import time

from telegram import Message, Update, User
from telegram.constants import ChatType
from telegram.ext import filters

from handlers import render_telegram
from handlers.render_telegram import Checked
from handlers.telegram import answer_posts
from handlers.telegram_context import Context
from handlers.telegram_posts import mentions, read_post, user_language
from handlers.telegram_send import admit, reply_to, send_in_reply
from kb import chats, feedback
from kb.matcher import Decision
from kb.models import Report
from kb.queue import Asker


class _MentionsBot(filters.MessageFilter):
    """Messages that @-mention this bot (its username is known only after getMe)."""

    def filter(self, message: Message) -> bool:
        return mentions(message, message.get_bot().username)


MENTIONS_BOT = _MentionsBot(name="MentionsBot")


async def group_mention(update: Update, context: Context) -> None:
    """The bot @-mentioned in a group: check the message replied to, or the mention's words."""
    if (message := update.effective_message) is None:
        return
    replied = message.reply_to_message
    if replied is not None and replied.from_user and replied.from_user.id == context.bot.id:
        # "@bot thanks" under our own answer: that answer is not a post to check.
        if not read_post(message, bot_username=context.bot.username).worth_checking:
            return
        replied = None
    await answer_request(context, message, replied or message)


async def check_command(update: Update, context: Context) -> None:
    """/check in reply to a message checks that message; /check TEXT checks the text."""
    if (message := update.effective_message) is None:
        return
    target = message.reply_to_message
    if target is None and not context.args:
        lang = user_language(message.from_user) or "en"
        await reply_to(message, render_telegram.notice("check_usage", lang))
        return
    if message.chat.type == ChatType.PRIVATE:
        post = read_post(target or message, bot_username=context.bot.username)
        if await admit(message, message.from_user, context):
            await answer_posts(context, [(message, post)])
        return
    await answer_request(context, message, target or message)


async def answer_request(context: Context, asking: Message, target: Message) -> None:
    """Someone in a group asked about `target`: answer a confident match under it.

    In groups the bot never asks "is this the claim you mean?": an unsure match is queued for
    the moderators like no match, and the asker hears so.
    """
    services, user = context.bot_data, asking.from_user
    if not await admit(asking, user, context):
        return
    if (earlier := services.answered.get(target.chat_id, target.message_id)) is not None:
        lang = user_language(user) or "en"
        thread = target.message_thread_id if target.is_topic_message else None
        notice = render_telegram.notice("already", lang)
        await send_in_reply(context, target.chat_id, earlier, notice, thread)
        return
    own_words = target is asking
    post = read_post(target, bot_username=context.bot.username if own_words else "", asker=user)
    if not post.worth_checking:
        await reply_to(asking, render_telegram.notice("check_usage", post.lang_hint or "en"))
        return
    outcome = await services.kb.check(
        post.text,
        urls=post.match_urls,
        media=post.media,
        lang_hint=post.lang_hint,
        platform="telegram",
        chat_id=str(asking.chat_id),
        message_id=str(asking.message_id),  # moderators' answer later goes to the asker
        user_id=str(post.user_id or ""),
        url=post.url,
    )
    decision = outcome.result.decision
    if decision is Decision.ASK:
        asker = Asker(
            "telegram",
            str(asking.chat_id),
            str(post.user_id or ""),
            str(asking.message_id),
            outcome.lang,
        )
        await feedback.queue_unsure(services.kb.sessions, post.text, asker)
    answer = render_telegram.answer([Checked(outcome, post.origin)], outcome.lang, may_ask=False)
    if decision is not Decision.ANSWER:
        await reply_to(asking, answer.reply)
        return
    if (sent := await reply_to(target, answer.reply, answer.markup)) is not None:
        services.answered.add(target.chat_id, target.message_id, sent.message_id)


async def group_chatter(update: Update, context: Context) -> None:
    """Any other group message: answered only where auto-reply is on, and only when sure."""
    message = update.effective_message
    if message is None or (message.from_user and message.from_user.is_bot):
        return
    services = context.bot_data
    kb, tuning = services.kb, services.tuning
    settings = await chats.load(kb.sessions, message.chat_id)
    if not settings.autoreply or services.answered.get(message.chat_id, message.message_id):
        return
    post = read_post(message)
    if not post.worth_checking:
        return
    # Not recorded and not queued: most group messages are conversation, not questions.
    outcome = await kb.check(
        post.text,
        urls=post.match_urls,
        media=post.media,
        lang_hint=post.lang_hint,
        platform="telegram",
        record=False,
        queue_unanswered=False,
    )
    result, entry = outcome.result, outcome.entry
    threshold = settings.threshold or tuning.autoreply_threshold
    if result.decision is not Decision.ANSWER or entry is None:
        return
    if (result.confidence or 0.0) < threshold:
        return
    report = Report(
        platform="telegram",
        chat_id=str(message.chat_id),
        message_id=str(message.message_id),
        user_id=str(post.user_id or ""),
        url=post.url,
        text=post.text,
        lang=outcome.lang,
        decision=result.decision.value,
        entry_id=entry.id,
        score=result.confidence,
    )
    async with services.chat_locks(message.chat_id):  # one claim per chat at a time
        report_id = await chats.claim_auto_reply(
            kb.sessions, report, now=time.time(), cooldown=tuning.autoreply_cooldown
        )
        if report_id is None:
            return
        # No "forwarded from" line: under a channel's own post it would only repeat the channel.
        checked = Checked(dataclasses.replace(outcome, report_id=report_id))
        answer = render_telegram.answer([checked], outcome.lang, may_ask=False)
        sent = await reply_to(message, answer.reply, answer.markup)
    if sent is not None:
        services.answered.add(message.chat_id, message.message_id, sent.message_id)


async def _is_admin(context: Context, message: Message, user: User | None) -> bool:
    if message.sender_chat is not None and message.sender_chat.id == message.chat_id:
        return True  # an anonymous admin posting as the group
    if user is None:
        return False
    if context.bot_data.roles.is_owner(user.id):
        return True
    member = await context.bot.get_chat_member(message.chat_id, user.id)
    return member.status in ("administrator", "creator")


async def autoreply_command(update: Update, context: Context) -> None:
    """/autoreply [on|off|threshold X]: admins switch the group's automatic answers."""
    if (message := update.effective_message) is None:
        return
    user, kb, tuning = message.from_user, context.bot_data.kb, context.bot_data.tuning
    lang = user_language(user) or "en"
    if message.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await reply_to(message, render_telegram.notice("groups_only", lang))
        return
    args = [a.lower() for a in context.args or []]
    if not args:
        settings = await chats.load(kb.sessions, message.chat_id)
        await reply_to(
            message, render_telegram.autoreply_status(settings, tuning.autoreply_threshold, lang)
        )
        return
    if not await _is_admin(context, message, user):
        await reply_to(message, render_telegram.notice("admins_only", lang))
        return
    if args in (["on"], ["off"]):
        await chats.set_autoreply(kb.sessions, message.chat_id, args[0] == "on")
        minutes = round(tuning.autoreply_cooldown / 60)
        key = "autoreply_on" if args[0] == "on" else "autoreply_off"
        await reply_to(message, render_telegram.notice(key, lang, minutes=minutes))
        return
    if len(args) == 2 and args[0] == "threshold":
        try:
            settings = await chats.set_threshold(
                kb.sessions, message.chat_id, float(args[1].replace(",", "."))
            )
        except ValueError:
            pass
        else:
            notice = render_telegram.notice(
                "autoreply_threshold", lang, threshold=settings.threshold
            )
            await reply_to(message, notice)
            return
    await reply_to(message, render_telegram.notice("autoreply_usage", lang))


async def membership_changed(update: Update, context: Context) -> None:
    """Removed from a chat: switch its auto-reply off, so re-adding the bot starts quiet."""
    change = update.my_chat_member
    if change is None or change.new_chat_member.status not in ("left", "kicked"):
        return
    sessions = context.bot_data.kb.sessions
    if (await chats.load(sessions, change.chat.id)).autoreply:
        await chats.set_autoreply(sessions, change.chat.id, False)
