"""Groups and channel discussion groups: answers on request, and auto-replies only when enabled.

Privacy mode is assumed throughout: the bot is sent commands, mentions and replies, never the
rest of the conversation, so the message asked about reaches it only inside the request.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from kb import chats
from kb.queue import open_items
from tests.conftest import TelegramHarness
from tests.telegram_api import SentMessage, channel, group, user

# Every connection stays on this machine: the Bot API stand-in and the bot's own webhook.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ALICE = user(1001, "Alice", "alice")  # the group's admin
BOB = user(1002, "Bob", "bob")
GROUP = group(-1001234567890, "Rumour watchers")
DISCUSSION = group(-1005550000001, "Daily News chat")
NEWS = channel(-1005550000000, "Daily News", "dailynews")
RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
RUMOUR_RU = "Казахстан тайно отправляет танки и бронетехнику в Россию, вот видео колонны на границе"
CHATTER = "Anyone up for football on Saturday? The weather looks great and the pitch is free"


def is_rebuttal(reply: SentMessage) -> bool:
    return reply.plain_text.startswith("❌") and "Sources:" in reply.plain_text


async def switch_autoreply(telegram: TelegramHarness, chat: dict[str, object], arg: str) -> str:
    telegram.api.set_admins(chat["id"], [ALICE["id"]], creator_id=ALICE["id"])  # type: ignore[arg-type]
    before = len(telegram.api.sent)
    telegram.api.group_text(ALICE, chat, f"/autoreply {arg}")
    replies = await telegram.api.wait_for_sent(before + 1, timeout=15)
    return replies[-1].plain_text


async def test_mention_in_reply_checks_the_replied_message(telegram: TelegramHarness) -> None:
    await telegram.start()
    rumour = telegram.api.group_text(BOB, GROUP, RUMOUR, queue=False)  # privacy mode: unseen
    telegram.api.group_text(
        ALICE, GROUP, "@rumor_test_bot is this true?", reply_to=rumour["message"]
    )

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.chat_id == GROUP["id"]
    assert reply.reply_to_message_id == rumour["message"]["message_id"]  # under the rumour
    assert is_rebuttal(reply)
    assert reply.reply_markup is not None  # helpful / not this


async def test_reply_with_check_command_checks_the_replied_message(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    rumour = telegram.api.group_text(BOB, GROUP, RUMOUR_RU, queue=False)
    telegram.api.group_text(ALICE, GROUP, "/check@rumor_test_bot", reply_to=rumour["message"])

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.reply_to_message_id == rumour["message"]["message_id"]
    assert reply.plain_text.startswith("❌ Неправда")


async def test_mention_with_its_own_words_checks_those_words(telegram: TelegramHarness) -> None:
    await telegram.start()
    asking = telegram.api.group_text(BOB, GROUP, f"@rumor_test_bot {RUMOUR}")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.reply_to_message_id == asking["message"]["message_id"]
    assert is_rebuttal(reply)


async def test_check_without_a_post_explains_itself(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.group_text(BOB, GROUP, "/check")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text.startswith("Reply /check to the message you want me to check")


async def test_unknown_post_asked_about_in_a_group_is_queued(telegram: TelegramHarness) -> None:
    await telegram.start()
    asking = telegram.api.group_text(BOB, GROUP, f"@rumor_test_bot {CHATTER}")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.reply_to_message_id == asking["message"]["message_id"]
    assert "passed it to our fact-checkers" in reply.plain_text
    async with telegram.kb.sessions() as session:
        [item] = await open_items(session)
    assert item.reason == "no_match"


async def test_unsure_match_in_a_group_is_queued_not_asked(telegram: TelegramHarness) -> None:
    text = await telegram.unsure_post()
    await telegram.start()
    post = telegram.api.group_text(BOB, GROUP, text, queue=False)
    telegram.api.group_text(ALICE, GROUP, "/check", reply_to=post["message"])

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert "Is this the claim you mean?" not in reply.plain_text
    assert reply.reply_markup is None
    assert "passed it to our fact-checkers" in reply.plain_text
    async with telegram.kb.sessions() as session:
        [item] = await open_items(session)
    assert item.text == text


async def test_a_message_is_answered_once(telegram: TelegramHarness) -> None:
    await telegram.start()
    rumour = telegram.api.group_text(BOB, GROUP, RUMOUR, queue=False)
    telegram.api.group_text(ALICE, GROUP, "/check", reply_to=rumour["message"])
    [answer] = await telegram.api.wait_for_sent(1, timeout=15)
    telegram.api.group_text(BOB, GROUP, "/check", reply_to=rumour["message"])

    _, pointer = await telegram.api.wait_for_sent(2, timeout=15)

    assert pointer.plain_text == "I have answered this message already."
    assert pointer.reply_to_message_id == answer.message_id


async def test_group_chatter_is_ignored_without_autoreply(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.group_text(BOB, GROUP, RUMOUR)  # an admin bot sees everything
    telegram.api.channel_post_auto_forward(DISCUSSION, NEWS, RUMOUR)

    await telegram.settle()

    assert telegram.api.sent == []


async def test_channel_post_gets_auto_reply_in_its_comment_thread(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    assert (await switch_autoreply(telegram, DISCUSSION, "on")).startswith(
        "Automatic answers are on."
    )
    post = telegram.api.channel_post_auto_forward(DISCUSSION, NEWS, RUMOUR)

    reply = (await telegram.api.wait_for_sent(2, timeout=15))[-1]

    assert reply.chat_id == DISCUSSION["id"]
    assert reply.reply_to_message_id == post["message"]["message_id"]  # a comment on the post
    assert is_rebuttal(reply)
    assert "Forwarded from" not in reply.plain_text  # it would only repeat the channel's name


async def test_autoreply_stays_silent_on_chatter_and_records_nothing(
    telegram: TelegramHarness,
) -> None:
    await telegram.start()
    await switch_autoreply(telegram, GROUP, "on")
    telegram.api.group_text(BOB, GROUP, CHATTER)
    telegram.api.channel_post_auto_forward(GROUP, NEWS, CHATTER)

    await telegram.settle()

    assert len(telegram.api.sent) == 1  # only the confirmation of /autoreply on
    async with telegram.kb.sessions() as session:
        assert await open_items(session) == []


async def test_autoreply_off_stops_it_at_once(telegram: TelegramHarness) -> None:
    await telegram.start()
    await switch_autoreply(telegram, DISCUSSION, "on")
    assert await switch_autoreply(telegram, DISCUSSION, "off") == "Automatic answers are off."
    telegram.api.channel_post_auto_forward(DISCUSSION, NEWS, RUMOUR)

    await telegram.settle()

    assert len(telegram.api.sent) == 2


async def test_removing_the_bot_switches_autoreply_off(telegram: TelegramHarness) -> None:
    await telegram.start()
    await switch_autoreply(telegram, GROUP, "on")
    telegram.api.bot_removed_from_group(GROUP, ALICE)
    await telegram.settle()
    telegram.api.bot_added_to_group(GROUP, ALICE, as_admin=True)
    telegram.api.group_text(BOB, GROUP, RUMOUR)

    await telegram.settle()

    assert len(telegram.api.sent) == 1
    assert not (await chats.load(telegram.kb.sessions, GROUP["id"])).autoreply


async def test_autoreply_cools_down_per_chat_and_entry(telegram: TelegramHarness) -> None:
    await telegram.start()
    await switch_autoreply(telegram, DISCUSSION, "on")
    telegram.api.channel_post_auto_forward(DISCUSSION, NEWS, RUMOUR)
    await telegram.api.wait_for_sent(2, timeout=15)
    telegram.api.channel_post_auto_forward(DISCUSSION, NEWS, RUMOUR)  # a new post, same words

    await telegram.settle()

    assert len(telegram.api.sent) == 2  # the same rumour again within the cooldown: silence


async def test_only_admins_switch_autoreply(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.set_admins(GROUP["id"], [ALICE["id"]])
    telegram.api.group_text(BOB, GROUP, "/autoreply on")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text == "Only the chat's admins can change this."
    assert not (await chats.load(telegram.kb.sessions, GROUP["id"])).autoreply


async def test_autoreply_threshold_raises_the_bar(telegram: TelegramHarness) -> None:
    confidence = (await telegram.kb.match(RUMOUR)).confidence
    assert confidence is not None and confidence < 1.0
    await telegram.start()
    await switch_autoreply(telegram, GROUP, "on")
    confirmation = await switch_autoreply(telegram, GROUP, "threshold 1")
    telegram.api.group_text(BOB, GROUP, RUMOUR)

    await telegram.settle()

    assert confirmation == "The bar for automatic answers is now 1.0."
    assert len(telegram.api.sent) == 2
    assert await switch_autoreply(telegram, GROUP, "threshold 7") == (
        "Use /autoreply on, /autoreply off or /autoreply threshold 0.97 "
        "(a number from 0.5 to 1; higher means fewer, surer answers)."
    )


async def test_thanks_under_the_bots_answer_is_not_checked(telegram: TelegramHarness) -> None:
    await telegram.start()
    rumour = telegram.api.group_text(BOB, GROUP, RUMOUR, queue=False)
    telegram.api.group_text(ALICE, GROUP, "/check", reply_to=rumour["message"])
    [answer] = await telegram.api.wait_for_sent(1, timeout=15)
    telegram.api.group_text(BOB, GROUP, "@rumor_test_bot thanks!", reply_to=answer)

    await telegram.settle()

    assert [m.plain_text for m in telegram.api.sent[1:]] == []


async def test_a_bare_mention_gets_a_hint_and_is_not_queued(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.group_text(BOB, GROUP, "@rumor_test_bot hi")

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    assert reply.plain_text.startswith("Reply /check to the message you want me to check")
    async with telegram.kb.sessions() as session:
        assert await open_items(session) == []
