"""Several workers behind a load balancer: a moderator's conversation goes on, whichever worker
receives each of its steps.

Two real bots (bot.telegram_app), each with its own webhook server, database engine and
knowledge base, share one SQLite file, as `rumorbot run` processes share one DATABASE_URL. The
test is the load balancer: it POSTs each update over HTTP to the next worker in turn, so every
step of a conversation reaches the other worker than the step before it.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
from sqlmodel import col, select

from bot.telegram_app import build_application, serve
from handlers.telegram_context import Tuning
from handlers.telegram_webhook import SECRET_HEADER
from kb import roles, store
from kb.db import open_database
from kb.embed import Embedder
from kb.models import Conversation, Entry, Status
from kb.service import KnowledgeBase
from tests.conftest import TelegramHarness
from tests.telegram_api import JSON, FakeTelegram, SentMessage
from tests.test_telegram_mod_new import (
    ALICE,
    BOB,
    CLAIM,
    MIRA,
    NEW_ID,
    OWNER,
    PARAPHRASE_RU,
    POST,
    SUMMARY,
)
from tests.test_telegram_run import free_port

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

CONVOY = "kz-convoy-exercises"
SECRET = "shared-webhook-secret"  # every worker must have the same one


@dataclass
class LoadBalancer:
    """Sends each update to the next worker's webhook in turn, as a round-robin balancer does."""

    api: FakeTelegram
    http: aiohttp.ClientSession
    workers: list[str]  # webhook URLs
    received: dict[str, int] = field(default_factory=dict)
    _turn: Iterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(self.workers)

    async def deliver(self, update: JSON, to: str | None = None) -> None:
        url = to or next(self._turn)
        async with self.http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200, await response.text()
        self.received[url] = self.received.get(url, 0) + 1

    async def say(self, who: JSON, text: str) -> SentMessage:
        """A private message of `who`, and the bot's answer to it."""
        before = len(self.api.sent)
        lang = str(who.get("language_code", "en"))
        await self.deliver(self.api.private_text(who, text, lang, queue=False))
        [answer] = await self.api.wait_for_sent_to(who["id"], after=before, timeout=20)
        return answer

    async def press(self, who: JSON, on: SentMessage, data: str) -> SentMessage:
        """Press a button of `on`; the first message the bot sends after it (not the edit)."""
        before = len(self.api.sent)
        await self.deliver(self.api.callback_query(who, on, data, queue=False))
        await self.api.wait_for_edit(on.chat_id, on.message_id, timeout=20)
        [answer] = await self.api.wait_for_sent_to(who["id"], after=before, timeout=20)
        return answer


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest) -> TelegramHarness:
    """The first worker's harness, on SQLite (the default) and on PostgreSQL (scale-out)."""
    name = "telegram_on_postgres" if request.param == "postgres" else "telegram"
    harness: TelegramHarness = request.getfixturevalue(name)
    return harness


@pytest.fixture
async def balancer(shared: TelegramHarness, embedder: Embedder) -> AsyncIterator[LoadBalancer]:
    """Two webhook workers on one database, and the load balancer in front of them."""
    async with shared.kb.sessions() as session:
        await roles.add_moderator(session, MIRA["id"], "Mira", "telegram:1")
        await session.commit()
    ports = [free_port(), free_port()]
    settings = {
        "webhook_url": "https://bot.example.org/telegram/hook",  # the balancer's public address
        "webhook_secret": SECRET,
        "webhook_listen": "127.0.0.1",
        "telegram_owner_ids": [OWNER["id"]],
    }
    # Worker one: the harness's bot and KB. Worker two: its own engine, KB and application.
    await shared.start(webhook_port=ports[0], **settings)
    stop = asyncio.Event()
    async with open_database(shared.db_url) as sessions, aiohttp.ClientSession() as http:
        kb = KnowledgeBase(sessions, embedder)
        config = shared.settings(webhook_port=ports[1], **settings)
        fast = Tuning(batch_window=0.3, batch_max_wait=1.0, private_chat_rate=50.0)
        second = asyncio.create_task(serve(build_application(config, kb, fast), config, stop))
        try:
            await shared.api.wait_for_calls("setWebhook", n=2, timeout=15)
            urls = [f"http://127.0.0.1:{port}/telegram/hook" for port in ports]
            yield LoadBalancer(shared.api, http, urls)
        finally:
            stop.set()
            await asyncio.wait_for(second, 15)
            kb.close()


async def entries_like(shared: TelegramHarness, prefix: str) -> list[Entry]:
    async with shared.kb.sessions() as session:
        found = await session.exec(select(Entry).where(col(Entry.id).startswith(prefix)))
        return list(found.all())


async def conversations(shared: TelegramHarness) -> list[Conversation]:
    async with shared.kb.sessions() as session:
        return list((await session.exec(select(Conversation))).all())


async def test_new_goes_on_whichever_worker_gets_each_step(
    shared: TelegramHarness, balancer: LoadBalancer
) -> None:
    lb, api = balancer, shared.api
    assert "not found" in (await lb.say(ALICE, POST)).plain_text

    assert (await lb.say(MIRA, "/new")).plain_text.startswith("New entry. Send the claim")
    question = await lb.say(MIRA, CLAIM)
    assert question.plain_text.startswith(f"Claim: {CLAIM}")
    asked = await lb.press(MIRA, question, "new:v:false")
    assert asked.plain_text.startswith("Send the summary")
    assert (await lb.say(MIRA, SUMMARY)).plain_text.startswith("Send the sources")
    languages = await lb.say(MIRA, "https://www.who.int/myth-busters WHO: myth busters")
    assert languages.plain_text.startswith("The entry's language? I guess en.")
    preview = await lb.press(MIRA, languages, "new:l:en")
    assert preview.plain_text.startswith("This is how the answer will read:\n\n❌ False")

    # "Publish" pressed twice (a double tap), each press reaching another worker at once.
    answers = len(api.calls_to("answerCallbackQuery"))
    await asyncio.gather(
        *(
            lb.deliver(api.callback_query(MIRA, preview, "new:ok:publish", queue=False), to=url)
            for url in lb.workers
        )
    )
    await api.wait_for_calls("answerCallbackQuery", n=answers + 2, timeout=20)
    closed = await api.wait_for_edit(preview.chat_id, preview.message_id, timeout=20)
    assert f"\n\nCreated {NEW_ID} (published)." in closed.plain_text
    assert [a.get("text") for a in api.callback_answers[-2:]].count(
        "This question is closed; start again with /new."
    ) == 1
    [created] = await entries_like(shared, NEW_ID)
    assert (created.claim, created.summary, created.status) == (CLAIM, SUMMARY, Status.PUBLISHED)
    assert await conversations(shared) == []

    # Both workers answer with the new entry: each rebuilt its index from the shared database.
    for worker in lb.workers:
        before = len(api.sent)
        await lb.deliver(api.private_text(BOB, PARAPHRASE_RU, "ru", queue=False), to=worker)
        [answer] = await api.wait_for_sent_to(BOB["id"], after=before, timeout=20)
        assert answer.plain_text.startswith("❌ Неправда")
        assert SUMMARY in answer.plain_text
    # Alternating: Alice's post, then Mira's seven steps, each to the other worker than the last.
    first, second = lb.workers
    assert lb.received == {first: 4 + 2, second: 3 + 2}  # + both presses, both of Bob's posts


async def test_translate_and_cancel_go_on_whichever_worker_gets_the_next_message(
    shared: TelegramHarness, balancer: LoadBalancer
) -> None:
    lb = balancer
    said = await lb.say(MIRA, f"/translate {CONVOY} de")
    assert said.plain_text.startswith("Send the de claim on the first line")
    said = await lb.say(MIRA, "Kasachstan schickt Panzer\nDas Ministerium sagt: Übungen.")
    assert said.plain_text == f"{CONVOY}: de translation saved."
    async with shared.kb.sessions() as session:
        entry = await store.get_entry(session, CONVOY)
    assert (
        entry is not None and entry.translations["de"].summary == "Das Ministerium sagt: Übungen."
    )

    await lb.say(MIRA, "/new")
    assert (await lb.say(MIRA, CLAIM)).plain_text.startswith(f"Claim: {CLAIM}")
    assert (await lb.say(MIRA, "/cancel")).plain_text == "Cancelled; nothing changed."
    # Ended on every worker: the next message is a post to check, not a better claim.
    assert "not found" in (await lb.say(MIRA, POST)).plain_text
    assert (await lb.say(MIRA, "/cancel")).plain_text == "Nothing to cancel."
    assert await entries_like(shared, NEW_ID) == []
    assert await conversations(shared) == []
    assert list(lb.received.values()) == [4, 3]  # seven messages, alternating
