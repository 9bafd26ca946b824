"""Fixtures: a real SQLite file per test, the real embedding model, the bundled seed KB."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb.db import open_database
from kb.embed import Embedder, default_embedder
from kb.service import KnowledgeBase
from tests.embedders import CountingEmbedder

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return default_embedder()


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


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("TEST_POSTGRES_URL not set (.ci/run starts a PostgreSQL server)")
    return url
