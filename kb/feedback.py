"""What askers tell the bot about its answers: helpful / not this, and yes / no to a candidate.

Every function takes the id of the report the bot answered and the chat the button was pressed
in; a button from another chat (or a forged one) finds nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import roles, store
from kb.interchange import EntryIn
from kb.models import Entry, Report
from kb.queue import Asker, enqueue

CONFIRMED = "confirm"  # Report.decision once the asker said yes to the candidate (max 8 chars)


@dataclass(frozen=True)
class Feedback:
    entry_id: str
    lang: str  # the language the post was answered in
    helpful: int
    not_this: int


async def _report(session: AsyncSession, report_id: int, chat_id: str) -> Report | None:
    report = await session.get(Report, report_id)
    if report is None or report.chat_id != chat_id or report.entry_id is None:
        return None
    return report


async def _count(session: AsyncSession, entry_id: str, helpful: bool) -> tuple[int, int]:
    column = Entry.helpful_count if helpful else Entry.not_this_count
    # One UPDATE, so presses in several workers at once all count.
    await session.exec(update(Entry).where(col(Entry.id) == entry_id).values({column: column + 1}))
    entry = await session.get(Entry, entry_id, populate_existing=True)
    return (entry.helpful_count, entry.not_this_count) if entry else (0, 0)


async def helpful(
    sessions: async_sessionmaker[AsyncSession], report_id: int, chat_id: str
) -> Feedback | None:
    """Count a "helpful" for the entry the report was answered with."""
    async with sessions() as session:
        report = await _report(session, report_id, chat_id)
        if report is None or report.entry_id is None:
            return None
        counts = await _count(session, report.entry_id, helpful=True)
        await session.commit()
        return Feedback(report.entry_id, report.lang, *counts)


async def not_this(
    sessions: async_sessionmaker[AsyncSession],
    report_id: int,
    chat_id: str,
    user_id: str,
    platform: str = "telegram",
) -> Feedback | None:
    """Count a "not this" and send the post to the moderators as a wrong match."""
    async with sessions() as session:
        report = await _report(session, report_id, chat_id)
        if report is None or report.entry_id is None:
            return None
        counts = await _count(session, report.entry_id, helpful=False)
        # A blocked user's buttons still count; only the moderators' queue ignores them.
        if not await roles.is_blocked(session, platform, user_id):
            asker = Asker(platform, chat_id, user_id, report.message_id, report.lang or "en")
            await enqueue(
                session, report.text, asker, reason="wrong_match", entry_id=report.entry_id
            )
        await session.commit()
        return Feedback(report.entry_id, report.lang, *counts)


async def confirm(
    sessions: async_sessionmaker[AsyncSession], report_id: int, chat_id: str
) -> tuple[EntryIn, str] | None:
    """The asker said yes to the candidate: record the confirmed match, return (entry, lang)."""
    async with sessions() as session:
        report = await _report(session, report_id, chat_id)
        if report is None or report.entry_id is None:
            return None
        entry = await store.get_entry(session, report.entry_id)
        if entry is None:
            return None
        report.decision = CONFIRMED
        session.add(report)
        await session.commit()
        return entry, report.lang


async def decline(
    sessions: async_sessionmaker[AsyncSession],
    report_id: int,
    chat_id: str,
    user_id: str,
    platform: str = "telegram",
) -> str | None:
    """The asker said no to the candidate: queue the post; returns the post's language."""
    async with sessions() as session:
        report = await _report(session, report_id, chat_id)
        if report is None:
            return None
        if not await roles.is_blocked(session, platform, user_id):
            asker = Asker(platform, chat_id, user_id, report.message_id, report.lang or "en")
            await enqueue(session, report.text, asker, reason="declined", entry_id=report.entry_id)
        await session.commit()
        return report.lang


async def queue_unsure(sessions: async_sessionmaker[AsyncSession], text: str, asker: Asker) -> None:
    """Queue a post the bot was unsure about where it may not ask (groups, channels)."""
    async with sessions() as session:
        if await roles.is_blocked(session, asker.platform, asker.user_id):
            return
        await enqueue(session, text, asker)
        await session.commit()
