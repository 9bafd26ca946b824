"""Moderators' conversations in the database: what one worker saves, another continues."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import conversations, editing
from kb.db import open_database
from kb.models import Conversation, Verdict
from tests.conftest import reset_postgres

Sessions = async_sessionmaker[AsyncSession]
MODS = -1001234567890  # a supergroup's id: wider than 32 bits
MIRA = 2001


async def save(sessions: Sessions, chat: int, step: str, data: dict[str, object]) -> None:
    async with sessions() as session:
        await conversations.save(session, chat, MIRA, step, data)
        await session.commit()


async def finish(sessions: Sessions, chat: int, step: str | None = None) -> object:
    async with sessions() as session:
        ended = await conversations.finish(session, chat, MIRA, step)
        await session.commit()
    return ended


async def get(sessions: Sessions, chat: int) -> conversations.Conversation | None:
    async with sessions() as session:
        return await conversations.get(session, chat, MIRA)


def test_a_draft_survives_the_trip_through_json() -> None:
    draft = editing.Draft(
        claim="Lemon water cures <COVID> & more",
        verdict=Verdict.MISLEADING,
        summary="No drink cures COVID-19.",
        sources=[editing.parse_source("https://www.who.int/myth WHO: myth busters")],
        lang="en",
        variants=["lemon water cures covid"],
        queue_item=7,
    )

    assert editing.Draft.from_json(draft.to_json()) == draft
    assert editing.Draft.from_json(editing.Draft().to_json()) == editing.Draft()


@pytest.mark.parametrize(
    "data", [{"verdict": "maybe"}, {"sources": [{"url": "not-a-link"}]}, {"queue_item": "x"}]
)
def test_a_damaged_draft_is_refused_by_name(data: dict[str, object]) -> None:
    with pytest.raises(editing.BadEdit, match="not a saved draft"):
        editing.Draft.from_json(data)


async def test_each_chat_keeps_its_own_conversation_and_the_last_save_wins(
    sessions: Sessions,
) -> None:
    await save(sessions, MIRA, "new:claim", {"claim": ""})
    await save(sessions, MODS, "translate", {"entry_id": "x", "lang": "de"})
    await save(sessions, MIRA, "new:verdict", {"claim": "A claim"})

    private, group = await get(sessions, MIRA), await get(sessions, MODS)

    assert private is not None and (private.step, private.data) == (
        "new:verdict",
        {"claim": "A claim"},
    )
    assert group is not None and (group.step, group.data) == (
        "translate",
        {"entry_id": "x", "lang": "de"},
    )
    assert 0 <= private.idle() < 60
    assert await get(sessions, 42) is None


async def test_finishing_ends_a_conversation_once_and_only_at_its_step(sessions: Sessions) -> None:
    await save(sessions, MIRA, "new:confirm", {"claim": "A claim"})

    assert await finish(sessions, MIRA, "new:lang") is None  # it waits elsewhere: untouched
    ended = await finish(sessions, MIRA, "new:confirm")
    assert isinstance(ended, conversations.Conversation) and ended.data == {"claim": "A claim"}
    assert await finish(sessions, MIRA) is None
    assert await get(sessions, MIRA) is None


async def test_two_workers_pressing_the_last_step_at_once_finish_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    async with open_database(url) as first, open_database(url) as second:
        await save(first, MIRA, "new:confirm", {"claim": "A claim"})

        ended = await asyncio.gather(
            finish(first, MIRA, "new:confirm"), finish(second, MIRA, "new:confirm")
        )

        assert sum(e is not None for e in ended) == 1
        # Starting at once collides neither: one INSERT … ON CONFLICT each, the last one wins.
        await asyncio.gather(
            save(first, MIRA, "new:claim", {"n": 1}), save(second, MIRA, "new:claim", {"n": 2})
        )
        found = await get(first, MIRA)
        assert found is not None and found.data in ({"n": 1}, {"n": 2})


async def test_a_damaged_row_is_no_conversation(sessions: Sessions) -> None:
    async with sessions() as session:
        session.add(Conversation(chat_id=MIRA, user_id=MIRA, step="new:claim", data="[1, 2"))
        await session.commit()

    assert await get(sessions, MIRA) is None
    await save(sessions, MIRA, "new:claim", {})  # and a new /new replaces it
    assert await get(sessions, MIRA) is not None


async def test_conversations_on_postgres(postgres_url: str) -> None:
    await reset_postgres(postgres_url)
    async with open_database(postgres_url) as first, open_database(postgres_url) as second:
        await asyncio.gather(
            save(first, MODS, "new:claim", {"n": 1}), save(second, MODS, "new:claim", {"n": 2})
        )
        await save(second, MODS, "new:confirm", {"claim": "A claim"})

        ended = await asyncio.gather(
            finish(first, MODS, "new:confirm"), finish(second, MODS, "new:confirm")
        )

        assert sum(e is not None for e in ended) == 1
        assert await get(first, MODS) is None
