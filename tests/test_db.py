"""SQLite under a burst: every transaction of one process gets its turn."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.db import BUSY_TIMEOUT

WRITERS = 15
HOLD = 1.2 * BUSY_TIMEOUT / WRITERS  # seconds: together they outlast the last one's wait


async def test_a_burst_of_slow_transactions_all_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Each transaction holds the write lock as a report's does when the event loop is
    # saturated. Waiting in SQLite's busy handler, the last ones gave up ("database is
    # locked") and their posts went unanswered; queued for the connection, all commit.
    async def write(i: int) -> None:
        async with sessions() as session:
            await store.set_setting(session, f"burst-{i}", str(i))
            await session.flush()
            await asyncio.sleep(HOLD)
            await session.commit()

    await asyncio.gather(*(write(i) for i in range(WRITERS)))
    async with sessions() as session:
        stored = [await store.get_setting(session, f"burst-{i}") for i in range(WRITERS)]
    assert stored == [str(i) for i in range(WRITERS)]
