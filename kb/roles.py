"""Who may change the KB (owners from configuration, moderators from the database), and who is
blocked from filling the review queue. Every change is audited."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.models import BlockedUser, Moderator


@dataclass(frozen=True)
class Roles:
    """Owners come from TELEGRAM_OWNER_IDS and cannot be removed from the chat."""

    owners: frozenset[str]

    @classmethod
    def of(cls, owner_ids: Collection[int | str]) -> Roles:
        return cls(frozenset(str(o) for o in owner_ids))

    def is_owner(self, user_id: int | str) -> bool:
        return str(user_id) in self.owners

    async def is_moderator(self, session: AsyncSession, user_id: int | str) -> bool:
        """Owners moderate too."""
        if self.is_owner(user_id):
            return True
        return await session.get(Moderator, str(user_id)) is not None


async def add_moderator(session: AsyncSession, user_id: int | str, name: str, actor: str) -> bool:
    """Return False when the user already is one; the caller commits."""
    if await session.get(Moderator, str(user_id)) is not None:
        return False
    session.add(Moderator(user_id=str(user_id), name=name, added_by=actor))
    await store.audit(
        session, actor, "mod_add", None, None, {"user_id": str(user_id), "name": name}
    )
    return True


async def remove_moderator(session: AsyncSession, user_id: int | str, actor: str) -> bool:
    """Return False when the user was not a moderator; the caller commits."""
    row = await session.get(Moderator, str(user_id))
    if row is None:
        return False
    await session.delete(row)
    before = {"user_id": row.user_id, "name": row.name}
    await store.audit(session, actor, "mod_remove", None, before, None)
    return True


async def moderators(session: AsyncSession) -> list[Moderator]:
    query = select(Moderator).order_by(col(Moderator.created_at))
    return list((await session.exec(query)).all())


async def _blocked_row(session: AsyncSession, platform: str, user_id: str) -> BlockedUser | None:
    query = select(BlockedUser).where(
        BlockedUser.platform == platform, BlockedUser.user_id == user_id
    )
    return (await session.exec(query)).first()


async def is_blocked(session: AsyncSession, platform: str, user_id: int | str) -> bool:
    """Whether the user may not fill the queue; a post with no known sender never is."""
    if not str(user_id):
        return False
    return await _blocked_row(session, platform, str(user_id)) is not None


async def block(session: AsyncSession, platform: str, user_id: int | str, actor: str) -> bool:
    """Return False when already blocked; the caller commits."""
    if await _blocked_row(session, platform, str(user_id)) is not None:
        return False
    session.add(BlockedUser(platform=platform, user_id=str(user_id), blocked_by=actor))
    after = {"platform": platform, "user_id": str(user_id)}
    await store.audit(session, actor, "block", None, None, after)
    return True


async def unblock(session: AsyncSession, platform: str, user_id: int | str, actor: str) -> bool:
    """Return False when the user was not blocked; the caller commits."""
    row = await _blocked_row(session, platform, str(user_id))
    if row is None:
        return False
    await session.delete(row)
    before = {"platform": platform, "user_id": str(user_id)}
    await store.audit(session, actor, "unblock", None, before, None)
    return True
