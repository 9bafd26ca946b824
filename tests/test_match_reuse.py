"""A viral post arrives many times: the KB matches it once per KB version, not once per copy."""

from __future__ import annotations

import asyncio

from kb.interchange import EntryIn
from kb.service import KnowledgeBase
from tests.embedders import CountingEmbedder

POST = "Kazakhstan is secretly sending trains full of tanks to Russia, look at this video"


def counter(kb: KnowledgeBase) -> CountingEmbedder:
    assert isinstance(kb.embedder, CountingEmbedder)
    return kb.embedder


async def test_the_same_post_sent_at_once_by_many_is_embedded_once(
    seeded_kb: KnowledgeBase,
) -> None:
    await seeded_kb.matcher()
    before = counter(seeded_kb).queries_embedded
    results = await asyncio.gather(*(seeded_kb.match(POST) for _ in range(20)))
    assert {r.entry_id for r in results} == {"kz-convoy-exercises"}
    assert counter(seeded_kb).queries_embedded - before == 1


async def test_a_changed_kb_matches_the_post_afresh(seeded_kb: KnowledgeBase) -> None:
    first = await seeded_kb.match(POST)
    entry = EntryIn(
        id="kz-trains-tanks",
        claim="Kazakhstan sends trains full of tanks to Russia",
        verdict="false",
        summary="The trains in the video carry Kazakh tanks to a training ground.",
        lang="en",
    )
    await seeded_kb.import_entries([entry], actor="test")
    before = counter(seeded_kb).queries_embedded
    again = await seeded_kb.match(POST)
    assert counter(seeded_kb).queries_embedded - before == 1
    assert {c.entry_id for c in again.candidates} >= {"kz-trains-tanks", first.entry_id}
