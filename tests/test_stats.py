"""/stats' figures, computed from the reports, the queue and the feedback counters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import queue, stats
from kb.models import Entry, Report
from kb.queue import Asker

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def entry(entry_id: str, helpful: int = 0, not_this: int = 0) -> Entry:
    return Entry(
        id=entry_id,
        claim=f"The claim of {entry_id}",
        summary="Not so.",
        verdict="false",
        lang="en",
        helpful_count=helpful,
        not_this_count=not_this,
    )


def report(days_ago: int, decision: str, entry_id: str | None = None) -> Report:
    return Report(
        platform="telegram",
        text="a post",
        decision=decision,
        entry_id=entry_id,
        created_at=NOW - timedelta(days=days_ago, hours=1),
    )


async def test_stats_count_the_last_seven_days(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        session.add_all([entry("water", helpful=3, not_this=1), entry("convoy", helpful=2)])
        await session.flush()
        session.add_all(
            [
                report(0, "answer", "water"),
                report(0, "answer", "water"),
                report(0, "none"),
                report(1, "confirm", "convoy"),
                report(1, "ask", "convoy"),
                report(6, "answer", "convoy"),
                report(8, "answer", "water"),  # too old to count
            ]
        )
        await queue.enqueue(session, "A post nobody has checked yet", Asker("telegram", "1", "1"))
        await queue.enqueue(session, "A post nobody has checked yet", Asker("telegram", "2", "2"))
        await session.commit()

    async with sessions() as session:
        figures = await stats.collect(session, now=NOW)

    assert figures.days[0] == (date(2026, 11, 20), 1)
    assert figures.days[-2:] == ((date(2026, 11, 25), 2), (date(2026, 11, 26), 3))
    assert len(figures.days) == 7 and sum(n for _, n in figures.days) == figures.checks == 6
    assert (figures.answered, figures.asked) == (4, 1)
    assert figures.match_rate == 4 / 6
    assert [(t.entry_id, t.answers) for t in figures.top] == [("convoy", 2), ("water", 2)]
    assert figures.top[0].claim == "The claim of convoy"
    assert (figures.queue_items, figures.queue_posts) == (1, 2)
    assert (figures.helpful, figures.not_this) == (5, 1)


async def test_stats_of_an_empty_bot(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        figures = await stats.collect(session, now=NOW)
    assert figures.checks == 0 and figures.match_rate == 0.0 and figures.top == ()
    assert (figures.queue_items, figures.helpful, figures.not_this) == (0, 0, 0)
