"""Working through the review queue without Telegram: grouping, attach, dismiss, block, notices."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from kb import feedback, queue, review, roles
from kb.errors import UnknownEntry
from kb.interchange import EntryIn
from kb.matcher import Decision
from kb.models import AuditLog, QueueAsker, Report, Variant, Vector
from kb.queue import Asker
from kb.review import ClosedItem
from kb.service import KnowledgeBase

SCHOOLS = "Говорят, в Астане с понедельника закроют все школы на карантин из-за кори"
SCHOOLS_AGAIN = "Говорят что в Астане с понедельника закроют все школы на карантин из-за кори!"
CARDS = "Банки Казахстана заблокируют все карты в пятницу"
CARDS_REWORDED = "В пятницу все банковские карты в Казахстане заблокируют"
PETROL = "Бензин подорожает до 500 тенге за литр с первого числа"
PETROL_OTHER = "Бензин подорожает до 600 тенге за литр с первого числа"
CONVOY = "kz-convoy-exercises"
SANCTIONS = "kz-sanctions-government"
# The matcher answers this with the convoy entry; in these tests its sender meant another one.
TRAINS = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)


async def ask(kb: KnowledgeBase, text: str, *users: str, **kwargs: str) -> int:
    """Queue `text` as sent by each user (in their private chat); returns the item id."""
    item_id = 0
    for user in users:
        async with kb.sessions() as session:
            item = await queue.enqueue(session, text, Asker("telegram", user, user, "7"), **kwargs)
            await session.commit()
            item_id = item.id or 0
    return item_id


async def test_near_duplicates_and_paraphrases_are_grouped_most_asked_first(
    seeded_kb: KnowledgeBase,
) -> None:
    schools = await ask(seeded_kb, SCHOOLS, "1", "2", "3")
    schools_again = await ask(seeded_kb, SCHOOLS_AGAIN, "4")
    cards = await ask(seeded_kb, CARDS, "5", "6")
    cards_reworded = await ask(seeded_kb, CARDS_REWORDED, "7")
    petrol = await ask(seeded_kb, PETROL, "8")
    petrol_other = await ask(seeded_kb, PETROL_OTHER, "9")

    groups = await review.review_queue(seeded_kb)

    assert [[i.id for i in g.items] for g in groups] == [
        [schools, schools_again],
        [cards, cards_reworded],
        [petrol],
        [petrol_other],  # another price is another rumour, however alike the words
    ]
    assert groups[0].count == 4
    assert groups[0].senders == tuple(("telegram", u) for u in "1234")
    group = await review.group_of(seeded_kb, cards_reworded)
    assert group is not None and group.lead.id == cards


async def test_grouping_embeds_each_post_once(seeded_kb: KnowledgeBase) -> None:
    await ask(seeded_kb, CARDS, "1")
    await review.review_queue(seeded_kb)
    async with seeded_kb.sessions() as session:
        before = await session.exec(select(Vector))
        stored = len(before.all())
    await review.review_queue(seeded_kb)
    async with seeded_kb.sessions() as session:
        after = await session.exec(select(Vector))
        assert len(after.all()) == stored


async def test_attach_makes_the_group_phrasings_of_the_entry(seeded_kb: KnowledgeBase) -> None:
    cards = await ask(seeded_kb, CARDS, "1", "2")
    reworded = await ask(seeded_kb, CARDS_REWORDED, "3")
    assert (await seeded_kb.match(CARDS)).decision is Decision.NONE

    result = await review.attach(seeded_kb, reworded, SANCTIONS, "telegram:99")

    assert set(result.items) == {cards, reworded}
    assert (result.variants, result.counter_examples, result.published) == (2, (), True)
    async with seeded_kb.sessions() as session:
        assert await queue.open_items(session) == []
        item = await queue.get_item(session, cards)
        assert item is not None and (item.status, item.resolved_entry_id) == ("resolved", SANCTIONS)
        actions = [a.action for a in (await session.exec(select(AuditLog))).all()]
    assert actions.count("variant") == 2 and actions.count("queue_resolve") == 2
    matched = await seeded_kb.match(CARDS)
    assert (matched.decision, matched.entry_id) == (Decision.ANSWER, SANCTIONS)


async def test_attaching_a_not_this_stops_the_wrong_match(seeded_kb: KnowledgeBase) -> None:
    wrong = await seeded_kb.match(TRAINS)
    assert (wrong.decision, wrong.entry_id) == (Decision.ANSWER, CONVOY)
    item = await ask(seeded_kb, TRAINS, "1", reason="wrong_match", entry_id=CONVOY)

    result = await review.attach(seeded_kb, item, SANCTIONS, "telegram:99")

    assert result.counter_examples == (CONVOY,)
    async with seeded_kb.sessions() as session:
        negative = (await session.exec(select(Variant).where(col(Variant.negative)))).all()
    assert [(v.entry_id, v.text) for v in negative] == [(CONVOY, TRAINS)]
    now = await seeded_kb.match(TRAINS)
    assert CONVOY not in [c.entry_id for c in now.candidates]
    assert (now.decision, now.entry_id) == (Decision.ANSWER, SANCTIONS)


async def test_attach_to_an_unknown_entry_or_a_closed_item_changes_nothing(
    seeded_kb: KnowledgeBase,
) -> None:
    item = await ask(seeded_kb, CARDS, "1")
    with pytest.raises(UnknownEntry):
        await review.attach(seeded_kb, item, "no-such-entry", "telegram:99")
    with pytest.raises(ClosedItem):
        await review.attach(seeded_kb, item + 1000, SANCTIONS, "telegram:99")
    assert await review.dismiss(seeded_kb, item, "telegram:99") == (item,)
    with pytest.raises(ClosedItem):
        await review.attach(seeded_kb, item, SANCTIONS, "telegram:99")
    async with seeded_kb.sessions() as session:
        variants = (await session.exec(select(Variant).where(Variant.text == CARDS))).all()
        dismissed = await queue.get_item(session, item)
    assert variants == []
    assert dismissed is not None and dismissed.status == "dismissed"


async def test_two_moderators_attaching_at_once_resolve_the_item_once(
    seeded_kb: KnowledgeBase,
) -> None:
    item = await ask(seeded_kb, CARDS, "1")
    outcomes = await asyncio.gather(
        review.attach(seeded_kb, item, SANCTIONS, "telegram:98"),
        review.attach(seeded_kb, item, SANCTIONS, "telegram:99"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Attached", "ClosedItem"]
    async with seeded_kb.sessions() as session:
        variants = (await session.exec(select(Variant).where(Variant.text == CARDS))).all()
    assert len(variants) == 1


async def test_askers_are_claimed_once_even_by_two_workers_at_once(
    seeded_kb: KnowledgeBase,
) -> None:
    item = await ask(seeded_kb, CARDS, "1", "2", "3")
    await review.attach(seeded_kb, item, SANCTIONS, "telegram:99")

    async def claim() -> list[str]:
        async with seeded_kb.sessions() as session:
            askers = await queue.claim_notices(session, SANCTIONS, "telegram")
            await session.commit()
        return [a.user_id for a in askers]

    first, second = await asyncio.gather(claim(), claim())
    assert sorted(first + second) == ["1", "2", "3"]
    assert await claim() == []


async def test_blocking_a_sender_dismisses_the_items_only_they_sent(
    seeded_kb: KnowledgeBase,
) -> None:
    spam = await ask(seeded_kb, PETROL, "666")
    shared = await ask(seeded_kb, CARDS, "666", "1")

    result = await review.block_sender(seeded_kb, spam, "telegram:99")

    assert (result.user_id, result.newly, result.dismissed) == ("666", True, (spam,))
    with pytest.raises(review.BadBlock):
        await review.block_sender(seeded_kb, shared, "telegram:99")
    async with seeded_kb.sessions() as session:
        assert [i.id for i in await queue.open_items(session)] == [shared]
        assert await roles.is_blocked(session, "telegram", "666")
    # Still answered from the KB, never queued again.
    await seeded_kb.check(SCHOOLS, platform="telegram", chat_id="666", user_id="666")
    async with seeded_kb.sessions() as session:
        assert [i.id for i in await queue.open_items(session)] == [shared]


async def test_blocked_users_feedback_is_not_queued(seeded_kb: KnowledgeBase) -> None:
    async with seeded_kb.sessions() as session:
        await roles.block(session, "telegram", "666", "telegram:99")
        report = Report(
            platform="telegram", chat_id="666", text=TRAINS, decision="answer", entry_id=CONVOY
        )
        session.add(report)
        await session.commit()
    assert report.id is not None
    sessions = seeded_kb.sessions
    assert await feedback.not_this(sessions, report.id, "666", "666") is not None
    assert await feedback.decline(sessions, report.id, "666", "666") is not None
    await feedback.queue_unsure(sessions, SCHOOLS, Asker("telegram", "-100", "666"))
    async with seeded_kb.sessions() as session:
        assert await queue.open_items(session) == []
        assert (await session.exec(select(QueueAsker))).all() == []


async def test_the_same_post_checked_by_several_users_at_once_makes_one_item(
    seeded_kb: KnowledgeBase,
) -> None:
    await asyncio.gather(
        *(
            seeded_kb.check(SCHOOLS, platform="telegram", chat_id=str(u), user_id=str(u))
            for u in range(6)
        )
    )
    groups = await review.review_queue(seeded_kb)
    assert len(groups) == 1 and len(groups[0].items) == 1 and groups[0].count == 6


async def test_publishing_an_entry_resolves_the_open_posts_it_answers(
    seeded_kb: KnowledgeBase,
) -> None:
    item = await ask(seeded_kb, CARDS, "1")
    other = await ask(seeded_kb, PETROL, "2")
    entry = EntryIn.model_validate(
        {
            "id": "kz-cards-blocked",
            "claim": "Kazakhstan's banks will block every bank card on Friday.",
            "variants": [CARDS_REWORDED, "Все банковские карты в Казахстане заблокируют"],
            "verdict": "false",
            "summary": "The National Bank said no cards will be blocked.",
            "lang": "en",
        }
    )
    await seeded_kb.import_entries([entry], actor="test")

    assert await review.rematch_open(seeded_kb, "bot") == {"kz-cards-blocked": [item]}
    async with seeded_kb.sessions() as session:
        assert [i.id for i in await queue.open_items(session)] == [other]
    assert await review.rematch_open(seeded_kb, "bot") == {}  # once per version of the KB
