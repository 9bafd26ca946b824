"""Notify-later: everyone who sent a queued post hears back once it is answered.

The askers are claimed while the moderator waits (a few database updates); their messages go
out afterwards, in a background task, because thousands of them take minutes under Telegram's
rate limits and the moderator's own reply must not wait for them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from telegram import Bot, ReplyParameters
from telegram.error import Forbidden, TelegramError

from handlers.render_review import followup
from handlers.telegram_context import Context
from kb import queue, review, store
from kb.interchange import EntryIn
from kb.models import QueueAsker, Status

log = logging.getLogger(__name__)
REMATCH_ACTOR = "bot:rematch"


@dataclass(frozen=True)
class Notice:
    """One asker to tell, and the published entry that answers their post."""

    asker: QueueAsker
    entry: EntryIn


async def claim_askers(context: Context, entry_id: str, *, rematch: bool = True) -> list[Notice]:
    """Claim, once, every asker of a queue item `entry_id` answers; `tell_askers_after` tells them.

    Call after an entry is published or a queue item is resolved with it. Claims nobody while
    the entry is not published. With `rematch`, open items the matcher now answers confidently
    are resolved first, so people who asked before the entry existed hear back too.
    """
    rematched = await review.rematch_open(context.bot_data.kb, REMATCH_ACTOR) if rematch else {}
    notices: list[Notice] = []
    # The rematch may also resolve items with entries published earlier.
    for answering in [entry_id, *sorted(rematched.keys() - {entry_id})]:
        notices += await _claim(context, answering)
    return notices


async def _claim(context: Context, entry_id: str) -> list[Notice]:
    async with context.bot_data.kb.sessions() as session:
        entry = await store.get_entry(session, entry_id)
        if entry is None or entry.status != Status.PUBLISHED:
            return []
        # Marked told and committed before sending: another worker finds nobody left.
        askers = await queue.claim_notices(session, entry_id, "telegram")
        await session.commit()
    return [Notice(asker, entry) for asker in askers]


@contextmanager
def tell_askers_after(context: Context, notices: Sequence[Notice]) -> Iterator[None]:
    """Around the moderator's reply: the askers' messages start once it is sent, or failed.

    They go out in a task the application tracks: its errors reach the error handler, and
    the application waits for it when it stops. They are claimed already, so they are sent
    even when the moderator's reply fails; nobody else would send them.
    """
    try:
        yield
    finally:
        if notices:
            context.application.create_task(tell(context.bot, notices), name="tell askers")


async def tell(bot: Bot, notices: Sequence[Notice]) -> int:
    """Send each asker the rebuttal; how many arrived. A failure is logged, the rest go on."""
    told = 0
    for notice in notices:
        try:
            told += await _tell(bot, notice.asker, notice.entry)
        except Exception:
            # One asker's failure must not keep the others from hearing back.
            log.exception("could not tell queue asker %s", notice.asker.id)
    entries = ", ".join(sorted({n.entry.id for n in notices}))
    log.info("told %d of %d askers about %s", told, len(notices), entries)
    return told


async def _tell(bot: Bot, asker: QueueAsker, entry: EntryIn) -> bool:
    try:
        chat_id = int(asker.chat_id)
    except ValueError:
        log.warning("queue asker %s has no Telegram chat id", asker.id)
        return False
    replied = int(asker.message_id) if asker.message_id.isdigit() else None
    reply = followup(entry, asker.lang or "en")
    try:
        await bot.send_message(
            chat_id,
            reply.html(),
            reply_parameters=(
                ReplyParameters(replied, allow_sending_without_reply=True) if replied else None
            ),
        )
    except Forbidden as exc:  # the asker blocked the bot or left the group
        log.info("cannot tell chat %s about entry %s: %s", chat_id, entry.id, exc.message)
        return False
    except TelegramError as exc:  # e.g. the chat no longer exists, or flood control persisted
        log.warning("could not tell chat %s about entry %s: %s", chat_id, entry.id, exc.message)
        return False
    return True
