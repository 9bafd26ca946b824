"""Moderators work through the review queue in Telegram: /queue, its buttons, /attach, /block.

The real bot runs against tests/telegram_api.py's Bot API stand-in over HTTP, on a seeded KB.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from sqlmodel import select
from telegram.ext import CallbackContext

from handlers.telegram_notify import claim_askers
from kb import queue, roles
from kb.matcher import Decision
from kb.models import AuditLog, Variant
from tests.conftest import TelegramHarness
from tests.telegram_api import JSON, SentMessage, user

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

MOD = user(9001, "Dana", "dana_checks")
ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", "bob", language_code="uk")
CAROL = user(1003, "Carol", "carol", language_code="kk")
SPAMMER = user(6666, "Spam", "spam")
STRANGER = user(7777, "Eve", "eve")
CARDS = "Банки Казахстана заблокируют все карты в пятницу"
CARDS_REWORDED = "В пятницу все банковские карты в Казахстане заблокируют"
TRAINS = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
CONVOY = "kz-convoy-exercises"
SANCTIONS = "kz-sanctions-government"
REFUSED = "Only moderators can do that."


def buttons(message: SentMessage) -> list[str]:
    if message.reply_markup is None:
        return []
    return [b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row]


def sent_to(telegram: TelegramHarness, who: JSON, after: int = 0) -> list[SentMessage]:
    return [m for m in telegram.api.sent[after:] if m.chat_id == who["id"]]


async def say(telegram: TelegramHarness, who: JSON, text: str) -> list[SentMessage]:
    """Send a private message, wait until the bot is done, return what it sent to `who`."""
    before = len(telegram.api.sent)
    telegram.api.private_text(who, text, who.get("language_code", "en"))
    await telegram.settle()
    return sent_to(telegram, who, before)


async def press(
    telegram: TelegramHarness, who: JSON, message: SentMessage, data: str
) -> list[SentMessage]:
    before = len(telegram.api.sent)
    telegram.api.callback_query(who, message, data)
    await telegram.settle()
    return sent_to(telegram, who, before)


async def start(telegram: TelegramHarness) -> None:
    await telegram.start(telegram_owner_ids=[MOD["id"]])


def card_for(messages: list[SentMessage], text: str) -> SentMessage:
    """The /queue message about the group that `text` leads."""
    return next(m for m in messages if text in m.plain_text and buttons(m))


async def test_queue_groups_similar_posts_and_attach_tells_each_asker_once(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    for who, text in ((ALICE, CARDS), (BOB, CARDS), (CAROL, CARDS_REWORDED)):
        [answer] = await say(telegram, who, text)
        assert answer.plain_text.startswith("Мы пока не нашли")
        assert answer.reply_to_message_id is not None

    header, card = await say(telegram, MOD, "/queue")

    assert header.plain_text == "Review queue: 2 open items (3 posts) in 1 groups."
    assert card.plain_text.startswith(f"#1 · 2× · not found · from 3 people\n{CARDS}")
    assert "Grouped with 1:\n• #2 · 1× · not found: " + CARDS_REWORDED in card.plain_text
    assert {"rq:new:1", "rq:dis:1"} <= set(buttons(card))
    assert "rq:blk:1" not in buttons(card)  # three people sent it: /block them by id instead

    before = len(telegram.api.sent)
    [done] = await say(telegram, MOD, f"/attach 2 {SANCTIONS}")

    assert done.plain_text == (
        f"Attached #1, #2 to {SANCTIONS}: 2 new phrasings. Telling 3 people who asked."
    )
    # The moderator's reply first; the askers hear back afterwards, in the background.
    assert telegram.api.sent[before] == done
    for who in (ALICE, BOB, CAROL):
        [told] = await telegram.api.wait_for_sent_to(who["id"], after=before)
        # In the language of their post, as a reply to it.
        assert told.plain_text.startswith(
            "Вы спрашивали нас об этом посте. Наши фактчекеры его проверили:\n\n❔ Не доказано"
        )
        assert told.reply_to_message_id == 1

    # Attaching again, pressing the old buttons or telling askers again tells nobody twice.
    after = len(telegram.api.sent)
    [again] = await say(telegram, MOD, f"/attach 1 {SANCTIONS}")
    assert again.plain_text.startswith("Nothing changed: queue item 1 does not exist or is no")
    await press(telegram, MOD, card, "rq:dis:1")
    assert telegram.api.callback_answers[-1]["text"].startswith("Nothing changed")
    assert await claim_askers(CallbackContext(telegram.app), SANCTIONS) == []
    assert [m.chat_id for m in telegram.api.sent[after:]] == [MOD["id"]]
    # ... and the matcher now answers the post with the entry.
    [answer] = await say(telegram, ALICE, CARDS)
    assert answer.plain_text.startswith("❔ Не доказано")
    await telegram.stop()  # waits for the background task
    for who in (ALICE, BOB, CAROL):
        notices = [m for m in sent_to(telegram, who) if m.plain_text.startswith("Вы спрашивали")]
        assert len(notices) == 1, who


async def test_not_this_attached_elsewhere_stops_the_wrong_match(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    [rebuttal] = await say(telegram, ALICE, TRAINS)
    assert "military convoys" in rebuttal.plain_text
    await press(telegram, ALICE, rebuttal, buttons(rebuttal)[1])  # 👎 not this

    _, card = await say(telegram, MOD, "/queue")
    assert card.plain_text.startswith(f"#1 · 1× · “not this” (offered {CONVOY}) · from user 1001")
    assert not any(b.startswith(f"rq:at:1:{CONVOY}") for b in buttons(card))
    assert f"rq:at:1:{SANCTIONS}" in buttons(card)

    before = len(telegram.api.sent)
    [done] = await press(telegram, MOD, card, f"rq:at:1:{SANCTIONS}")

    assert done.plain_text == (
        f"Attached #1 to {SANCTIONS}: 1 new phrasing. Counter-example recorded for: {CONVOY}. "
        "Telling 1 person who asked."
    )
    assert telegram.api.callback_answers[-1]["text"] == "Done."
    assert "reply_markup" not in telegram.api.message(MOD["id"], card.message_id)
    assert telegram.api.sent[before] == done
    [told] = await telegram.api.wait_for_sent_to(ALICE["id"], after=before)
    assert told.plain_text.startswith("You asked us about this post.")

    [answer] = await say(telegram, BOB, TRAINS)
    assert "sanctions" in answer.plain_text.lower()
    assert "military convoys" not in answer.plain_text
    result = await telegram.kb.match(TRAINS)
    assert CONVOY not in [c.entry_id for c in result.candidates]
    assert (result.decision, result.entry_id) == (Decision.ANSWER, SANCTIONS)


async def test_block_button_stops_a_flood_and_unblock_lifts_it(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    await say(telegram, SPAMMER, CARDS)
    await say(telegram, SPAMMER, "Завтра в Алматы отключат интернет на всю неделю")
    await say(telegram, ALICE, "Завтра в Алматы отключат интернет на всю неделю")

    _, shared, spam = await say(telegram, MOD, "/queue")
    assert "rq:blk" not in " ".join(buttons(shared))
    assert spam.plain_text.startswith("#1 · 1× · not found · from user 6666")

    [done] = await press(telegram, MOD, spam, "rq:blk:1")

    assert done.plain_text == "Blocked 6666. Dismissed their items #1."
    [answer] = await say(telegram, SPAMMER, "Говорят, с понедельника в Астане закроют все школы")
    assert answer.plain_text.startswith("Мы пока не нашли")  # still answered ...
    async with telegram.kb.sessions() as session:
        assert len(await queue.open_items(session)) == 1  # ... never queued
        assert await roles.is_blocked(session, "telegram", "6666")

    [unblocked] = await say(telegram, MOD, "/unblock 6666")
    assert unblocked.plain_text == "Unblocked 6666."
    [repeat] = await say(telegram, MOD, "/unblock 6666")
    assert repeat.plain_text == "6666 was not blocked."
    async with telegram.kb.sessions() as session:
        audit = (await session.exec(select(AuditLog.action, AuditLog.actor))).all()
    assert ("block", "telegram:9001 @dana_checks") in audit
    assert ("unblock", "telegram:9001 @dana_checks") in audit


async def test_block_by_replying_to_a_forward_from_the_user(telegram: TelegramHarness) -> None:
    await start(telegram)
    forward = telegram.api.private_text(MOD, "spam spam spam", queue=False)["message"]
    forward["forward_origin"] = {"type": "user", "sender_user": SPAMMER, "date": forward["date"]}
    command = telegram.api.private_text(MOD, "/block", queue=False)
    command["message"]["reply_to_message"] = forward
    before = len(telegram.api.sent)
    telegram.api.push(command)
    await telegram.settle()

    [done] = sent_to(telegram, MOD, before)
    assert done.plain_text == "Blocked 6666."
    [again] = await say(telegram, MOD, "/block 6666")
    assert again.plain_text == "6666 was already blocked."
    [x] = await say(telegram, MOD, "/block x:123456")
    assert x.plain_text == "Blocked x:123456."


async def test_malformed_commands_answer_with_usage_and_change_nothing(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    await say(telegram, ALICE, CARDS)
    cases = {
        "/queue two": "Usage: /queue",
        "/queue 0": "Usage: /queue",
        "/attach": "Usage: /attach",
        "/attach 1": "Usage: /attach",
        "/attach one kz-sanctions-government": "Usage: /attach",
        "/dismiss": "Usage: /dismiss",
        "/dismiss 1 2": "Usage: /dismiss",
        "/block": "Usage: /block",
        "/block alice": "Usage: /block",
        "/block mastodon:12": "Usage: /block",
        "/unblock <b>1</b>": "Usage: /unblock",
        "/stats please": "Usage: /stats",
        "/attach 1 <script>": "Nothing changed: no entry with id '<script>'.",
        "/dismiss 99": "Nothing changed: queue item 99 does not exist or is no longer open.",
    }
    for command, expected in cases.items():
        [reply] = await say(telegram, MOD, command)
        assert reply.plain_text.startswith(expected), command
    async with telegram.kb.sessions() as session:
        [item] = await queue.open_items(session)
        assert item.status == "open"
        assert (await session.exec(select(AuditLog).where(AuditLog.actor != "seed"))).all() == []
        assert (await session.exec(select(Variant).where(Variant.text == CARDS))).all() == []


async def test_a_stranger_is_refused_every_queue_command_and_button(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    await say(telegram, ALICE, CARDS)
    commands = [
        "/queue",
        "/queue 2",
        f"/attach 1 {SANCTIONS}",
        "/dismiss 1",
        "/block 1001",
        "/unblock 1001",
        "/stats",
    ]
    for command in commands:
        [reply] = await say(telegram, STRANGER, command)
        assert reply.plain_text == REFUSED, command
    presses = [f"rq:at:1:{SANCTIONS}", "rq:dis:1", "rq:blk:1", "rq:pg:2"]
    for data in presses:
        answered = len(telegram.api.callback_answers)
        assert await press(telegram, STRANGER, reply, data) == []
        assert telegram.api.callback_answers[answered]["text"] == REFUSED, data
        assert telegram.api.callback_answers[answered]["show_alert"] is True
    async with telegram.kb.sessions() as session:
        assert len(await queue.open_items(session)) == 1
        assert not await roles.is_blocked(session, "telegram", "1001")
        assert (await session.exec(select(AuditLog).where(AuditLog.actor != "seed"))).all() == []


async def test_queue_pages_and_stats(telegram: TelegramHarness) -> None:
    await start(telegram)
    posts = [
        "Завтра в Алматы отключат интернет на всю неделю",
        "В Астане с понедельника закроют все школы на карантин из-за кори",
        "Бензин подорожает до 500 тенге за литр с первого числа",
        "В Шымкенте нашли золото под центральной площадью",
        "С 1 января пенсии выплачивать перестанут совсем",
        "В Караганде на неделе введут комендантский час для всех",
    ]
    for n, post in enumerate(posts):
        await say(telegram, user(2000 + n, f"User {n}"), post)
    await say(telegram, ALICE, TRAINS)

    first = await say(telegram, MOD, "/queue")
    assert first[0].plain_text == "Review queue: 6 open items (6 posts) in 6 groups, page 1 of 2."
    assert len(first) == 7 and first[-1].plain_text == "Page 1 of 2."
    assert buttons(first[-1]) == ["rq:pg:2"]
    second = await press(telegram, MOD, first[-1], "rq:pg:2")
    assert second[0].plain_text.endswith("page 2 of 2.")
    assert len(second) == 3 and buttons(second[-1]) == ["rq:pg:1"]

    [figures] = await say(telegram, MOD, "/stats")
    text = figures.plain_text
    assert text.startswith("Last 7 days\nChecks: 7, answered 1 (14%), asked 0\n")
    assert f"Top rumours\n1. {CONVOY} (1): " in text
    assert "Review queue: 6 open items (6 posts)" in text
    assert text.endswith("Feedback: 👍 0 · 👎 0")


async def test_queue_shows_hostile_posts_as_text(telegram: TelegramHarness) -> None:
    await start(telegram)
    hostile = "<b>Banks</b> & <script>alert(1)</script> will close <a href='x'>all</a> cards"
    await say(telegram, ALICE, hostile)

    _, card = await say(telegram, MOD, "/queue")

    # The stand-in refuses malformed HTML as Telegram does: the card arrived, escaped.
    assert hostile in card.plain_text
    assert "&lt;script&gt;" in card.text and card.entities[0]["type"] == "bold"
