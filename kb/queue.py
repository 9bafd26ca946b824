"""The moderators' review queue: posts the bot could not answer, grouped, with their askers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.embed import text_hash
from kb.models import Entry, QueueAsker, QueueItem, Status, utcnow
from kb.text import clean_post


@dataclass(frozen=True)
class Asker:
    platform: str
    chat_id: str
    user_id: str = ""
    message_id: str = ""
    lang: str = "en"


def queue_key(text: str) -> str:
    """Posts that differ only in emoji, links, case or footers share a key."""
    return text_hash(" ".join(clean_post(text).words) or text.strip())


async def enqueue(
    session: AsyncSession,
    text: str,
    asker: Asker | None,
    *,
    reason: str = "no_match",
    entry_id: str | None = None,
) -> QueueItem:
    """Add a post to the open queue, or count it up on the item it repeats; the caller commits."""
    key = queue_key(text)
    for _ in range(3):  # several workers may queue the same post at once
        item = (
            await session.exec(
                select(QueueItem).where(
                    QueueItem.text_key == key,
                    QueueItem.reason == reason,
                    QueueItem.status == "open",
                )
            )
        ).first()
        try:
            async with session.begin_nested():
                if item is None:  # a new item starts at count 1
                    item = QueueItem(text=text, text_key=key, reason=reason, entry_id=entry_id)
                    session.add(item)
                    await session.flush()
                elif asker is not None and await _has_asker(session, item, asker):
                    return item  # the same person asking again does not count up
                else:
                    item.count += 1
                if asker is not None and item.id is not None:
                    session.add(
                        QueueAsker(
                            item_id=item.id,
                            platform=asker.platform,
                            chat_id=asker.chat_id,
                            user_id=asker.user_id,
                            message_id=asker.message_id,
                            lang=asker.lang,
                        )
                    )
                item.updated_at = utcnow()
                session.add(item)
                await session.flush()
            return item
        except IntegrityError:
            continue
    raise RuntimeError("could not queue the post after three attempts")


async def _has_asker(session: AsyncSession, item: QueueItem, asker: Asker) -> bool:
    found = (
        await session.exec(
            select(QueueAsker.id).where(
                QueueAsker.item_id == item.id,
                QueueAsker.platform == asker.platform,
                QueueAsker.chat_id == asker.chat_id,
                QueueAsker.user_id == asker.user_id,
            )
        )
    ).first()
    return found is not None


async def open_items(session: AsyncSession, limit: int = 20) -> list[QueueItem]:
    """Most-asked first."""
    query = (
        select(QueueItem)
        .where(QueueItem.status == "open")
        .order_by(col(QueueItem.count).desc(), col(QueueItem.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def askers(session: AsyncSession, item_id: int) -> list[QueueAsker]:
    query = select(QueueAsker).where(QueueAsker.item_id == item_id).order_by(col(QueueAsker.id))
    return list((await session.exec(query)).all())


async def get_item(session: AsyncSession, item_id: int) -> QueueItem | None:
    return await session.get(QueueItem, item_id)


async def resolve(
    session: AsyncSession, item_id: int, entry_id: str, actor: str
) -> QueueItem | None:
    """Mark an open item answered by `entry_id`; its askers are told once the entry is published.

    Returns None when the item does not exist or was already closed; the caller commits.
    """
    return await _close(session, item_id, "resolved", entry_id, actor)


async def dismiss(session: AsyncSession, item_id: int, actor: str) -> QueueItem | None:
    """Close an open item without an answer; None when it was already closed. The caller commits."""
    return await _close(session, item_id, "dismissed", None, actor)


async def _close(
    session: AsyncSession, item_id: int, status: str, entry_id: str | None, actor: str
) -> QueueItem | None:
    # One conditional UPDATE: of two moderators closing the same item at once, one wins.
    closed = await session.exec(
        update(QueueItem)
        .where(col(QueueItem.id) == item_id, col(QueueItem.status) == "open")
        .values(status=status, resolved_entry_id=entry_id, updated_at=utcnow())
    )
    if closed.rowcount != 1:
        return None
    item = await session.get(QueueItem, item_id, populate_existing=True)
    if item is None:
        return None
    action = "queue_resolve" if status == "resolved" else "queue_dismiss"
    after = {"item": item_id, "status": status, "text": item.text[:200]}
    await store.audit(session, actor, action, entry_id, {"status": "open"}, after)
    return item


async def open_count(session: AsyncSession) -> tuple[int, int]:
    """(open items, posts they stand for)."""
    query = select(func.count(), func.coalesce(func.sum(QueueItem.count), 0)).where(
        QueueItem.status == "open"
    )
    items, posts = (await session.exec(query)).one()
    return int(items), int(posts)


async def claim_notices(session: AsyncSession, entry_id: str, platform: str) -> list[QueueAsker]:
    """Askers of items answered by `entry_id` who were not told yet, marked told; commit first.

    Each asker is marked with a conditional UPDATE before anyone writes to them, so two
    workers publishing at once tell each asker once: a failed send is not retried.
    """
    answered = select(QueueItem.id).where(
        QueueItem.status == "resolved", QueueItem.resolved_entry_id == entry_id
    )
    query = (
        select(QueueAsker)
        .where(
            col(QueueAsker.item_id).in_(answered),
            QueueAsker.platform == platform,
            col(QueueAsker.notified).is_(False),
        )
        .order_by(col(QueueAsker.id))
    )
    claimed: list[QueueAsker] = []
    told: set[tuple[str, str]] = set()
    for asker in (await session.exec(query)).all():
        marked = await session.exec(
            update(QueueAsker)
            .where(col(QueueAsker.id) == asker.id, col(QueueAsker.notified).is_(False))
            .values(notified=True)
        )
        # One message per chat, even when the user sent several posts that were grouped.
        if marked.rowcount == 1 and (asker.chat_id, asker.user_id) not in told:
            told.add((asker.chat_id, asker.user_id))
            claimed.append(asker)
    return claimed


async def entries_awaiting_notice(session: AsyncSession, platform: str) -> list[str]:
    """Published entries that answered queue items whose askers on `platform` were not told."""
    waiting = select(QueueAsker.item_id).where(
        QueueAsker.platform == platform, col(QueueAsker.notified).is_(False)
    )
    query = (
        select(QueueItem.resolved_entry_id)
        .join(Entry, col(Entry.id) == col(QueueItem.resolved_entry_id))
        .where(
            QueueItem.status == "resolved",
            Entry.status == Status.PUBLISHED.value,
            col(QueueItem.id).in_(waiting),
        )
        .distinct()
    )
    return [e for e in (await session.exec(query)).all() if e is not None]
