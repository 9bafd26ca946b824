"""Notify-later: everyone who sent a queued post hears back once it is answered."""

from __future__ import annotations

import logging

from telegram import ReplyParameters
from telegram.error import BadRequest, Forbidden

from handlers.render_review import followup
from handlers.telegram_context import Context
from kb import queue, review, store
from kb.interchange import EntryIn
from kb.models import QueueAsker, Status

log = logging.getLogger(__name__)
REMATCH_ACTOR = "bot:rematch"


async def notify_askers(context: Context, entry_id: str) -> int:
    """Send `entry_id`'s rebuttal, once, to every asker of a queue item it answers.

    Call after an entry is published or a queue item is resolved with it. Does nothing while
    the entry is not published. Open items the matcher now answers confidently are resolved
    first, so people who asked before the entry existed hear back too. Returns how many
    chats were told.
    """
    rematched = await review.rematch_open(context.bot_data.kb, REMATCH_ACTOR)
    told = await tell_askers(context, entry_id)
    for other in rematched.keys() - {entry_id}:  # answered by entries published earlier
        told += await tell_askers(context, other)
    return told


async def tell_askers(context: Context, entry_id: str) -> int:
    """Send the rebuttal to the askers of items already resolved with the entry (no re-match)."""
    async with context.bot_data.kb.sessions() as session:
        entry = await store.get_entry(session, entry_id)
        if entry is None or entry.status != Status.PUBLISHED:
            return 0
        # Marked told and committed before sending: another worker finds nobody left.
        askers = await queue.claim_notices(session, entry_id, "telegram")
        await session.commit()
    told = 0
    for asker in askers:
        told += await _tell(context, asker, entry)
    if askers:
        log.info("told %d of %d askers about entry %s", told, len(askers), entry_id)
    return told


async def _tell(context: Context, asker: QueueAsker, entry: EntryIn) -> bool:
    try:
        chat_id = int(asker.chat_id)
    except ValueError:
        log.warning("queue asker %s has no Telegram chat id", asker.id)
        return False
    replied = int(asker.message_id) if asker.message_id.isdigit() else None
    reply = followup(entry, asker.lang or "en")
    try:
        await context.bot.send_message(
            chat_id,
            reply.html(),
            reply_parameters=(
                ReplyParameters(replied, allow_sending_without_reply=True) if replied else None
            ),
        )
    except Forbidden as exc:  # the asker blocked the bot or left the group
        log.info("cannot tell chat %s about entry %s: %s", chat_id, entry.id, exc.message)
        return False
    except BadRequest as exc:  # e.g. the chat no longer exists
        log.warning("could not tell chat %s about entry %s: %s", chat_id, entry.id, exc.message)
        return False
    return True
