"""The moderators' review queue: posts the bot could not answer, grouped, with their askers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.embed import text_hash
from kb.models import QueueAsker, QueueItem, utcnow
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
    item = await session.get(QueueItem, item_id)
    if item is None or item.status != "open":
        return None
    item.status, item.resolved_entry_id, item.updated_at = "resolved", entry_id, utcnow()
    session.add(item)
    after = {"item": item_id, "status": "resolved", "text": item.text[:200]}
    await store.audit(session, actor, "queue_resolve", entry_id, {"status": "open"}, after)
    return item
