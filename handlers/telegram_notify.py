"""Notify-later: everyone who sent a queued post hears back once it is answered.

STUB, to be filled in by the review-queue work (issue 4).
"""

from __future__ import annotations

from handlers.telegram_context import Context


async def notify_askers(context: Context, entry_id: str) -> int:
    """Send `entry_id`'s rebuttal, once, to every asker of a queue item it answers.

    Call after an entry is published or a queue item is resolved with it. Does nothing while
    the entry is not published. Returns how many chats were told.
    """
    return 0
