"""`rumorbot run` as operators start it, against the local X stand-in (the acceptance run)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.x_api import FakeX, StoredTweet, running_fake_x

BOT_ID = "1500000000000000001"
BOT_NAME = "rumor_responder"
KEYS = {
    "X_API_KEY": "ck-e2e",
    "X_API_SECRET": "cs-e2e",
    "X_ACCESS_TOKEN": f"{BOT_ID}-at-e2e",
    "X_ACCESS_TOKEN_SECRET": "ats-e2e",
}
ALICE, BOB, CAROL = "2244994945", "783214", "17874544"
RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
CHATTER = "Good morning everyone, what a nice day for a walk in the park with the dog"
CONVOY_SOURCE = (
    "https://www.inform.kz/en/defense-ministry-issues-official-statement-on-transportation-"
    "of-military-equipment-to-russia_a4095590/amp"
)
STARTUP_AND_FIRST_REPLY = 60.0  # the first start embeds the seed KB


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    fake = FakeX(
        bot_user_id=BOT_ID,
        bot_username=BOT_NAME,
        consumer_key=KEYS["X_API_KEY"],
        consumer_secret=KEYS["X_API_SECRET"],
        access_token=KEYS["X_ACCESS_TOKEN"],
        access_token_secret=KEYS["X_ACCESS_TOKEN_SECRET"],
    )
    for user_id, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
        fake.add_user(user_id, name)
    async with running_fake_x(fake):
        yield fake


@pytest.fixture
async def rumorbot(fake_x: FakeX, tmp_path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`rumorbot run` with only X configured; killed at the end whatever happens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "X_"))}
    env.update(
        KEYS,
        X_POLL_INTERVAL="1",
        X_API_BASE_URL=fake_x.base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'rumorbot.db'}",
        LOG_LEVEL="INFO",
    )
    with (tmp_path / "rumorbot.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=tmp_path,  # no stray .env
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def log_of(tmp_path: Path) -> str:
    return (tmp_path / "rumorbot.log").read_text(encoding="utf-8", errors="replace")


async def wait_for_reply(
    fake: FakeX, tweet_id: str, process: asyncio.subprocess.Process, tmp_path: Path
) -> StoredTweet:
    """The bot's reply to `tweet_id`, once it shows up (callers bound the wait)."""
    while True:
        replies = [t for t in fake.replies_to(tweet_id) if t.author_id == BOT_ID]
        if replies:
            return replies[0]
        assert process.returncode is None, f"rumorbot exited:\n{log_of(tmp_path)}"
        await asyncio.sleep(0.2)


async def polls_after(fake: FakeX, moment: float, count: int) -> None:
    """Until the bot has polled its mentions `count` times since `moment`."""

    def polled() -> int:
        return sum(1 for c in fake.calls if c.path.endswith("/mentions") and c.time > moment)

    while polled() < count:  # noqa: ASYNC110  (the stand-in's state has no event to await)
        await asyncio.sleep(0.1)


async def test_rumorbot_run_answers_a_mention_under_a_rumour_once_and_exits_cleanly(
    fake_x: FakeX, rumorbot: asyncio.subprocess.Process, tmp_path: Path
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)

    async with asyncio.timeout(STARTUP_AND_FIRST_REPLY):
        reply = await wait_for_reply(fake_x, ask, rumorbot, tmp_path)
    assert CONVOY_SOURCE in reply.text
    assert reply.conversation_id == rumour

    chatter = fake_x.post(CAROL, CHATTER)
    small_talk = fake_x.post(BOB, f"@{BOT_NAME} what about this?", reply_to=chatter)
    async with asyncio.timeout(15):
        answer = await wait_for_reply(fake_x, small_talk, rumorbot, tmp_path)
        await polls_after(fake_x, time.time(), 2)  # later polls must not answer anything again
    assert "http" not in answer.text and "False" not in answer.text
    assert len(fake_x.replies_to(ask)) == 1
    assert len(fake_x.posted_by_bot) == 2

    rumorbot.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(rumorbot.wait(), 15) == 0, log_of(tmp_path)
    log = log_of(tmp_path)
    assert "Traceback" not in log
    assert not any(value in log for value in KEYS.values())
