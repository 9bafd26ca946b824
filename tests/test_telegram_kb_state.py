"""What the Telegram bot keeps in the KB's database: chat settings, cooldowns and feedback."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import chats, feedback, store
from kb.interchange import EntryIn
from kb.models import Entry, Report, Setting
from kb.queue import Asker, askers, open_items

Sessions = async_sessionmaker[AsyncSession]
ENTRY = EntryIn.model_validate(
    {"id": "rumour", "claim": "A claim.", "verdict": "false", "summary": "No.", "lang": "en"}
)


@pytest.fixture
async def with_entry(sessions: Sessions) -> Sessions:
    async with sessions() as session:
        await store.save_entries(session, [ENTRY], actor="test")
        await session.commit()
    return sessions


async def report(sessions: Sessions, chat_id: str = "42", decision: str = "answer") -> int:
    async with sessions() as session:
        saved = await store.record_report(
            session,
            Report(
                platform="telegram",
                chat_id=chat_id,
                message_id="7",
                user_id="5",
                text="The post",
                lang="ru",
                decision=decision,
                entry_id="rumour",
            ),
        )
        await session.commit()
    assert saved.id is not None
    return saved.id


def auto_report(chat_id: str = "-100") -> Report:
    return Report(
        platform="telegram", chat_id=chat_id, text="post", decision="answer", entry_id="rumour"
    )


async def test_a_new_chat_has_autoreply_off(sessions: Sessions) -> None:
    assert await chats.load(sessions, -100) == chats.ChatSettings()


async def test_chat_settings_are_kept_per_chat(sessions: Sessions) -> None:
    await chats.set_autoreply(sessions, -100, True)
    await chats.set_threshold(sessions, -100, 0.99)

    loaded = await chats.load(sessions, -100)

    assert (loaded.autoreply, loaded.threshold) == (True, 0.99)
    assert not (await chats.load(sessions, -200)).autoreply
    async with sessions() as session:
        assert await session.get(Setting, "tg:chat:-100") is not None


async def test_a_threshold_outside_half_to_one_is_refused(sessions: Sessions) -> None:
    for bad in (0.2, 1.5):
        with pytest.raises(ValueError, match=r"between 0\.5 and 1\.0"):
            await chats.set_threshold(sessions, -100, bad)


async def test_damaged_settings_fall_back_to_autoreply_off(sessions: Sessions) -> None:
    async with sessions() as session:
        await store.set_setting(session, "tg:chat:-100", "{not json")
        await session.commit()

    assert not (await chats.load(sessions, -100)).autoreply


async def test_auto_replies_cool_down_per_entry(with_entry: Sessions) -> None:
    await chats.set_autoreply(with_entry, -100, True)

    first = await chats.claim_auto_reply(with_entry, auto_report(), now=1000.0, cooldown=60)
    again = await chats.claim_auto_reply(with_entry, auto_report(), now=1030.0, cooldown=60)
    later = await chats.claim_auto_reply(with_entry, auto_report(), now=1061.0, cooldown=60)

    assert first is not None and again is None and later is not None


async def test_no_auto_reply_is_claimed_once_autoreply_is_off(with_entry: Sessions) -> None:
    await chats.set_autoreply(with_entry, -100, True)
    await chats.set_autoreply(with_entry, -100, False)

    assert await chats.claim_auto_reply(with_entry, auto_report(), now=0.0, cooldown=60) is None


async def test_helpful_and_not_this_count_on_the_entry(with_entry: Sessions) -> None:
    report_id = await report(with_entry)

    await feedback.helpful(with_entry, report_id, "42")
    result = await feedback.not_this(with_entry, report_id, "42", user_id="5")

    assert result == feedback.Feedback("rumour", "ru", helpful=1, not_this=1)
    async with with_entry() as session:
        entry = await session.get(Entry, "rumour")
        [item] = await open_items(session)
        [asker] = await askers(session, item.id or 0)
    assert entry is not None and (entry.helpful_count, entry.not_this_count) == (1, 1)
    assert (item.reason, item.entry_id, item.text) == ("wrong_match", "rumour", "The post")
    assert (asker.chat_id, asker.user_id, asker.lang) == ("42", "5", "ru")


async def test_feedback_from_another_chat_is_ignored(with_entry: Sessions) -> None:
    report_id = await report(with_entry, chat_id="42")

    assert await feedback.helpful(with_entry, report_id, "43") is None
    assert await feedback.confirm(with_entry, report_id, "43") is None
    assert await feedback.helpful(with_entry, report_id + 1000, "42") is None


async def test_yes_records_a_confirmed_match_and_no_queues_the_post(with_entry: Sessions) -> None:
    yes = await report(with_entry, decision="ask")
    no = await report(with_entry, decision="ask")

    confirmed = await feedback.confirm(with_entry, yes, "42")
    declined = await feedback.decline(with_entry, no, "42", user_id="5")

    assert confirmed is not None and confirmed[0].id == "rumour" and confirmed[1] == "ru"
    assert declined == "ru"
    async with with_entry() as session:
        confirmed_report = await session.get(Report, yes)
        [item] = await open_items(session)
    assert confirmed_report is not None and confirmed_report.decision == feedback.CONFIRMED
    assert (item.reason, item.entry_id) == ("declined", "rumour")


async def test_unsure_posts_from_many_groups_count_up_on_one_item(sessions: Sessions) -> None:
    for chat in ("-1", "-2"):
        await feedback.queue_unsure(sessions, "Same post", Asker("telegram", chat, "5"))

    async with sessions() as session:
        [item] = await open_items(session)
    assert (item.count, item.reason) == (2, "no_match")
