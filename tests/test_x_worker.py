"""The X worker against the local X API v2 stand-in, over real HTTP, with tweepy's real client.

The KB is the bundled seed KB on a real SQLite file (seeded once per session, copied per test).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import tweepy
from sqlmodel import select
from tweepy.asynchronous import AsyncClient

from bot.config import Settings
from bot.x_app import run_x
from bot.x_http import build_x_session
from bot.x_state import SINCE_ID
from bot.x_worker import XWorker, seconds_until_reset
from kb import review, store
from kb.db import open_database
from kb.embed import Embedder
from kb.interchange import EntryIn
from kb.models import QueueAsker, QueueItem, Report
from kb.service import KnowledgeBase
from tests.x_accounts import (
    ACCESS_TOKEN,
    ACCESS_TOKEN_SECRET,
    ALICE,
    BOB,
    BOT_ID,
    BOT_NAME,
    CAROL,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    new_fake,
)
from tests.x_api import FakeX, StoredTweet, running_fake_x

SECRETS = (CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_SECRET)

RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
DRONES = (
    "Chinese drones and microchips for the Russian army are flowing through Kazakhstan, "
    "sanctions do nothing at all"
)
CHATTER = (
    "Had a lovely lunch with my grandmother today, the soup was great and the weather was sunny"
)
CONVOY_SOURCE = (
    "https://www.inform.kz/en/defense-ministry-issues-official-statement-on-transportation-"
    "of-military-equipment-to-russia_a4095590/amp"
)
NOT_IN_KB = "This is not in our knowledge base yet"


# ------------------------------------------------------------------ fixtures


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def seeded_db_file(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The seed KB embedded once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("seeded") / "kb.db"
    async with open_database(f"sqlite:///{path}") as sessions:
        kb = KnowledgeBase(sessions, embedder)
        try:
            await kb.seed()
        finally:
            kb.close()
    return path


@pytest.fixture
def db_url(tmp_path: Path, seeded_db_file: Path) -> str:
    for part in seeded_db_file.parent.glob("kb.db*"):
        shutil.copy(part, tmp_path / part.name)
    return f"sqlite:///{tmp_path / 'kb.db'}"


@pytest_asyncio.fixture
async def x_kb(db_url: str, embedder: Embedder) -> AsyncIterator[KnowledgeBase]:
    async with open_database(db_url) as sessions:
        kb = KnowledgeBase(sessions, embedder)
        try:
            yield kb
        finally:
            kb.close()


@pytest_asyncio.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    async with running_fake_x(new_fake()) as fake:
        yield fake


@pytest_asyncio.fixture
async def http(fake_x: FakeX) -> AsyncIterator[aiohttp.ClientSession]:
    async with build_x_session(fake_x.base_url) as session:
        yield session


def user_client(http: aiohttp.ClientSession, secret: str = CONSUMER_SECRET) -> AsyncClient:
    client = AsyncClient(
        consumer_key=CONSUMER_KEY,
        consumer_secret=secret,
        access_token=ACCESS_TOKEN,
        access_token_secret=ACCESS_TOKEN_SECRET,
    )
    client.session = http
    return client


@pytest.fixture
def stop() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def worker(http: aiohttp.ClientSession, x_kb: KnowledgeBase, stop: asyncio.Event) -> XWorker:
    return XWorker(user_client(http), x_kb, stop, poll_interval=0.1)


def settings_for(fake: FakeX, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "x_api_key": CONSUMER_KEY,
        "x_api_secret": CONSUMER_SECRET,
        "x_access_token": ACCESS_TOKEN,
        "x_access_token_secret": ACCESS_TOKEN_SECRET,
        "x_api_base_url": fake.base_url,
        "x_poll_interval": 0.2,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def only_reply(fake: FakeX, tweet_id: str) -> StoredTweet:
    replies = [t for t in fake.replies_to(tweet_id) if t.author_id == BOT_ID]
    assert len(replies) == 1, [t.text for t in replies]
    return replies[0]


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait for `condition`, within 20 s."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110  (the stand-in's state has no event to await)
            await asyncio.sleep(0.05)


async def reports(kb: KnowledgeBase) -> list[Report]:
    async with kb.sessions() as session:
        return list((await session.exec(select(Report).where(Report.platform == "x"))).all())


# ------------------------------------------------------------ what gets answered


async def test_mention_under_rumour_gets_rebuttal_with_first_source_in_thread(
    worker: XWorker, fake_x: FakeX
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)

    await worker.poll()

    reply = only_reply(fake_x, ask)
    assert "❌ False" in reply.text
    assert CONVOY_SOURCE in reply.text
    assert "Ministry of Defence" in reply.text
    assert reply.conversation_id == rumour
    assert fake_x.replies_to(rumour) == [fake_x.tweet(ask)]  # the rumour itself is not replied to


async def test_mention_quoting_rumour_is_answered_about_the_quoted_post(
    worker: XWorker, fake_x: FakeX
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    quote = fake_x.post(BOB, f"@{BOT_NAME} fact check please", quote_of=rumour)

    await worker.poll()

    assert CONVOY_SOURCE in only_reply(fake_x, quote).text


async def test_bare_mention_is_checked_on_its_own_words(worker: XWorker, fake_x: FakeX) -> None:
    bare = fake_x.post(BOB, f"@{BOT_NAME} {RUMOUR}")

    await worker.poll()

    assert CONVOY_SOURCE in only_reply(fake_x, bare).text


async def test_chatter_gets_no_rebuttal_and_goes_to_the_review_queue(
    worker: XWorker, fake_x: FakeX, x_kb: KnowledgeBase
) -> None:
    chatter = fake_x.post(CAROL, CHATTER)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=chatter)

    await worker.poll()

    reply = only_reply(fake_x, ask)
    assert NOT_IN_KB in reply.text
    assert "http" not in reply.text and "False" not in reply.text
    async with x_kb.sessions() as session:
        (item,) = (await session.exec(select(QueueItem))).all()
        (asker,) = (await session.exec(select(QueueAsker))).all()
    assert item.text == CHATTER
    assert (asker.platform, asker.user_id, asker.message_id) == ("x", BOB, ask)


async def test_report_carries_platform_tweet_author_and_link(
    worker: XWorker, fake_x: FakeX, x_kb: KnowledgeBase
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)

    await worker.poll()

    (report,) = await reports(x_kb)
    assert (report.platform, report.message_id, report.user_id) == ("x", ask, BOB)
    assert report.url == f"https://x.com/i/web/status/{rumour}"
    assert report.chat_id == rumour  # the thread
    assert report.text == RUMOUR
    assert (report.decision, report.entry_id) == ("answer", "kz-convoy-exercises")


async def test_reply_is_in_the_askers_language(worker: XWorker, fake_x: FakeX) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} это правда?", reply_to=rumour, lang="ru")

    await worker.poll()

    reply = only_reply(fake_x, ask).text
    assert "❌ Неправда" in reply
    assert "Министерство обороны Казахстана" in reply
    assert f"Источник: {CONVOY_SOURCE}" in reply


async def test_reply_without_links_names_the_source(
    http: aiohttp.ClientSession, x_kb: KnowledgeBase, stop: asyncio.Event, fake_x: FakeX
) -> None:
    worker = XWorker(user_client(http), x_kb, stop, reply_links=False)
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)

    await worker.poll()

    reply = only_reply(fake_x, ask).text
    assert "http" not in reply
    assert "Source: Kazinform: «Defense Ministry issues official statement" in reply


async def test_reply_goes_to_the_asker_only(worker: XWorker, fake_x: FakeX) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)

    await worker.poll()

    # X would prefix everyone in the thread; the rumour's author did not ask us anything.
    reply = only_reply(fake_x, ask).text
    assert reply.startswith("@bob ❌")
    assert "@alice" not in reply


# ------------------------------------------------------------ what is never answered


async def test_mention_is_answered_once_across_polls(worker: XWorker, fake_x: FakeX) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)

    await worker.poll()
    await worker.poll()
    await worker.poll()

    only_reply(fake_x, ask)
    assert len(fake_x.posted_by_bot) == 1


async def test_restart_with_stored_since_id_neither_misses_nor_repeats(
    http: aiohttp.ClientSession, db_url: str, embedder: Embedder, fake_x: FakeX
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    first = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    async with open_database(db_url) as sessions:
        kb = KnowledgeBase(sessions, embedder)
        await XWorker(user_client(http), kb, asyncio.Event()).poll()
        kb.close()
    # Posted while the bot was down.
    second = fake_x.post(CAROL, f"@{BOT_NAME} true?", quote_of=rumour)

    async with open_database(db_url) as sessions:
        kb = KnowledgeBase(sessions, embedder)
        async with sessions() as session:
            assert await store.get_setting(session, SINCE_ID) == first
        await XWorker(user_client(http), kb, asyncio.Event()).poll()
        kb.close()

    only_reply(fake_x, first)
    only_reply(fake_x, second)
    assert len(fake_x.posted_by_bot) == 2
    polls = [c for c in fake_x.calls if c.path.endswith("/mentions")]
    assert polls[-1].query["since_id"] == first


async def test_mention_answered_before_a_crash_is_not_answered_again(
    worker: XWorker, fake_x: FakeX, x_kb: KnowledgeBase
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    await worker.poll()
    # As if the process died after replying but before since_id was saved.
    async with x_kb.sessions() as session:
        await store.set_setting(session, SINCE_ID, rumour)
        await session.commit()

    await worker.poll()

    only_reply(fake_x, ask)


async def test_author_who_says_stop_is_never_answered_again(worker: XWorker, fake_x: FakeX) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    await worker.poll()
    answer = only_reply(fake_x, ask)

    stop_word = fake_x.post(BOB, "STOP!", reply_to=answer.id)
    again = fake_x.post(BOB, f"@{BOT_NAME} and this?", quote_of=rumour)
    other = fake_x.post(CAROL, f"@{BOT_NAME} and this?", quote_of=rumour)
    await worker.poll()

    assert fake_x.replies_to(stop_word) == []
    assert fake_x.replies_to(again) == []
    only_reply(fake_x, other)


@pytest.mark.parametrize("word", ["stop", "Стоп", "stopp", "ТОҚТА."])
async def test_stop_in_our_languages_opts_out(
    worker: XWorker, fake_x: FakeX, x_kb: KnowledgeBase, word: str
) -> None:
    fake_x.post(BOB, f"@{BOT_NAME} {word}")
    await worker.poll()
    assert fake_x.posted_by_bot == []
    async with x_kb.sessions() as session:
        assert await store.get_setting(session, f"x:optout:{BOB}") is not None


async def test_replies_to_our_own_answers_are_not_answered(worker: XWorker, fake_x: FakeX) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    await worker.poll()
    answer = only_reply(fake_x, ask)

    thanks = fake_x.post(BOB, "thanks, good to know", reply_to=answer.id)
    await worker.poll()

    assert fake_x.replies_to(thanks) == []
    assert len(fake_x.posted_by_bot) == 1


async def test_mention_of_a_deleted_post_is_not_answered(worker: XWorker, fake_x: FakeX) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    fake_x.delete(rumour)

    await worker.poll()

    assert fake_x.replies_to(ask) == []


async def test_per_author_allowance_caps_answers_per_hour(
    http: aiohttp.ClientSession, x_kb: KnowledgeBase, stop: asyncio.Event, fake_x: FakeX
) -> None:
    worker = XWorker(user_client(http), x_kb, stop, answers_per_author=2)
    rumour = fake_x.post(ALICE, RUMOUR)
    floods = [
        fake_x.post(BOB, f"@{BOT_NAME} {text}")
        for text in (RUMOUR, DRONES, "is this true?", "and what about this one?")
    ]
    carol = fake_x.post(CAROL, f"@{BOT_NAME} true?", quote_of=rumour)

    await worker.poll()

    assert [len(fake_x.replies_to(f)) for f in floods] == [1, 1, 0, 0]
    only_reply(fake_x, carol)


async def test_first_start_answers_recent_mentions_not_old_backlog(x_kb: KnowledgeBase) -> None:
    now = [time.time() - 3 * 3600]
    fake = new_fake(clock=lambda: now[0])
    async with running_fake_x(fake), build_x_session(fake.base_url) as http:
        worker = XWorker(user_client(http), x_kb, asyncio.Event())
        rumour = fake.post(ALICE, RUMOUR)
        old = fake.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
        now[0] = time.time()
        recent = fake.post(CAROL, f"@{BOT_NAME} is this true?", reply_to=rumour)

        await worker.poll()

    assert fake.replies_to(old) == []
    only_reply(fake, recent)


async def test_duplicate_text_refused_by_x_is_skipped_and_others_still_answered(
    worker: XWorker, fake_x: FakeX
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    first = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    # Same asker, same rumour, same thread: X refuses the identical reply text.
    second = fake_x.post(BOB, f"@{BOT_NAME} really??", reply_to=rumour)
    bare = fake_x.post(CAROL, f"@{BOT_NAME} {RUMOUR}")

    await worker.poll()

    only_reply(fake_x, first)
    assert fake_x.replies_to(second) == []
    only_reply(fake_x, bare)
    assert fake_x.calls[-1].status == 201


# ------------------------------------------------------------ rate limits and refusals


async def test_rate_limited_poll_waits_for_the_reset_then_answers(
    fake_x: FakeX, x_kb: KnowledgeBase, db_url: str
) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    fake_x.fail_next("/2/users/", 429, method="GET", reset_in=2)
    stop = asyncio.Event()

    async with asyncio.timeout(30):
        task = asyncio.ensure_future(run_x(settings_for(fake_x, db_url), x_kb, stop))
        await eventually(lambda: len(fake_x.replies_to(ask)) == 1)
        stop.set()
        await task

    limited, *later = [c for c in fake_x.calls if c.path.startswith("/2/users/")]
    assert limited.status == 429
    assert later[0].time >= int(limited.time) + 2  # not before x-rate-limit-reset


async def test_shutdown_during_a_rate_limit_wait_is_immediate(
    fake_x: FakeX, x_kb: KnowledgeBase, db_url: str
) -> None:
    fake_x.fail_next("/2/users/", 429, method="GET", reset_in=900)
    stop = asyncio.Event()
    task = asyncio.ensure_future(run_x(settings_for(fake_x, db_url), x_kb, stop))
    await eventually(lambda: any(c.status == 429 for c in fake_x.calls))
    await asyncio.sleep(0.2)

    stop.set()
    started = time.monotonic()
    await asyncio.wait_for(task, 5)

    assert time.monotonic() - started < 1


async def test_posting_waits_for_the_24_hour_cap_not_only_the_15_minute_window(
    http: aiohttp.ClientSession, fake_x: FakeX
) -> None:
    day_reset = int(time.time()) + 6 * 3600
    fake_x.fail_next(
        "/2/tweets",
        429,
        method="POST",
        reset_in=60,
        headers={"x-app-limit-24hour-remaining": "0", "x-app-limit-24hour-reset": str(day_reset)},
    )
    with pytest.raises(tweepy.TooManyRequests) as err:
        await user_client(http).create_tweet(text="hello")

    assert 6 * 3600 - 5 <= seconds_until_reset(err.value) <= 6 * 3600 + 2


async def test_403_stops_only_the_x_worker_with_one_clear_line(
    fake_x: FakeX, x_kb: KnowledgeBase, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake_x.forbid()
    stop = asyncio.Event()

    async def other_platform() -> str:
        await stop.wait()
        return "stopped cleanly"

    caplog.set_level(logging.DEBUG)
    x_task = asyncio.ensure_future(run_x(settings_for(fake_x, db_url), x_kb, stop))
    other = asyncio.ensure_future(other_platform())
    await asyncio.wait_for(x_task, 10)

    assert not other.done()
    stop.set()
    assert await other == "stopped cleanly"
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "\n" not in line
    assert "403" in line and "Basic tier" in line and "attached to a Project" in line
    assert not any(secret in caplog.text for secret in SECRETS)


async def test_401_bad_keys_logs_one_line_naming_the_variables(
    fake_x: FakeX, x_kb: KnowledgeBase, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(fake_x, db_url, x_api_secret="not-the-secret")
    caplog.set_level(logging.DEBUG)

    await asyncio.wait_for(run_x(settings, x_kb, asyncio.Event()), 10)

    (error,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "401" in error.getMessage() and "X_API_SECRET" in error.getMessage()
    assert not any(secret in caplog.text for secret in (*SECRETS, "not-the-secret"))


async def test_x_server_errors_are_retried(fake_x: FakeX, x_kb: KnowledgeBase, db_url: str) -> None:
    rumour = fake_x.post(ALICE, RUMOUR)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=rumour)
    fake_x.fail_next("/2/users/", 503, method="GET", body="<html>Over capacity</html>")
    fake_x.fail_next("/2/tweets", 503, method="POST")
    stop = asyncio.Event()

    async with asyncio.timeout(30):
        task = asyncio.ensure_future(
            run_x(settings_for(fake_x, db_url, x_poll_interval=0.1), x_kb, stop)
        )
        await eventually(lambda: len(fake_x.replies_to(ask)) == 1)
        stop.set()
        await task

    assert [c.status for c in fake_x.calls if c.method == "POST"] == [503, 201]


async def answer_the_queued_chatter(x_kb: KnowledgeBase) -> None:
    """What a moderator does: write an entry for the queued post and attach the item to it."""
    async with x_kb.sessions() as session:
        (item,) = (await session.exec(select(QueueItem))).all()
    entry = EntryIn(
        id="lunch-post",
        claim=CHATTER,
        verdict="unproven",
        summary="A private post about a family lunch: there is no claim in it to check.",
        lang="en",
        sources=[{"url": "https://example.org/lunch", "title": "About this post"}],
    )
    await x_kb.import_entries([entry], actor="test")
    assert item.id is not None
    await review.attach(x_kb, item.id, "lunch-post", "telegram:1")


async def test_a_queued_mention_hears_back_once_when_moderators_answer_it(
    worker: XWorker, fake_x: FakeX, x_kb: KnowledgeBase
) -> None:
    chatter = fake_x.post(CAROL, CHATTER)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=chatter)
    assert fake_x.tweet(ask).text.startswith("@carol @rumor_responder")  # X adds the thread
    await worker.poll()
    assert NOT_IN_KB in only_reply(fake_x, ask).text
    await answer_the_queued_chatter(x_kb)

    await worker.poll()
    await worker.poll()  # told once, not on every poll

    answers = [t for t in fake_x.replies_to(ask) if t.author_id == BOT_ID]
    assert len(answers) == 2, [t.text for t in answers]
    first, follow_up = answers
    assert "no claim in it to check" in follow_up.text
    # Like the first answer, the follow-up is for the asker: Carol, whose post Bob asked
    # about and whom his mention @-mentions, is not notified.
    for answer in (first, follow_up):
        assert [m["username"] for m in answer.mentions] == ["bob"], answer.text
        assert answer.text.startswith("@bob ")
    lookups = [c for c in fake_x.calls if (c.method, c.path) == ("GET", "/2/tweets")]
    assert [(c.query["ids"], c.auth_scheme) for c in lookups] == [(ask, "OAuth")]


async def test_no_follow_up_under_a_deleted_mention_and_other_askers_still_hear_back(
    worker: XWorker, fake_x: FakeX, x_kb: KnowledgeBase
) -> None:
    chatter = fake_x.post(CAROL, CHATTER)
    gone = fake_x.post(ALICE, f"@{BOT_NAME} true?", reply_to=chatter)
    ask = fake_x.post(BOB, f"@{BOT_NAME} is this true?", reply_to=chatter)
    await worker.poll()
    await answer_the_queued_chatter(x_kb)
    fake_x.delete(gone)
    posted = len(fake_x.posted_by_bot)

    account = await worker.identify()
    assert account is not None
    assert await worker.follow_up(account) == 1

    [follow_up] = fake_x.posted_by_bot[posted:]
    assert follow_up.in_reply_to_tweet_id == ask
    assert follow_up.text.startswith("@bob ") and "@carol" not in follow_up.text
    async with x_kb.sessions() as session:
        askers = (await session.exec(select(QueueAsker))).all()
    assert sorted(a.user_id for a in askers if a.notified) == sorted([ALICE, BOB])
