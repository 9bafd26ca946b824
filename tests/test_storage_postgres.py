"""The same storage code against a real PostgreSQL server (started by .ci/run)."""

from __future__ import annotations

from sqlalchemy import text

from kb import store
from kb.db import open_database
from kb.embed import Embedder
from kb.interchange import parse_entries
from kb.models import Report
from kb.service import KnowledgeBase
from tests.conftest import reset_postgres
from tests.test_migrations import head_revision

ENTRIES = parse_entries("""
- id: heating-ban
  claim: "Germany bans all gas heating next year"
  variants: ["Ab 2024 sind alle Gasheizungen verboten"]
  verdict: misleading
  summary: "Only newly installed systems are affected."
  lang: en
  translations: {de: {claim: "Deutschland verbietet Gasheizungen", summary: "Nur neue Anlagen."}}
  sources: [{url: "https://correctiv.org/x", title: "Faktencheck", publisher: "Correctiv"}]
""")


async def test_entries_vectors_and_reports_round_trip_on_postgres(
    postgres_url: str, embedder: Embedder
) -> None:
    await reset_postgres(postgres_url)
    async with open_database(postgres_url) as sessions:
        kb = KnowledgeBase(sessions, embedder)
        try:
            report = await kb.import_entries(ENTRIES, actor="test")
            assert report.created == ["heating-ban"]
            outcome = await kb.check(
                "Stimmt es, dass ab nächstem Jahr alle Gasheizungen in "
                "Deutschland verboten werden?",
                platform="test",
            )
        finally:
            kb.close()
        async with sessions() as session:
            assert await store.get_entry(session, "heating-ban") == ENTRIES[0]
            # claim, summary, variant, and the German claim and summary
            assert len(await store.stored_hashes(session, embedder.name)) == 5
            assert len(await store.stored_hashes(session, store.terms_model(embedder.name))) == 5
            rows = (await session.exec(text("SELECT count(*) FROM report"))).one()  # type: ignore[call-overload]
            assert rows[0] == 1
            trail = await store.audit_trail(session, "heating-ban")
            assert [r.action for r in trail] == ["import"]
    assert outcome.result.candidates[0].entry_id == "heating-ban"
    assert Report.__tablename__ == "report"


async def test_migrations_are_idempotent_on_postgres(postgres_url: str) -> None:
    await reset_postgres(postgres_url)
    async with open_database(postgres_url):
        pass
    async with open_database(postgres_url) as sessions, sessions() as session:
        version = (await session.exec(text("SELECT version_num FROM alembic_version"))).one()  # type: ignore[call-overload]
    assert version[0] == head_revision()
