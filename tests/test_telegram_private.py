"""Private chat: people forward or send posts to the bot and get an answer in their language.

The real bot runs against tests/telegram_api.py's Bot API stand-in over HTTP; the stand-in
refuses malformed HTML and over-long texts the way Telegram does.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from sqlmodel import select

from kb import store
from kb.interchange import EntryIn
from kb.models import Report
from kb.queue import open_items
from tests.conftest import TelegramHarness
from tests.telegram_api import SentMessage, user, utf16_len

# Every connection stays on this machine: the Bot API stand-in and the bot's own webhook.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", "bob", language_code="de")
AIGERIM = user(1003, "Aigerim", language_code="kk")
RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
RUMOUR_RU = "Казахстан тайно отправляет танки и бронетехнику в Россию, вот видео колонны на границе"
CHATTER = "Anyone up for football on Saturday? The weather looks great and the pitch is free"
CONVOY = "kz-convoy-exercises"


def links(reply: SentMessage) -> list[str]:
    return [e["url"] for e in reply.entities if e["type"] == "text_link"]


async def source_urls(telegram: TelegramHarness, entry_id: str = CONVOY) -> list[str]:
    async with telegram.kb.sessions() as session:
        entry = await store.get_entry(session, entry_id)
    assert entry is not None
    return [s.url for s in entry.sources]


async def test_forwarded_rumour_gets_rebuttal_with_sources(telegram: TelegramHarness) -> None:
    await telegram.start()
    forwarded = telegram.api.forwarded_from_channel(
        ALICE, RUMOUR, "Daily Rumours", "dailyrumors", 77
    )

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.chat_id == ALICE["id"]
    assert reply.reply_to_message_id == forwarded["message"]["message_id"]
    assert reply.plain_text.startswith("❌ False\n")
    assert "Ministry of Defence" in reply.plain_text
    assert "Forwarded from: Daily Rumours" in reply.plain_text
    assert "https://t.me/dailyrumors/77" in links(reply)
    assert set(await source_urls(telegram)) <= set(links(reply))
    buttons = [b["callback_data"] for b in reply.reply_markup["inline_keyboard"][0]]
    assert [b.split(":")[:2] for b in buttons] == [["fb", "h"], ["fb", "n"]]


async def test_plain_message_is_answered_in_its_language(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.private_text(ALICE, RUMOUR_RU)

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text.startswith("❌ Неправда\nУтверждение: ")
    assert "Министерство обороны Казахстана" in reply.plain_text  # the KB's Russian translation
    assert "Источники:" in reply.plain_text
    assert reply.entities[0] == {"type": "bold", "offset": 0, "length": utf16_len("❌ Неправда")}


async def test_unrelated_chatter_is_queued_not_rebutted(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.private_text(ALICE, CHATTER)
    telegram.api.private_text(BOB, CHATTER + " 🙂", language_code="de")

    first, second = await telegram.api.wait_for_sent(2, timeout=15)

    for reply in (first, second):
        assert "not found this in our knowledge base" in reply.plain_text  # the post is English
        assert "fact-checkers" in reply.plain_text
        assert reply.reply_markup is None and not links(reply)
    async with telegram.kb.sessions() as session:
        [item] = await open_items(session)
    assert (item.reason, item.count) == ("no_match", 2)  # two askers, one queue item


async def test_greeting_gets_a_hint_and_is_not_queued(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.private_text(BOB, "Hallo!", language_code="de")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text.startswith("Schicken Sie mir den Text eines Beitrags")
    async with telegram.kb.sessions() as session:
        assert await open_items(session) == []


async def test_photo_caption_is_checked(telegram: TelegramHarness) -> None:
    await telegram.start()
    photo = telegram.api.photo_with_caption(ALICE, RUMOUR, "PHOTO-1")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.reply_to_message_id == photo["message"]["message_id"]
    assert reply.plain_text.startswith("❌ False")
    assert set(await source_urls(telegram)) <= set(links(reply))


async def test_attached_photo_matches_its_entry_in_the_users_language(
    telegram: TelegramHarness,
) -> None:
    async with telegram.kb.sessions() as session:
        await store.attach_media(session, CONVOY, "CONVOY-VIDEO-FRAME", actor="moderator")
        await session.commit()
    await telegram.start()
    # No caption, so nothing to detect a language from: the user's Telegram language decides.
    telegram.api.video_with_caption(AIGERIM, "", "CONVOY-VIDEO-FRAME")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text.startswith("❌ Жалған")
    assert "Дереккөздер:" in reply.plain_text


async def test_photo_without_caption_or_match_asks_for_the_text(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    telegram.api.photo_with_caption(BOB, "", "UNKNOWN-PHOTO")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text.startswith("Ich prüfe den Wortlaut eines Beitrags")
    async with telegram.kb.sessions() as session:
        assert await open_items(session) == []  # nothing a moderator could read


async def test_html_specials_and_4000_characters_get_a_valid_reply(
    telegram: TelegramHarness,
) -> None:
    hostile = "<script>alert('x')</script> & <b>bold</b> &amp; <a href=\"javascript:x\"> "
    entry = {
        "id": "hostile",
        "claim": hostile * 8,
        "verdict": "misleading",
        "summary": hostile * 12,
        "lang": "en",
        "sources": [{"url": 'https://example.org/?a=1&b="2"<x>', "title": hostile * 3}] * 5,
        # Exact evidence: whatever the matcher makes of the words, this post is this entry.
        "appearances": ["https://t.me/c/1234500000/5"],
    }
    await telegram.kb.import_entries([EntryIn.model_validate(entry)], actor="test")
    await telegram.start()
    filler = " <b>&amp; <<>> & </i> a<b && c>d"
    text = (RUMOUR + "." + filler * 200)[:4000]
    title = '<i>Rumours & "Leaks"</i>'
    forwarded = telegram.api.forwarded_from_channel(
        ALICE, text, title, None, 5, channel_id=-1001234500000
    )
    telegram.api.private_text(ALICE, ("<script>&lt; & > " * 300)[:4000])

    replies = await telegram.api.wait_for_sent(2, timeout=20)

    # The stand-in refuses malformed HTML and texts over 4,096 characters, so arriving at all
    # means Telegram would have accepted them.
    assert all(utf16_len(r.plain_text) <= 4096 for r in replies)
    [rebuttal] = [r for r in replies if r.reply_to_message_id == forwarded["message"]["message_id"]]
    assert rebuttal.plain_text.startswith("⚠️ Misleading")
    assert "Claim: <script>alert('x')</script> & <b>bold</b> &amp;" in rebuttal.plain_text
    assert 'Forwarded from: <i>Rumours & "Leaks"</i>' in rebuttal.plain_text
    assert "https://t.me/c/1234500000/5" in links(rebuttal)
    assert 'https://example.org/?a=1&b="2"<x>' in links(rebuttal)


async def test_posts_forwarded_together_get_one_combined_answer(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    for n, text in enumerate((RUMOUR, RUMOUR_RU, CHATTER), 1):
        telegram.api.forwarded_from_channel(ALICE, text, "Daily Rumours", "dailyrumors", n)

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)
    await telegram.settle()

    assert len(telegram.api.sent) == 1
    assert reply.plain_text.startswith("Posts checked: 3")
    assert reply.plain_text.count("Claim:") == 1  # two forwards of one rumour: one rebuttal
    assert "Not in our knowledge base yet: 1." in reply.plain_text
    async with telegram.kb.sessions() as session:
        reports = (await session.exec(select(Report))).all()
    assert sorted(r.decision for r in reports) == ["answer", "answer", "none"]


async def test_album_gets_one_answer(telegram: TelegramHarness) -> None:
    await telegram.start()
    album = telegram.api.media_group(ALICE, 3, RUMOUR)

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)
    await telegram.settle()

    assert len(telegram.api.sent) == 1
    assert reply.reply_to_message_id == album[0]["message"]["message_id"]
    assert reply.plain_text.startswith("❌ False")  # one post: a plain rebuttal, no batch header


async def test_start_and_help_explain_the_bot_in_the_users_language(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    telegram.api.private_text(BOB, "/start", language_code="de")
    telegram.api.private_text(AIGERIM, "/help", language_code="kk")

    replies = await telegram.api.wait_for_sent(2, timeout=15)

    by_chat = {r.chat_id: r.plain_text for r in replies}
    assert by_chat[BOB["id"]].startswith("Hallo! Ich prüfe Gerüchte.")
    assert "@rumor_test_bot" in by_chat[BOB["id"]]
    assert by_chat[AIGERIM["id"]].startswith("Сәлеметсіз бе!")


async def test_about_shows_the_kb_size_and_last_update(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.private_text(ALICE, "/about")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    async with telegram.kb.sessions() as session:
        updated = await store.last_update(session)
    assert updated is not None
    assert reply.plain_text == (
        f"Knowledge base: 3 checked claims. Last updated: {updated.date().isoformat()}."
    )


async def test_command_menu_is_published_in_every_language(telegram: TelegramHarness) -> None:
    await telegram.start()

    await telegram.api.wait_for_calls("setMyCommands", 18, timeout=10)

    private = telegram.api.commands[('{"type": "all_private_chats"}', "ru")]
    assert [c["command"] for c in private] == ["start", "help", "about", "check"]
    assert private[0]["description"] == "Что умеет этот бот"


async def test_forward_of_a_known_rumour_post_matches_it_by_link(
    telegram: TelegramHarness,
) -> None:
    entry = {
        "id": "leaked-decree",
        "claim": "A leaked decree orders the mobilisation of all reservists next week.",
        "verdict": "false",
        "summary": "No such decree exists; the document is a forgery.",
        "lang": "en",
        "sources": [{"url": "https://example.org/decree-forgery", "title": "Forgery"}],
        "appearances": ["https://t.me/leaks/5"],
    }
    await telegram.kb.import_entries([EntryIn.model_validate(entry)], actor="test")
    await telegram.start()
    # The words say nothing the KB knows; the link to the channel post is the evidence.
    telegram.api.forwarded_from_channel(
        ALICE, "Look at this!!! Share before it is deleted", "Leaks", "leaks", 5
    )

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert "https://example.org/decree-forgery" in links(reply)
