"""/new: a moderator writes an entry in the chat, and the bot answers with it at once.

The real bot over HTTP against tests/telegram_api.py's Bot API stand-in, on the seeded KB.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from sqlmodel import select

from handlers.telegram_mod_conversation import IDLE
from kb import roles, store
from kb.models import AuditLog, Conversation, Entry, QueueItem, Status
from kb.queue import open_items
from tests.conftest import TelegramHarness
from tests.telegram_api import SentMessage, user

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

OWNER = user(1, "Olga", "olga")
MIRA = user(2001, "Mira", "mira")  # a moderator
ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", "bob", language_code="ru")
CLAIM = "Drinking hot water with lemon every morning cures the coronavirus within three days."
SUMMARY = "The WHO says no food or drink cures COVID-19; lemon water does not kill the virus."
POST = "Doctors are silent!!! Hot water with lemon every morning kills the coronavirus in 3 days 🍋"
PARAPHRASE_RU = (
    "Врачи скрывают: горячая вода с лимоном каждое утро излечивает коронавирус за три дня!"
)
NEW_ID = "drinking-hot-water-with-lemon-every"


def buttons(reply: SentMessage) -> list[str]:
    assert reply.reply_markup is not None
    return [b["callback_data"] for row in reply.reply_markup["inline_keyboard"] for b in row]


async def start(telegram: TelegramHarness) -> None:
    async with telegram.kb.sessions() as session:
        await roles.add_moderator(session, MIRA["id"], "Mira", "telegram:1")
        await session.commit()
    await telegram.start(telegram_owner_ids=[OWNER["id"]])


async def say(telegram: TelegramHarness, who: dict[str, object], text: str) -> SentMessage:
    """Send a private message and return the bot's answer to it."""
    before = len(telegram.api.sent)
    telegram.api.private_text(who, text, str(who.get("language_code", "en")))
    [answer] = await telegram.api.wait_for_sent_to(int(str(who["id"])), after=before, timeout=15)
    return answer


async def press(
    telegram: TelegramHarness, who: dict[str, object], on: SentMessage, data: str
) -> None:
    telegram.api.callback_query(who, on, data)
    await telegram.api.wait_for_edit(on.chat_id, on.message_id)


async def next_message(telegram: TelegramHarness, chat_id: int, after: int) -> SentMessage:
    [message] = await telegram.api.wait_for_sent_to(chat_id, after=after, timeout=15)
    return message


async def preview_after(telegram: TelegramHarness, question: SentMessage) -> SentMessage:
    """From the verdict question to the preview: false, the summary, no sources, English."""
    sent = len(telegram.api.sent)
    await press(telegram, MIRA, question, "new:v:false")
    await next_message(telegram, MIRA["id"], sent)
    await say(telegram, MIRA, SUMMARY)
    await say(telegram, MIRA, "/skip")
    return await say(telegram, MIRA, "en")


async def answer_the_rest(telegram: TelegramHarness, question: SentMessage, choice: str) -> None:
    """From the verdict question on, then `choice` on the preview."""
    await press(telegram, MIRA, await preview_after(telegram, question), f"new:ok:{choice}")


async def test_a_new_entry_answers_the_next_paraphrase_in_another_language(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    missed = await say(telegram, ALICE, POST)
    assert "not found this in our knowledge base" in missed.plain_text

    assert (await say(telegram, MIRA, "/new")).plain_text.startswith("New entry. Send the claim")
    question = await say(telegram, MIRA, CLAIM)
    assert question.plain_text.startswith(f"Claim: {CLAIM}")
    assert buttons(question) == [
        "new:v:false", "new:v:misleading", "new:v:unproven", "new:v:partly_true", "new:v:true"
    ]  # fmt: skip
    sent = len(telegram.api.sent)
    await press(telegram, MIRA, question, "new:v:false")
    assert (await next_message(telegram, MIRA["id"], sent)).plain_text.startswith(
        "Send the summary"
    )
    asked = await say(telegram, MIRA, SUMMARY)
    assert asked.plain_text.startswith("Send the sources")
    languages = await say(telegram, MIRA, "https://www.who.int/myth-busters WHO: myth busters")
    assert buttons(languages)[0] == "new:l:en"  # the guess first
    sent = len(telegram.api.sent)
    await press(telegram, MIRA, languages, "new:l:en")
    preview = await next_message(telegram, MIRA["id"], sent)
    assert preview.plain_text.startswith("This is how the answer will read:\n\n❌ False")
    assert "https://www.who.int/myth-busters" in [e.get("url") for e in preview.entities]
    await press(telegram, MIRA, preview, "new:ok:publish")
    closed = telegram.api.edited[-1]
    assert f"\n\nCreated {NEW_ID} (published)." in closed.plain_text
    assert closed.plain_text.endswith(f"/show {NEW_ID}")

    answer = await say(telegram, BOB, PARAPHRASE_RU)

    assert answer.plain_text.startswith("❌ Неправда")
    assert SUMMARY in answer.plain_text
    async with telegram.kb.sessions() as session:
        entry = await store.get_entry(session, NEW_ID)
        trail = await store.audit_trail(session, NEW_ID)
    assert entry is not None and entry.status is Status.PUBLISHED
    assert (entry.claim, entry.summary, entry.lang) == (CLAIM, SUMMARY, "en")
    assert (trail[0].actor, trail[0].action) == ("telegram:2001 @mira", "create")


async def test_replying_new_to_a_post_prefills_the_claim_and_a_phrasing(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    forwarded = telegram.api.forwarded_from_channel(MIRA, POST, "Health Tips", "healthtips", 9)
    await telegram.api.wait_for_sent(1, timeout=15)

    sent = len(telegram.api.sent)
    telegram.api.private_reply(MIRA, "/new", forwarded["message"])
    question = await next_message(telegram, MIRA["id"], sent)
    cleaned = (
        "Doctors are silent! Hot water with lemon every morning kills the coronavirus in 3 days"
    )
    assert question.plain_text.startswith(f"Claim: {cleaned}")
    # A better wording replaces the claim; the post stays as a phrasing.
    question = await say(telegram, MIRA, CLAIM)
    assert question.plain_text.startswith(f"Claim: {CLAIM}")
    await answer_the_rest(telegram, question, "draft")

    async with telegram.kb.sessions() as session:
        saved = await store.get_entry(session, NEW_ID)
    assert saved is not None and saved.status is Status.DRAFT
    assert (saved.claim, saved.variants, saved.sources) == (CLAIM, [cleaned], [])
    # A draft is not matched: the post is still unknown to the bot.
    assert "not found" in (await say(telegram, ALICE, POST)).plain_text


async def test_cancel_at_any_step_changes_nothing(telegram: TelegramHarness) -> None:
    await start(telegram)
    async with telegram.kb.sessions() as session:
        audits = len((await session.exec(select(AuditLog))).all())
    await say(telegram, MIRA, "/new")
    question = await say(telegram, MIRA, CLAIM)
    sent = len(telegram.api.sent)
    await press(telegram, MIRA, question, "new:v:false")
    await next_message(telegram, MIRA["id"], sent)

    assert (await say(telegram, MIRA, "/cancel")).plain_text == "Cancelled; nothing changed."
    # The conversation is over: the next message is a post to check again.
    assert "not found" in (await say(telegram, MIRA, POST)).plain_text
    assert (await say(telegram, MIRA, "/cancel")).plain_text == "Nothing to cancel."
    answers = len(telegram.api.calls_to("answerCallbackQuery"))
    telegram.api.callback_query(MIRA, question, "new:v:true")  # a button of the ended conversation
    await telegram.api.wait_for_calls("answerCallbackQuery", n=answers + 1, timeout=10)
    assert telegram.api.callback_answers[-1]["text"].startswith("This question is closed")
    async with telegram.kb.sessions() as session:
        assert len((await session.exec(select(AuditLog))).all()) == audits
        assert await session.get(Entry, NEW_ID) is None


async def test_an_idle_new_lapses_and_the_next_message_is_checked_as_a_post(
    telegram: TelegramHarness,
) -> None:
    await start(telegram)
    await say(telegram, MIRA, "/new")
    async with telegram.kb.sessions() as session:  # half an hour away from the phone
        waiting = await session.get(Conversation, (MIRA["id"], MIRA["id"]))
        assert waiting is not None
        waiting.updated_at -= timedelta(seconds=IDLE + 1)
        session.add(waiting)
        await session.commit()

    before = len(telegram.api.sent)
    telegram.api.private_text(MIRA, POST)
    lapsed, answer = await telegram.api.wait_for_sent_to(MIRA["id"], 2, after=before, timeout=15)

    assert "has ended; nothing was saved" in lapsed.plain_text
    assert "not found" in answer.plain_text  # the post was checked, not taken as a claim
    async with telegram.kb.sessions() as session:
        assert await session.get(Entry, NEW_ID) is None


async def test_new_from_a_queue_item_answers_the_item(telegram: TelegramHarness) -> None:
    await start(telegram)
    await say(telegram, ALICE, POST)
    async with telegram.kb.sessions() as session:
        [item] = await open_items(session)
    assert item.id is not None
    card = await say(telegram, MIRA, "/show kz-convoy-exercises")  # any message of Mira's chat

    sent = len(telegram.api.sent)
    telegram.api.callback_query(MIRA, card, f"rq:new:{item.id}")
    question = await next_message(telegram, MIRA["id"], sent)
    assert question.plain_text.startswith("Claim: Doctors are silent! Hot water with lemon")
    await answer_the_rest(telegram, question, "publish")

    async with telegram.kb.sessions() as session:
        resolved = await session.get(QueueItem, item.id)
        assert resolved is not None and resolved.status == "resolved"
        entry = await store.get_entry(session, resolved.resolved_entry_id or "")
    assert entry is not None and entry.status is Status.PUBLISHED
    assert entry.claim.startswith("Doctors are silent! Hot water with lemon")
    # A closed item's button starts nothing.
    answers = len(telegram.api.calls_to("answerCallbackQuery"))
    telegram.api.callback_query(MIRA, card, f"rq:new:{item.id}")
    await telegram.api.wait_for_calls("answerCallbackQuery", n=answers + 1, timeout=10)
    assert telegram.api.callback_answers[-1]["text"] == "This queue item is already closed."


async def test_a_double_tapped_publish_creates_one_entry(telegram: TelegramHarness) -> None:
    await start(telegram)
    await say(telegram, MIRA, "/new")
    preview = await preview_after(telegram, await say(telegram, MIRA, CLAIM))

    answers = len(telegram.api.calls_to("answerCallbackQuery"))
    telegram.api.callback_query(MIRA, preview, "new:ok:publish")  # handled at once, in turn
    telegram.api.callback_query(MIRA, preview, "new:ok:publish")
    await telegram.api.wait_for_calls("answerCallbackQuery", n=answers + 2, timeout=10)
    await telegram.settle()

    closed = "This question is closed; start again with /new."
    assert [a.get("text") for a in telegram.api.callback_answers[-2:]].count(closed) == 1
    async with telegram.kb.sessions() as session:
        created = (await session.exec(select(Entry.id))).all()
    assert [i for i in created if i.startswith(NEW_ID)] == [NEW_ID]
