"""Posts the bot cannot answer wait for moderators, grouped, with everyone who asked."""

from __future__ import annotations

import asyncio

from kb import queue
from kb.queue import Asker
from kb.service import KnowledgeBase

UNKNOWN = "Говорят, в Астане с понедельника закроют все школы на карантин из-за кори"


async def test_identical_posts_from_many_users_count_up_on_one_item(
    seeded_kb: KnowledgeBase,
) -> None:
    for user in ("1", "2", "3"):
        outcome = await seeded_kb.check(UNKNOWN, platform="telegram", chat_id=user, user_id=user)
        assert outcome.result.match is None
    # the same post again, with emoji and a link, from a user who already asked
    await seeded_kb.check(
        "🔥 " + UNKNOWN.upper() + " https://t.me/x/1", platform="telegram", chat_id="2", user_id="2"
    )
    async with seeded_kb.sessions() as session:
        (item,) = await queue.open_items(session)
        askers = await queue.askers(session, item.id or 0)
    assert item.count == 3
    assert [a.user_id for a in askers] == ["1", "2", "3"]
    assert askers[0].lang == "ru"


async def test_the_same_post_queued_at_once_by_several_workers_makes_one_item(
    seeded_kb: KnowledgeBase,
) -> None:
    async def ask(user: str) -> None:
        async with seeded_kb.sessions() as session:
            await queue.enqueue(session, UNKNOWN, Asker("telegram", user, user))
            await session.commit()

    await asyncio.gather(*(ask(str(n)) for n in range(5)))
    async with seeded_kb.sessions() as session:
        items = await queue.open_items(session)
    assert len(items) == 1 and items[0].count == 5


async def test_answered_posts_are_not_queued(seeded_kb: KnowledgeBase) -> None:
    await seeded_kb.check(
        "Казахстан тайно отправляет танки и бронетехнику в Россию, вот видео эшелона на границе",
        platform="telegram",
        chat_id="9",
        user_id="9",
    )
    async with seeded_kb.sessions() as session:
        items = await queue.open_items(session)
    assert all("танки" not in item.text for item in items)
