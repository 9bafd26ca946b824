"""Working through the review queue: similar posts grouped, attached to entries, dismissed.

Identical posts already share one queue item (kb.queue.queue_key). Here near-duplicates and
close paraphrases are grouped too, so moderators answer a rumour once however it was worded.
The grouping is deliberately strict: attaching a group adds every post in it as a phrasing
of the entry, and a wrongly grouped post would teach the matcher a wrong answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import queue, roles, store
from kb.editing import phrasing
from kb.embed import Matrix, text_hash
from kb.errors import KbError, UnknownEntry
from kb.lexical import LexicalIndex
from kb.matcher import Decision
from kb.models import Entry, QueueAsker, QueueItem, Status, Variant, Vector
from kb.service import KnowledgeBase
from kb.text import numbers_in

log = logging.getLogger(__name__)

# e5 puts paraphrases of one rumour at 0.95-0.99, but also "schools close in Astana for
# measles" and "... in Almaty for flu" at 0.955: only near-certain paraphrases are grouped.
GROUP_COSINE = 0.975
GROUP_CHARS = 0.85  # character n-gram cosine of the same post with small edits
REVIEWED = 200  # the most-asked open items that are grouped and listed
RECHECK = 50  # open items re-matched when an entry is published
REMATCHED = "queue_rematched_version"  # Setting: the KB version the queue was last re-matched at
WRONG = ("wrong_match", "declined")  # reasons whose entry_id names an entry that was wrong


class ClosedItem(KbError):
    def __init__(self, item_id: int) -> None:
        super().__init__(f"queue item {item_id} does not exist or is no longer open")
        self.item_id = item_id


@dataclass(frozen=True)
class ReviewItem:
    """One open queue item as moderators see it."""

    id: int
    text: str
    reason: str  # no_match | wrong_match | declined
    entry_id: str | None  # the entry the bot wrongly offered, for wrong_match and declined
    count: int
    senders: tuple[tuple[str, str], ...]  # (platform, user id) of everyone who sent it


@dataclass(frozen=True)
class QueueGroup:
    """Open items about one rumour, most asked first; the first one leads."""

    items: tuple[ReviewItem, ...]

    @property
    def lead(self) -> ReviewItem:
        return self.items[0]

    @property
    def count(self) -> int:
        return sum(i.count for i in self.items)

    @property
    def senders(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys(s for i in self.items for s in i.senders if s[1]))


@dataclass(frozen=True)
class Suggestion:
    """An entry the matcher offers for a queued post."""

    entry_id: str
    claim: str
    score: float


@dataclass(frozen=True)
class Attached:
    entry_id: str
    items: tuple[int, ...]  # the queue items resolved
    variants: int  # new phrasings of the entry
    counter_examples: tuple[str, ...]  # entries now told "a post like this is not you"
    published: bool  # askers hear back only once the entry is published


@dataclass(frozen=True)
class Blocked:
    platform: str
    user_id: str
    newly: bool  # False when the user was blocked already
    dismissed: tuple[int, ...]  # open items only they had sent


async def review_queue(kb: KnowledgeBase, limit: int = REVIEWED) -> list[QueueGroup]:
    """The open queue as groups of similar posts, most asked first."""
    async with kb.sessions() as session:
        items = await _review_items(session, await queue.open_items(session, limit))
    return await _group(kb, items)


async def group_of(kb: KnowledgeBase, item_id: int) -> QueueGroup | None:
    """The open item and the open items grouped with it; None when it is not open."""
    async with kb.sessions() as session:
        item = await queue.get_item(session, item_id)
        if item is None or item.status != "open":
            return None
        rows = await queue.open_items(session, REVIEWED)
        if all(r.id != item_id for r in rows):
            rows.append(item)
        items = await _review_items(session, rows)
    for group in await _group(kb, items):
        if any(i.id == item_id for i in group.items):
            return group
    return None  # pragma: no cover - every item lands in a group


async def suggestions(
    kb: KnowledgeBase, entry_ids: Sequence[str], scores: dict[str, float]
) -> list[Suggestion]:
    """The entries with their claims, in the given order (missing ones left out)."""
    async with kb.sessions() as session:
        rows = (await session.exec(select(Entry).where(col(Entry.id).in_(entry_ids)))).all()
    claims = {e.id: e.claim for e in rows}
    return [Suggestion(e, claims[e], scores.get(e, 0.0)) for e in entry_ids if e in claims]


async def _review_items(session: AsyncSession, rows: Sequence[QueueItem]) -> list[ReviewItem]:
    ids = [r.id for r in rows if r.id is not None]
    senders: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    query = select(QueueAsker).where(col(QueueAsker.item_id).in_(ids)).order_by(col(QueueAsker.id))
    for asker in (await session.exec(query)).all():
        senders[asker.item_id].append((asker.platform, asker.user_id))
    return [
        ReviewItem(r.id, r.text, r.reason, r.entry_id, r.count, tuple(senders[r.id]))
        for r in rows
        if r.id is not None
    ]


async def _group(kb: KnowledgeBase, items: Sequence[ReviewItem]) -> list[QueueGroup]:
    """Greedy: each item joins the first (more asked) group whose lead it repeats."""
    if not items:
        return []
    texts = [phrasing(i.text) for i in items]
    vectors = await _vectors(kb, texts)
    cosine = vectors @ vectors.T
    chars = LexicalIndex(texts)
    numbers = [numbers_in(t) for t in texts]
    groups: list[list[int]] = []
    for index in range(len(items)):
        similar_chars = chars.similarities(texts[index])
        for members in groups:
            lead = members[0]
            # "500 tenge" and "300 tenge" are two rumours however alike the words.
            if numbers[lead] != numbers[index]:
                continue
            if cosine[lead, index] >= GROUP_COSINE or similar_chars[lead] >= GROUP_CHARS:
                members.append(index)
                break
        else:
            groups.append([index])
    return [QueueGroup(tuple(items[i] for i in members)) for members in groups]


async def _vectors(kb: KnowledgeBase, texts: Sequence[str]) -> Matrix:
    """Query vectors of posts, kept in the Vector table so each post is embedded once."""
    model = f"{kb.embedder.name}/query"  # not the KB's passage vectors of the same text
    hashes = [text_hash(t) for t in texts]
    async with kb.sessions() as session:
        query = select(Vector.text_hash, Vector.vector).where(
            Vector.model == model, col(Vector.text_hash).in_(hashes)
        )
        stored = {h: np.frombuffer(v, dtype=np.float16) for h, v in (await session.exec(query))}
    missing = list(dict.fromkeys(t for t, h in zip(texts, hashes, strict=True) if h not in stored))
    if missing:
        fresh = await kb.embed_queries(missing)
        new_hashes = [text_hash(t) for t in missing]
        stored |= dict(zip(new_hashes, fresh.astype(np.float16), strict=True))
        try:
            async with kb.sessions() as session:
                await store.save_vectors(session, model, new_hashes, fresh)
                await session.commit()
        except IntegrityError:  # another worker stored them first: they are the same vectors
            log.debug("queue vectors were stored concurrently")
    return np.stack([stored[h] for h in hashes]).astype(np.float32)


async def attach(kb: KnowledgeBase, item_id: int, entry_id: str, actor: str) -> Attached:
    """Answer the item's group with an entry: its posts become the entry's phrasings.

    A "not this" (or a declined candidate) also becomes a counter-example of the entry that
    was offered, so the matcher stops offering it for such posts.
    """
    group = await group_of(kb, item_id)
    if group is None:
        raise ClosedItem(item_id)
    async with kb.sessions() as session:
        entry = await session.get(Entry, entry_id)
        if entry is None:
            raise UnknownEntry(entry_id)
        resolved: list[int] = []
        variants = 0
        counter: list[str] = []
        known = await _phrasings(session, entry_id, negative=False) | {queue.queue_key(entry.claim)}
        for item in group.items:
            if await queue.resolve(session, item.id, entry_id, actor) is None:
                continue  # closed by someone else meanwhile
            resolved.append(item.id)
            text = phrasing(item.text)
            if queue.queue_key(text) not in known:
                known.add(queue.queue_key(text))
                await store.add_variant(session, entry_id, text, actor)
                variants += 1
            wrong = item.entry_id
            if item.reason in WRONG and wrong and wrong != entry_id:
                if await session.get(Entry, wrong) is None:
                    continue  # the wrong entry was deleted since
                if queue.queue_key(text) not in await _phrasings(session, wrong, negative=True):
                    await store.add_variant(session, wrong, text, actor, negative=True)
                    counter.append(wrong)
        if not resolved:
            raise ClosedItem(item_id)
        await session.commit()
        published = entry.status == Status.PUBLISHED.value
    return Attached(entry_id, tuple(resolved), variants, tuple(dict.fromkeys(counter)), published)


async def _phrasings(session: AsyncSession, entry_id: str, *, negative: bool) -> set[str]:
    query = select(Variant.text).where(
        Variant.entry_id == entry_id, col(Variant.negative).is_(negative)
    )
    return {queue.queue_key(t) for t in (await session.exec(query)).all()}


async def dismiss(kb: KnowledgeBase, item_id: int, actor: str) -> tuple[int, ...]:
    """Close the item's group without an answer; returns the items closed."""
    group = await group_of(kb, item_id)
    if group is None:
        raise ClosedItem(item_id)
    async with kb.sessions() as session:
        closed = [i.id for i in group.items if await queue.dismiss(session, i.id, actor)]
        await session.commit()
    if not closed:
        raise ClosedItem(item_id)
    return tuple(closed)


async def block_sender(kb: KnowledgeBase, item_id: int, actor: str) -> Blocked:
    """Block the one person who sent the item, and dismiss the open items only they sent.

    Raises ClosedItem when the item is closed and BadBlock when several people sent it.
    """
    group = await group_of(kb, item_id)
    if group is None:
        raise ClosedItem(item_id)
    item = next(i for i in group.items if i.id == item_id)
    people = tuple(dict.fromkeys(s for s in item.senders if s[1]))
    if len(people) != 1:
        raise BadBlock(f"queue item {item_id} was sent by {len(people)} people, not one")
    platform, user_id = people[0]
    return await block_user(kb, platform, user_id, actor)


class BadBlock(KbError):
    """The block button of an item several people (or nobody known) sent."""


async def block_user(kb: KnowledgeBase, platform: str, user_id: str, actor: str) -> Blocked:
    """Block a user from the queue and dismiss the open items nobody else sent."""
    async with kb.sessions() as session:
        newly = await roles.block(session, platform, user_id, actor)
        theirs = select(QueueAsker.item_id).where(
            QueueAsker.platform == platform, QueueAsker.user_id == user_id
        )
        others = select(QueueAsker.item_id).where(
            (col(QueueAsker.platform) != platform) | (col(QueueAsker.user_id) != user_id)
        )
        query = select(QueueItem.id).where(
            QueueItem.status == "open",
            col(QueueItem.id).in_(theirs),
            col(QueueItem.id).not_in(others),
        )
        dismissed = []
        for found in (await session.exec(query)).all():
            if found is not None and await queue.dismiss(session, found, actor):
                dismissed.append(found)
        await session.commit()
    return Blocked(platform, user_id, newly, tuple(dismissed))


async def rematch_open(kb: KnowledgeBase, actor: str, limit: int = RECHECK) -> dict[str, list[int]]:
    """Resolve the open items the matcher now answers confidently; {entry id: item ids}.

    Run when entries are published: posts queued before an entry existed may be about it.
    Only the `limit` most-asked items are re-matched, once per version of the KB, so an
    import that publishes a hundred entries re-matches them once, not a hundred times.
    """
    async with kb.sessions() as session:
        version = str(await store.kb_version(session))
        if await store.get_setting(session, REMATCHED) == version:
            return {}
        items = await queue.open_items(session, limit)
    answers: dict[int, str] = {}
    for item in items:
        result = await kb.match(item.text)
        if item.id is None or result.decision is not Decision.ANSWER or result.entry_id is None:
            continue
        if item.reason in WRONG and item.entry_id == result.entry_id:
            continue  # somebody already said this entry is not what they meant
        answers[item.id] = result.entry_id
    resolved: dict[str, list[int]] = {}
    async with kb.sessions() as session:
        for item_id, entry_id in answers.items():
            if await queue.resolve(session, item_id, entry_id, actor):
                resolved.setdefault(entry_id, []).append(item_id)
        await store.set_setting(session, REMATCHED, version)
        await session.commit()
    return resolved
