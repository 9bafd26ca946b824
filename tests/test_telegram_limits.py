"""Flood limits: a per-user allowance with a friendly word, and Telegram's own limits honoured."""

from __future__ import annotations

import itertools
import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from handlers.telegram_context import Allowance, Tuning
from tests.conftest import TelegramHarness
from tests.telegram_api import user

# Every connection stays on this machine: the Bot API stand-in and the bot's own webhook.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ALICE = user(1001, "Alice", "alice")
BOB = user(1002, "Bob", "bob")
RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)


async def test_a_flooding_user_is_told_once_and_others_still_get_answers(
    telegram: TelegramHarness,
) -> None:
    await telegram.start(Tuning(flood_posts=3, flood_period=60, private_chat_rate=50))
    for n in range(8):
        telegram.api.private_text(ALICE, f"Post number {n} about the football league results")
    telegram.api.private_text(BOB, RUMOUR)

    await telegram.api.wait_for_sent(5, timeout=20)
    await telegram.settle()

    to_alice = [m.plain_text for m in telegram.api.sent if m.chat_id == ALICE["id"]]
    assert len(to_alice) == 4  # three answers and one warning; the other four posts are ignored
    assert (
        to_alice.count(
            "You are sending posts faster than I can check them. "
            "Please wait a minute, then send the rest again."
        )
        == 1
    )
    assert [m.plain_text[:7] for m in telegram.api.sent if m.chat_id == BOB["id"]] == ["❌ False"]


def test_allowance_refills_with_time() -> None:
    now = [0.0]
    allowance = Allowance(posts=2, period=60, clock=lambda: now[0])

    assert [allowance.take(1) for _ in range(4)] == ["ok", "ok", "warn", "drop"]
    now[0] = 30.0  # half the period: one post back
    assert [allowance.take(1), allowance.take(1)] == ["ok", "warn"]
    assert allowance.take(2) == "ok"  # other users are unaffected


async def test_retry_after_is_honoured(telegram: TelegramHarness) -> None:
    await telegram.start()
    telegram.api.fail_next("sendMessage", retry_after=1)
    telegram.api.private_text(ALICE, RUMOUR)

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)

    refused, accepted = telegram.api.calls_to("sendMessage")
    assert accepted.time - refused.time >= 1.0  # waited as long as Telegram asked
    assert reply.plain_text.startswith("❌ False")


async def test_replies_into_one_private_chat_are_paced(telegram: TelegramHarness) -> None:
    await telegram.start(Tuning(private_chat_rate=5, private_chat_burst=1))
    for n in range(4):
        telegram.api.private_text(ALICE, f"Post number {n} about the football league results")

    await telegram.api.wait_for_sent(4, timeout=15)

    times = [c.time for c in telegram.api.calls_to("sendMessage")]
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(times))
