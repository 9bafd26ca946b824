"""Notify-later: people whose post went to the moderators hear back once, when it is answered.

The askers' messages go out in a background task after the moderator's reply; tests wait for
them on the stand-in, and stop the bot (which waits for that task) before counting them.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from sqlmodel import select
from telegram.ext import CallbackContext

from handlers.telegram_context import Context
from handlers.telegram_notify import claim_askers, tell
from kb import queue
from kb.interchange import EntryIn
from kb.models import QueueAsker
from tests.conftest import TelegramHarness
from tests.telegram_api import JSON, SentMessage, private_chat, user

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MOD = user(9001, "Dana", "dana_checks")
ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", "bob", language_code="uk")
CAROL = user(1003, "Carol", "carol")
CARDS = "Банки Казахстана заблокируют все карты в пятницу"
CARDS_UK = "Банки Казахстану заблокують усі картки в п'ятницю"
ENTRY = "kz-cards-blocked"


def cards_entry(status: str = "published") -> EntryIn:
    return EntryIn.model_validate(
        {
            "id": ENTRY,
            "claim": "Kazakhstan's banks will block every bank card on <Friday> & Saturday.",
            "variants": [
                "В пятницу все банковские карты в Казахстане заблокируют",
                "Банки Казахстану заблокують усі картки",
            ],
            "verdict": "false",
            "summary": "The National Bank said no cards will be blocked.",
            "lang": "en",
            "translations": {
                "ru": {"claim": "Банки заблокируют все карты.", "summary": "Нацбанк: нет."},
                "uk": {"claim": "Банки заблокують усі картки.", "summary": "Нацбанк: ні."},
            },
            "sources": [{"url": "https://example.org/cards?a=1&b=2", "title": "<Nat. Bank>"}],
            "status": status,
        }
    )


def context(telegram: TelegramHarness) -> Context:
    return CallbackContext(telegram.app)  # type: ignore[arg-type]


async def ask(telegram: TelegramHarness, who: JSON, text: str) -> int:
    """`who` sends a post the KB does not know; returns its message id."""
    before = len(telegram.api.sent)
    sent = telegram.api.private_text(who, text, who["language_code"])
    await telegram.settle()
    [answer] = [m for m in telegram.api.sent[before:] if m.chat_id == who["id"]]
    assert answer.reply_markup is None  # "not found yet": no feedback buttons
    return int(sent["message"]["message_id"])


def told(telegram: TelegramHarness, who: JSON, after: int) -> list[SentMessage]:
    return [m for m in telegram.api.sent[after:] if m.chat_id == who["id"]]


async def publish(telegram: TelegramHarness) -> tuple[SentMessage, int]:
    """The moderator publishes the entry; their confirmation, and where it is in `api.sent`."""
    before = len(telegram.api.sent)
    telegram.api.private_text(MOD, f"/publish {ENTRY}")
    [done] = await telegram.api.wait_for_sent_to(MOD["id"], after=before)
    return done, telegram.api.sent.index(done)


async def test_askers_hear_back_only_once_the_entry_is_published(
    telegram: TelegramHarness,
) -> None:
    await telegram.start(telegram_owner_ids=[MOD["id"]])
    await telegram.kb.import_entries([cards_entry("draft")], actor="test")
    asked = await ask(telegram, ALICE, CARDS)
    before = len(telegram.api.sent)

    telegram.api.private_text(MOD, f"/attach 1 {ENTRY}")
    await telegram.settle()

    [done] = told(telegram, MOD, before)
    assert done.plain_text.endswith("The entry is not published: askers hear back when it is.")
    assert told(telegram, ALICE, before) == []
    assert await claim_askers(context(telegram), ENTRY) == []  # still a draft

    published, at = await publish(telegram)

    assert published.plain_text == f"{ENTRY} is published. Telling 1 who asked."
    [followup] = await telegram.api.wait_for_sent_to(ALICE["id"], after=before)
    assert telegram.api.sent.index(followup) > at  # the moderator heard first
    assert followup.reply_to_message_id == asked
    assert followup.plain_text.startswith(
        "Вы спрашивали нас об этом посте. Наши фактчекеры его проверили:\n\n❌ Неправда\n"
        "Утверждение: Банки заблокируют все карты."
    )
    assert "https://example.org/cards?a=1&b=2" in [e.get("url") for e in followup.entities]

    again, _ = await publish(telegram)
    assert again.plain_text == "Already published."
    assert await claim_askers(context(telegram), ENTRY) == []
    await telegram.stop()  # waits for the background task
    assert told(telegram, ALICE, before) == [followup]


async def test_moderator_hears_first_and_each_asker_is_told_once_in_the_background(
    telegram: TelegramHarness,
) -> None:
    await telegram.start(telegram_owner_ids=[MOD["id"]])
    await telegram.kb.import_entries([cards_entry("draft")], actor="test")
    for who in (ALICE, BOB, CAROL):
        await ask(telegram, who, CARDS)
    telegram.api.private_text(MOD, f"/attach 1 {ENTRY}")
    await telegram.settle()
    before = len(telegram.api.sent)

    published, at = await publish(telegram)

    assert published.plain_text == f"{ENTRY} is published. Telling 3 who asked."
    assert at == before  # nothing reached an asker before the moderator's reply
    for who in (ALICE, BOB, CAROL):
        await telegram.api.wait_for_sent_to(who["id"], after=before)
    await telegram.stop()
    assert [m.chat_id for m in telegram.api.sent[before:]] == [MOD["id"], 1001, 1002, 1003]


async def test_two_workers_notifying_at_once_tell_each_asker_once(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    await telegram.kb.import_entries([cards_entry("draft")], actor="test")
    for who in (ALICE, BOB, CAROL):
        await ask(telegram, who, CARDS)
    async with telegram.kb.sessions() as session:
        [item] = await queue.open_items(session)
        await queue.resolve(session, item.id or 0, ENTRY, "test")
        await session.commit()
    await telegram.kb.import_entries([cards_entry()], actor="test")
    before = len(telegram.api.sent)

    claims = await asyncio.gather(*(claim_askers(context(telegram), ENTRY) for _ in range(3)))
    counts = await asyncio.gather(*(tell(telegram.app.bot, claim) for claim in claims))

    assert sorted(len(claim) for claim in claims) == [0, 0, 3]
    assert sum(counts) == 3
    assert sorted(m.chat_id for m in telegram.api.sent[before:]) == [1001, 1002, 1003]


async def test_publishing_tells_people_who_asked_before_the_entry_existed(
    telegram: TelegramHarness,
) -> None:
    await telegram.start(telegram_owner_ids=[MOD["id"]])
    await telegram.kb.import_entries([cards_entry("draft")], actor="test")  # never matched
    await ask(telegram, ALICE, CARDS)
    await ask(telegram, BOB, CARDS_UK)
    before = len(telegram.api.sent)

    published, at = await publish(telegram)

    assert published.plain_text == f"{ENTRY} is published. Telling 2 who asked."
    [alice] = await telegram.api.wait_for_sent_to(ALICE["id"], after=at)
    [bob] = await telegram.api.wait_for_sent_to(BOB["id"], after=at)
    assert "Утверждение: Банки заблокируют все карты." in alice.plain_text
    assert bob.plain_text.startswith("Ви питали нас про цей допис.")
    assert "Банки заблокують усі картки." in bob.plain_text
    async with telegram.kb.sessions() as session:
        assert await queue.open_items(session) == []
    await telegram.stop()
    assert [m.chat_id for m in telegram.api.sent[before:]] == [MOD["id"], 1001, 1002]


async def test_an_asker_who_blocked_the_bot_is_logged_not_retried_and_others_are_told(
    telegram: TelegramHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.telegram_notify")
    await telegram.start(telegram_owner_ids=[MOD["id"]])
    await telegram.kb.import_entries([cards_entry("draft")], actor="test")
    await ask(telegram, ALICE, CARDS)
    await ask(telegram, CAROL, CARDS)
    # Alice, told first, blocked the bot since.
    telegram.api.my_chat_member(private_chat(ALICE), ALICE, "member", "kicked", queue=False)
    before = len(telegram.api.sent)

    published, at = await publish(telegram)

    assert published.plain_text == f"{ENTRY} is published. Telling 2 who asked."
    await telegram.api.wait_for_sent_to(CAROL["id"], after=at)
    await telegram.stop()
    assert [m.chat_id for m in telegram.api.sent[before:]] == [MOD["id"], CAROL["id"]]
    refused = [r for r in caplog.records if r.getMessage().startswith("cannot tell chat 1001")]
    assert [r.levelno for r in refused] == [logging.INFO]
    assert "told 1 of 2 askers about kz-cards-blocked" in caplog.messages
    async with telegram.kb.sessions() as session:
        askers = (await session.exec(select(QueueAsker))).all()
    assert all(a.notified for a in askers)
    assert await claim_askers(context(telegram), ENTRY, rematch=False) == []
