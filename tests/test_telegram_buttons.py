"""Buttons under the bot's answers: helpful / not this, and yes / no to an unsure match."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from kb.feedback import CONFIRMED
from kb.models import Entry, Report
from kb.queue import open_items
from tests.conftest import TelegramHarness
from tests.telegram_api import SentMessage, user

# Every connection stays on this machine: the Bot API stand-in and the bot's own webhook.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", "bob", language_code="uk")
RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
CONVOY = "kz-convoy-exercises"


def buttons(reply: SentMessage) -> list[str]:
    assert reply.reply_markup is not None
    return [b["callback_data"] for row in reply.reply_markup["inline_keyboard"] for b in row]


async def counts(telegram: TelegramHarness, entry_id: str = CONVOY) -> tuple[int, int]:
    async with telegram.kb.sessions() as session:
        entry = await session.get(Entry, entry_id)
    assert entry is not None
    return entry.helpful_count, entry.not_this_count


async def rebuttal_for(telegram: TelegramHarness, who: dict[str, object]) -> SentMessage:
    before = len(telegram.api.sent)
    telegram.api.private_text(who, RUMOUR)
    return (await telegram.api.wait_for_sent(before + 1, timeout=15))[-1]


async def test_helpful_button_counts_for_the_entry(telegram: TelegramHarness) -> None:
    await telegram.start()
    reply = await rebuttal_for(telegram, ALICE)
    helpful, _ = buttons(reply)

    telegram.api.callback_query(ALICE, reply, helpful)
    await telegram.api.wait_for_calls("editMessageReplyMarkup", timeout=10)

    assert telegram.api.callback_answers[0]["text"] == "Thank you for the feedback!"
    assert await counts(telegram) == (1, 0)
    # The keyboard is gone, so the same answer cannot be rated twice.
    assert "reply_markup" not in telegram.api.message(reply.chat_id, reply.message_id)


async def test_not_this_button_queues_the_post_as_a_wrong_match(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    reply = await rebuttal_for(telegram, BOB)
    _, not_this = buttons(reply)

    telegram.api.callback_query(BOB, reply, not_this)
    await telegram.api.wait_for_calls("editMessageReplyMarkup", timeout=10)

    assert telegram.api.callback_answers[0]["text"] == "Дякуємо! Ми передали допис фактчекерам."
    assert await counts(telegram) == (0, 1)
    async with telegram.kb.sessions() as session:
        [item] = await open_items(session)
    assert (item.reason, item.entry_id, item.text) == ("wrong_match", CONVOY, RUMOUR)


async def test_button_pressed_in_another_chat_changes_nothing(telegram: TelegramHarness) -> None:
    await telegram.start()
    alices = await rebuttal_for(telegram, ALICE)
    bobs = await rebuttal_for(telegram, BOB)
    forged = buttons(alices)[1]  # Alice's report id, pressed under Bob's message

    telegram.api.callback_query(BOB, bobs, forged)
    await telegram.api.wait_for_calls("answerCallbackQuery", timeout=10)
    await telegram.settle()

    assert telegram.api.callback_answers[0]["text"] == "Ця кнопка більше не працює."
    assert await counts(telegram) == (0, 0)
    async with telegram.kb.sessions() as session:
        assert await open_items(session) == []


async def test_unsure_match_asks_and_yes_sends_the_rebuttal(telegram: TelegramHarness) -> None:
    post = await telegram.unsure_post()
    await telegram.start()
    asked = telegram.api.private_text(ALICE, post)
    [question] = await telegram.api.wait_for_sent(1, timeout=15)
    assert question.plain_text.startswith("Is this the claim you mean?\n\nFor")
    yes, _ = buttons(question)

    telegram.api.callback_query(ALICE, question, yes)
    _, rebuttal = await telegram.api.wait_for_sent(2, timeout=10)

    assert rebuttal.reply_to_message_id == asked["message"]["message_id"]
    assert rebuttal.plain_text.startswith("❌ False")
    assert "https://example.org/almaty-water" in [e.get("url") for e in rebuttal.entities]
    assert [b.split(":")[:2] for b in buttons(rebuttal)] == [["fb", "h"], ["fb", "n"]]
    await telegram.api.wait_for_calls("editMessageReplyMarkup", timeout=10)
    async with telegram.kb.sessions() as session:
        report = await session.get(Report, int(yes.rsplit(":", 1)[1]))
    assert report is not None and report.decision == CONFIRMED


async def test_no_to_the_candidate_queues_the_post(telegram: TelegramHarness) -> None:
    post = await telegram.unsure_post()
    await telegram.start()
    telegram.api.private_text(ALICE, post)
    [question] = await telegram.api.wait_for_sent(1, timeout=15)
    _, no = buttons(question)

    telegram.api.callback_query(ALICE, question, no)
    await telegram.api.wait_for_calls("editMessageReplyMarkup", timeout=10)

    assert len(telegram.api.sent) == 1  # no rebuttal
    assert telegram.api.callback_answers[0]["text"] == (
        "Thank you! We have passed the post to our fact-checkers."
    )
    async with telegram.kb.sessions() as session:
        [item] = await open_items(session)
    assert (item.reason, item.entry_id, item.text) == ("declined", "almaty-water", post)
