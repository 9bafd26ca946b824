"""The Telegram stand-in, exercised through the real python-telegram-bot over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageOriginChannel,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

# pytest puts tests/ (not the project root) on sys.path; make `tests.telegram_api` importable.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.telegram_api import (  # noqa: E402
    AnyApplication,
    FakeTelegram,
    channel,
    group,
    private_chat,
    running_application,
    running_fake_telegram,
    telegram_api_fixture,
    user,
)

pytestmark = pytest.mark.asyncio
telegram_api = telegram_api_fixture  # registers the `telegram_api` fixture in this module

ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", language_code="de")
GROUP = group(-1001234567890, "Rumor watchers")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_html(
        f"<b>echo:</b> {html.escape(update.effective_message.text)}"
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"started {context.args}", do_quote=True)


@pytest_asyncio.fixture
async def app(telegram_api: FakeTelegram) -> AsyncIterator[AnyApplication]:
    application = telegram_api.application_builder().build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with running_application(application):
        yield application


@pytest_asyncio.fixture
async def bot(telegram_api: FakeTelegram) -> AsyncIterator[Bot]:
    telegram_api.add_chat(private_chat(ALICE))
    async with Bot(
        telegram_api.token,
        base_url=f"{telegram_api.url}/bot",
        base_file_url=f"{telegram_api.url}/file/bot",
    ) as b:
        yield b


async def test_polling_echo_and_command(telegram_api: FakeTelegram, app: AnyApplication) -> None:
    telegram_api.private_text(ALICE, "is <this> true & real?")
    telegram_api.private_text(BOB, "/start now", language_code="de")
    first, second = await telegram_api.wait_for_sent(2)

    assert (first.chat_id, first.parse_mode) == (ALICE["id"], "HTML")
    assert first.text == "<b>echo:</b> is &lt;this&gt; true &amp; real?"
    assert first.plain_text == "echo: is <this> true & real?"
    assert first.entities == [{"type": "bold", "offset": 0, "length": 5}]
    assert first.reply_to_message_id is None
    # CommandHandler only fires if the builder produced a bot_command entity
    assert (second.chat_id, second.plain_text) == (BOB["id"], "started ['now']")
    assert second.reply_to_message_id is not None
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage"} <= {
        c.method for c in telegram_api.calls
    }
    await telegram_api.wait_until_consumed()


async def test_every_builder_reaches_handlers(telegram_api: FakeTelegram) -> None:
    received: asyncio.Queue[Update] = asyncio.Queue()

    async def collect(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await received.put(update)

    application = telegram_api.application_builder().build()
    application.add_handler(TypeHandler(Update, collect))
    news = channel(-1009876543210, "News", "news")
    async with running_application(application):
        added = telegram_api.bot_added_to_group(GROUP, ALICE, as_admin=True)
        mention = telegram_api.group_text(
            ALICE, GROUP, "hey @rumor_test_bot /check@rumor_test_bot 😀 https://x.io/a."
        )
        telegram_api.group_text(BOB, GROUP, "reply", reply_to=mention["message"]["message_id"])
        telegram_api.forwarded_from_channel(ALICE, "Breaking!", "Daily Rumors", "dailyrumors", 77)
        telegram_api.channel_post_auto_forward(GROUP, news, "post text")
        telegram_api.photo_with_caption(ALICE, "a photo", "PHOTO-UNIQ")
        telegram_api.video_with_caption(ALICE, "a video", "VIDEO-UNIQ")
        telegram_api.media_group(ALICE, 3, "album")
        telegram_api.document(ALICE, "notes.txt", b"hello", caption="doc")
        telegram_api.bot_removed_from_group(GROUP, ALICE)
        updates = [await asyncio.wait_for(received.get(), 5) for _ in range(12)]
        with pytest.raises(Forbidden, match="bot was kicked"):
            await application.bot.send_message(GROUP["id"], "still here?")

    assert [u.update_id for u in updates] == sorted(u.update_id for u in updates)
    assert updates[0].update_id == added["update_id"]
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == ChatMemberStatus.ADMINISTRATOR
    msgs = [u.message for u in updates[1:11]]
    assert all(m is not None for m in msgs)
    text = msgs[0]
    assert text is not None and text.chat.type == "supergroup"
    assert [e.type for e in text.entities] == ["mention", "bot_command", "url"]
    assert text.parse_entities() == {
        text.entities[0]: "@rumor_test_bot",
        text.entities[1]: "/check@rumor_test_bot",
        text.entities[2]: "https://x.io/a",
    }
    assert msgs[1] is not None and msgs[1].reply_to_message is not None
    assert msgs[1].reply_to_message.message_id == text.message_id
    fwd = msgs[2]
    assert fwd is not None and isinstance(fwd.forward_origin, MessageOriginChannel)
    assert fwd.forward_origin.chat.username == "dailyrumors"
    assert fwd.forward_origin.message_id == 77
    auto = msgs[3]
    assert auto is not None and auto.is_automatic_forward
    assert auto.sender_chat is not None and auto.sender_chat.id == news["id"]
    assert msgs[4] is not None and msgs[4].photo[-1].file_unique_id == "PHOTO-UNIQ"
    assert msgs[4].caption == "a photo"
    assert msgs[5] is not None and msgs[5].video is not None
    assert msgs[5].video.file_unique_id == "VIDEO-UNIQ"
    album = msgs[6:9]
    assert len({m.media_group_id for m in album if m}) == 1 and album[0] and album[0].caption
    assert msgs[9] is not None and msgs[9].document is not None
    assert msgs[9].document.file_name == "notes.txt"
    assert updates[11].my_chat_member is not None
    assert updates[11].my_chat_member.new_chat_member.status == ChatMemberStatus.LEFT


async def test_get_updates_long_poll_offset_limit_allowed(
    telegram_api: FakeTelegram, bot: Bot
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    first = telegram_api.private_text(ALICE, "wake up")
    assert [u.update_id for u in await poll] == [first["update_id"]]
    assert loop.time() - started < 1  # answered on push, not at the 5 s timeout

    second = telegram_api.private_text(ALICE, "two")
    telegram_api.private_text(ALICE, "three")
    batch = await bot.get_updates(offset=first["update_id"] + 1, limit=1)
    assert [u.update_id for u in batch] == [second["update_id"]]
    assert len(telegram_api.pending_updates) == 2  # the offset confirmed only the first
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == ()
    assert len(await bot.get_updates(timeout=0, allowed_updates=[])) == 2  # [] = default set


@pytest.mark.parametrize(
    "bad, why",
    [
        ("<b>unclosed", 'can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "unmatched end tag"),
        ("<foo>x</foo>", 'unsupported start tag "foo" at byte offset 0'),
        ("<br>", 'unsupported start tag "br"'),
        ("2 < 3", "unescaped '<' at byte offset 2"),
        ("AT&T", "unescaped '&' at byte offset 2"),
        ("AT&T rocks", "unescaped '&' at byte offset 2"),
        ("&amp x", "unescaped '&' at byte offset 0"),
        ("a&nbsp;b", 'unsupported html entity "&nbsp;"'),
        ("é<foo>", '"foo" at byte offset 2'),  # offsets count UTF-8 bytes
        ('<span class="x">s</span>', "must have class"),
        ("</b>", "unexpected end tag"),
    ],
)
async def test_malformed_html_is_rejected(bot: Bot, bad: str, why: str) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities") as caught:
        await bot.send_message(ALICE["id"], bad, parse_mode=ParseMode.HTML)
    assert why in caught.value.message


async def test_valid_html_entities_and_lengths(telegram_api: FakeTelegram, bot: Bot) -> None:
    source = (
        '<b>b<i>i</i></b> <a href="https://e.com/?a=1&b=2">l</a> &lt;&amp;&#62;&quot;&#x1F600;'
        '<pre><code class="language-py">x</code></pre><tg-spoiler>s</tg-spoiler>'
        "<blockquote expandable>q</blockquote>"
    )
    msg = await bot.send_message(ALICE["id"], source, parse_mode=ParseMode.HTML)
    assert msg.text == 'bi l <&>"😀xsq'
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [
        ("bold", 0, 2),
        ("italic", 1, 1),
        ("text_link", 3, 1),
        ("pre", 11, 1),  # 😀 is 2 units
        ("spoiler", 12, 1),
        ("expandable_blockquote", 13, 1),
    ]
    assert msg.entities[2].url == "https://e.com/?a=1&b=2" and msg.entities[3].language == "py"

    # The limit applies to visible text in UTF-16 code units: markup is free, emoji count twice.
    await bot.send_message(ALICE["id"], f"<b>{'a' * 4096}</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(ALICE["id"], "😀" * 2048)
    for too_long in ("a" * 4097, "😀" * 2049):
        with pytest.raises(BadRequest, match=r"^Message is too long$"):
            await bot.send_message(ALICE["id"], too_long)
    with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
        await bot.send_document(ALICE["id"], b"x", filename="x.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(ALICE["id"], "<b> </b>", parse_mode=ParseMode.HTML)
    assert len(telegram_api.sent) == 3

    reply = await bot.send_message(ALICE["id"], "r", reply_parameters=ReplyParameters(99999))
    assert telegram_api.sent[-1].reply_to_message_id == 99999 and reply.reply_to_message is None
    with pytest.raises(Forbidden, match="initiate conversation"):
        await bot.send_message(555, "who?")


async def test_flood_control_raises_retry_after(
    telegram_api: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without this opt-in, PTB 22 emits a PTBDeprecationWarning from inside RetryAfter.__init__.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    telegram_api.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ALICE["id"], "first")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(ALICE["id"], "second")
    calls = telegram_api.calls_to("sendMessage")
    assert [c.params["text"] for c in calls] == ["first", "second"]
    assert calls[0].time <= calls[1].time
    assert [m.text for m in telegram_api.sent] == ["second"]


async def test_document_upload_and_download(telegram_api: FakeTelegram, bot: Bot) -> None:
    payload = bytes(range(256)) * 10
    msg = await bot.send_document(
        ALICE["id"], payload, filename="report.bin", caption="<i>r</i>", parse_mode=ParseMode.HTML
    )
    sent = telegram_api.sent[-1]
    assert sent.document is not None and sent.document.content == payload
    assert (sent.document.file_name, sent.plain_text) == ("report.bin", "r")
    assert msg.document is not None and msg.caption == "r"
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == payload

    upload = telegram_api.document(ALICE, "rumor.txt", b"user bytes", queue=False)
    incoming = await bot.get_file(upload["message"]["document"]["file_id"])
    assert bytes(await incoming.download_as_bytearray()) == b"user bytes"
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_callback_query_answer_and_edit(telegram_api: FakeTelegram) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer(f"you chose {query.data}")
        await query.edit_message_text(f"<b>{query.data}</b>", parse_mode=ParseMode.HTML)

    application = telegram_api.application_builder().build()
    application.add_handler(CallbackQueryHandler(on_button))
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    telegram_api.add_chat(private_chat(ALICE))
    async with running_application(application):
        await application.bot.send_message(ALICE["id"], "Is it true?", reply_markup=keyboard)
        question = telegram_api.sent[0]
        assert question.reply_markup == keyboard.to_dict()
        telegram_api.callback_query(ALICE, question, "yes")
        await telegram_api.wait_for_calls("editMessageText")
        with pytest.raises(BadRequest, match="Message is not modified"):
            await application.bot.edit_message_text(
                "<b>yes</b>", ALICE["id"], question.message_id, parse_mode=ParseMode.HTML
            )

    assert telegram_api.callback_answers[0]["text"] == "you chose yes"
    stored = telegram_api.message(ALICE["id"], question.message_id)
    assert stored["text"] == "yes" and "reply_markup" not in stored
    assert telegram_api.edited[0].entities == [{"type": "bold", "offset": 0, "length": 3}]


async def test_chat_admin_and_misc_methods(telegram_api: FakeTelegram, bot: Bot) -> None:
    telegram_api.group_text(ALICE, GROUP, "hi", queue=False)
    telegram_api.group_text(BOB, GROUP, "hi", queue=False)
    telegram_api.set_admins(GROUP["id"], [ALICE["id"], bot.id], creator_id=ALICE["id"])
    admins = await bot.get_chat_administrators(GROUP["id"])
    assert [a.status for a in admins] == ["creator", "administrator"]
    assert (await bot.get_chat_member(GROUP["id"], BOB["id"])).status == "member"
    assert (await bot.get_chat(GROUP["id"])).title == GROUP["title"]
    assert await bot.send_chat_action(GROUP["id"], "typing")
    assert await bot.set_my_commands([("check", "Check a rumor")])
    msg = await bot.send_message(GROUP["id"], "x")
    assert await bot.set_message_reaction(GROUP["id"], msg.message_id, "👍")
    assert telegram_api.reactions[(GROUP["id"], msg.message_id)][0]["emoji"] == "👍"
    assert await bot.delete_message(GROUP["id"], msg.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(GROUP["id"], msg.message_id)
    assert await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook() and await bot.close() and await bot.log_out()


async def test_wrong_token_is_rejected_on_initialize(telegram_api: FakeTelegram) -> None:
    application = (
        Application.builder()
        .token("999:WRONG")
        .base_url(f"{telegram_api.url}/bot")
        .base_file_url(f"{telegram_api.url}/file/bot")
        .build()
    )
    try:
        with pytest.raises(InvalidToken, match="was rejected by the server"):
            await application.initialize()
    finally:
        # Application.shutdown() is a no-op when initialize failed, but the HTTP clients are open.
        await application.bot.shutdown()


async def test_context_manager_and_unknown_method() -> None:
    async with (
        running_fake_telegram("42:abc") as api,
        Bot("42:abc", base_url=f"{api.url}/bot") as b,
    ):
        assert b.id == 42 and b.username == "rumor_test_bot"
        with pytest.raises(EndPointNotFound, match="not found"):
            await b.do_api_request("noSuchMethod")
