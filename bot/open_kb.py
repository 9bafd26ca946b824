"""The KB as configured: the database at DATABASE_URL and the model with EMBED_THREADS copies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from kb.db import open_database
from kb.embed import default_embedder
from kb.service import KnowledgeBase


@asynccontextmanager
async def open_kb(settings: Settings) -> AsyncIterator[KnowledgeBase]:
    async with open_database(settings.database_url) as sessions:
        threads = settings.embed_threads
        kb = KnowledgeBase(sessions, default_embedder(threads), workers=threads)
        try:
            yield kb
        finally:
            kb.close()
