"""Fixtures: a real SQLite file per test, the real embedding model, the bundled seed KB."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb.db import open_database
from kb.embed import Embedder, default_embedder
from kb.service import KnowledgeBase
from tests.embedders import CountingEmbedder, RememberingEmbedder

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return RememberingEmbedder(default_embedder())


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kb.db'}"


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_database(db_url) as factory:
        yield factory


@pytest.fixture
async def kb(
    sessions: async_sessionmaker[AsyncSession], embedder: Embedder
) -> AsyncIterator[KnowledgeBase]:
    base = KnowledgeBase(sessions, CountingEmbedder(embedder))
    yield base
    base.close()


@pytest.fixture
async def seeded_kb(kb: KnowledgeBase) -> KnowledgeBase:
    await kb.seed()
    return kb


async def reset_postgres(url: str) -> None:
    """An empty public schema: each PostgreSQL test starts from nothing."""
    from sqlalchemy import text

    from kb.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    return url


# --- Telegram bot tests -----------------------------------------------------------------------
# The real bot (bot.telegram_app) over real HTTP against tests/telegram_api.py's FakeTelegram,
# on a copy of a database where the seed KB was embedded once per session.


class TelegramHarness:
    """A running FakeTelegram and KB; `start()` runs the bot against them until the test ends."""

    def __init__(self, api, kb: KnowledgeBase, db_url: str) -> None:  # type: ignore[no-untyped-def]
        import asyncio

        self.api, self.kb, self.db_url = api, kb, db_url
        self.app = None
        self._stop = asyncio.Event()
        self._task = None

    def settings(self, **overrides):  # type: ignore[no-untyped-def]
        from bot.config import Settings

        values = {
            "telegram_bot_token": self.api.token,
            "telegram_api_base_url": f"{self.api.url}/bot",
            "database_url": self.db_url,
        }
        return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]

    async def start(self, tuning=None, **settings):  # type: ignore[no-untyped-def]
        """Build the bot (test tuning: short batch window, no private-chat throttling) and run it."""
        import asyncio

        from bot.telegram_app import build_application, serve
        from handlers.telegram_context import Tuning

        fast = Tuning(batch_window=0.3, batch_max_wait=1.0, private_chat_rate=50.0)
        config = self.settings(**settings)
        self.app = build_application(config, self.kb, tuning or fast)
        self._task = asyncio.create_task(serve(self.app, config, self._stop))
        method = "setWebhook" if config.webhook_url else "getUpdates"
        ready = asyncio.create_task(self.api.wait_for_calls(method, timeout=10))
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            self._task.result()  # raises what serve() raised
            raise AssertionError("the bot stopped before it was ready")
        ready.result()
        return self.app

    async def unsure_post(self) -> str:
        """A post the matcher is unsure about (decision "ask"), whatever its calibration.

        Posts under five words are never answered on similarity alone, so a short question
        repeating an entry's variant is asked about.
        """
        from kb.interchange import EntryIn
        from kb.matcher import Decision

        entry = {
            "id": "almaty-water",
            "claim": "Foreign agents have poisoned the city water supply in Almaty.",
            "variants": ["Almaty water is poisoned"],
            "verdict": "false",
            "summary": "Almaty's water utility tests the water daily and found nothing harmful.",
            "lang": "en",
            "sources": [{"url": "https://example.org/almaty-water", "title": "Water tests"}],
        }
        await self.kb.import_entries([EntryIn.model_validate(entry)], actor="test")
        post = "Is Almaty water poisoned?"
        result = await self.kb.match(post)
        assert (result.decision, result.entry_id) == (Decision.ASK, "almaty-water"), result
        return post

    async def settle(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until every queued update has been fetched and fully handled."""
        import asyncio

        deadline = asyncio.get_running_loop().time() + timeout
        idle = 0
        while idle < 3:  # idle three polls in a row: no update between queue and handler
            # Polled rather than FakeTelegram.wait_until_consumed(): the stand-in notifies when a
            # request ends, and the getUpdates that confirms the last update is a long poll.
            processor = self.app.update_processor
            busy = (
                self.api.pending_updates
                or processor.current_concurrent_updates
                or not self.app.update_queue.empty()
                or len(self.app.bot_data.batches)
            )
            idle = 0 if busy else idle + 1
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the bot is still busy")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        import asyncio

        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 15)
            self._task = None


@asynccontextmanager
async def running_harness(db_url: str, embedder: Embedder) -> AsyncIterator[TelegramHarness]:
    """A FakeTelegram and a KB on `db_url`; the bot, once started, is stopped on the way out."""
    from tests.telegram_api import running_fake_telegram

    async with running_fake_telegram() as api, open_database(db_url) as factory:
        kb = KnowledgeBase(factory, embedder)
        harness = TelegramHarness(api, kb, db_url)
        try:
            yield harness
        finally:
            await harness.stop()
            kb.close()


@pytest.fixture
async def telegram(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, embedder: Embedder
) -> AsyncIterator[TelegramHarness]:
    """A FakeTelegram and a seeded KB; `await telegram.start()` runs the bot on them."""
    import shutil

    template = tmp_path_factory.getbasetemp() / "telegram-seeded.db"
    if not template.exists():  # embedding the seed takes seconds: once per session
        building = template.with_name("telegram-seeding.db")
        async with open_database(f"sqlite:///{building}") as factory:
            seeding = KnowledgeBase(factory, embedder)
            try:
                await seeding.seed()
            finally:
                seeding.close()
        building.replace(template)  # only a complete KB becomes the template
    shutil.copy(template, tmp_path / "telegram.db")
    db_url = f"sqlite:///{tmp_path / 'telegram.db'}"
    async with running_harness(db_url, embedder) as harness:
        yield harness


@pytest.fixture
async def telegram_on_postgres(
    postgres_url: str, embedder: Embedder
) -> AsyncIterator[TelegramHarness]:
    """As `telegram`, with the seed KB in PostgreSQL: the scale-out set-up."""
    await reset_postgres(postgres_url)
    async with running_harness(postgres_url, embedder) as harness:
        await harness.kb.seed()
        yield harness
