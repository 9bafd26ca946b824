"""How the bot is doing: checks per day, match rate, top rumours, the queue, feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import queue
from kb.feedback import CONFIRMED
from kb.matcher import Decision
from kb.models import Entry, Report, utcnow

ANSWERED = (Decision.ANSWER.value, CONFIRMED)  # Report.decision of a post the bot answered


@dataclass(frozen=True)
class TopRumour:
    entry_id: str
    claim: str
    answers: int


@dataclass(frozen=True)
class Stats:
    days: tuple[tuple[date, int], ...]  # checks per day, oldest first, today last
    checks: int  # over those days
    answered: int  # answered outright, or asked and confirmed
    asked: int  # still waiting for the asker's yes / no, or declined
    top: tuple[TopRumour, ...]
    queue_items: int  # open review-queue items
    queue_posts: int  # the posts they stand for
    helpful: int  # all-time feedback
    not_this: int

    @property
    def match_rate(self) -> float:
        return self.answered / self.checks if self.checks else 0.0


async def collect(
    session: AsyncSession, days: int = 7, top: int = 5, now: datetime | None = None
) -> Stats:
    """The last `days` days (today included, UTC), and the queue and feedback as they are now."""
    today = (now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=(now or utcnow()).tzinfo)
    recent = col(Report.created_at) >= since
    day = func.date(Report.created_at)
    per_day = {
        str(d): int(n)
        for d, n in (
            await session.exec(select(day, func.count()).where(recent).group_by(day))
        ).all()
    }
    by_decision = {
        str(d): int(n)
        for d, n in (
            await session.exec(
                select(Report.decision, func.count()).where(recent).group_by(Report.decision)
            )
        ).all()
    }
    answers = func.count().label("answers")
    rows = (
        await session.exec(
            select(Report.entry_id, Entry.claim, answers)
            .join(Entry, col(Entry.id) == col(Report.entry_id))
            .where(recent, col(Report.decision).in_(ANSWERED))
            .group_by(col(Report.entry_id), col(Entry.claim))
            .order_by(answers.desc(), col(Report.entry_id))
            .limit(top)
        )
    ).all()
    helpful, not_this = (
        await session.exec(
            select(
                func.coalesce(func.sum(Entry.helpful_count), 0),
                func.coalesce(func.sum(Entry.not_this_count), 0),
            )
        )
    ).one()
    items, posts = await queue.open_count(session)
    dates = tuple(first + timedelta(days=i) for i in range(days))
    return Stats(
        days=tuple((d, per_day.get(d.isoformat(), 0)) for d in dates),
        checks=sum(by_decision.values()),
        answered=sum(by_decision.get(d, 0) for d in ANSWERED),
        asked=by_decision.get(Decision.ASK.value, 0),
        top=tuple(TopRumour(str(e), c, int(n)) for e, c, n in rows),
        queue_items=items,
        queue_posts=posts,
        helpful=int(helpful),
        not_this=int(not_this),
    )
