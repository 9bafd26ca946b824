"""What the X worker remembers between polls and restarts, kept in the database.

Small key/value rows (the `Setting` table) so that no schema migration is needed: the newest
mention handled (`x:since_id`) and the authors who opted out (`x:optout:<author id>`).
Answered mentions and asks per author are read from the reports the KB records anyway.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.models import utcnow

PLATFORM = "x"
SINCE_ID = "x:since_id"
OPTOUT = "x:optout:"


class XState:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def since_id(self) -> str | None:
        async with self._sessions() as session:
            return await store.get_setting(session, SINCE_ID)

    async def handled(self, mention_id: str) -> None:
        """Move `since_id` forward to a mention; never back (ids grow with time on X)."""
        async with self._sessions() as session:
            current = await store.get_setting(session, SINCE_ID)
            if current is None or int(mention_id) > int(current):
                await store.set_setting(session, SINCE_ID, mention_id)
                await session.commit()

    async def opted_out(self, author_id: str) -> bool:
        async with self._sessions() as session:
            return await store.get_setting(session, OPTOUT + author_id) is not None

    async def opt_out(self, author_id: str) -> None:
        async with self._sessions() as session:
            stamp = utcnow().isoformat(timespec="seconds")
            await store.set_setting(session, OPTOUT + author_id, stamp)
            await session.commit()

    async def answered(self, mention_id: str) -> bool:
        """Whether the mention was checked already (a crash may have kept `since_id` behind)."""
        async with self._sessions() as session:
            return await store.has_report(session, PLATFORM, mention_id)

    async def asks_within(self, author_id: str, window: timedelta) -> int:
        async with self._sessions() as session:
            return await store.count_reports_since(session, PLATFORM, author_id, utcnow() - window)
