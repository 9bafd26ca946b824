"""Moderators' edits of entries (kb/editing.py): validated, audited, nothing half-done."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import editing, store
from kb.errors import BadImportFile, UnknownEntry
from kb.interchange import EntryIn, SourceIn, read_entries_text
from kb.models import Status, Verdict

Sessions = async_sessionmaker[AsyncSession]

LEMON = EntryIn(
    id="lemon-water",
    claim="Hot water with lemon cures the coronavirus.",
    verdict=Verdict.FALSE,
    summary="No drink cures COVID-19, says the WHO.",
    lang="en",
)


@pytest.fixture
async def lemon(sessions: Sessions) -> Sessions:
    async with sessions() as session:
        await store.save_entries(session, [LEMON], actor="test")
        await session.commit()
    return sessions


async def entry(sessions: Sessions, entry_id: str = "lemon-water") -> EntryIn:
    async with sessions() as session:
        found = await store.get_entry(session, entry_id)
    assert found is not None
    return found


async def test_an_edit_is_in_the_history_with_who_and_before_after(lemon: Sessions) -> None:
    async with lemon() as session:
        assert await editing.edit(session, "lemon-water", "summary", "  WHO: no. ", "telegram:7")
        await session.commit()

    async with lemon() as session:
        *_, line = await editing.history(session, "lemon-water")

    assert (await entry(lemon)).summary == "WHO: no."
    assert (line.actor, line.action) == ("telegram:7", "edit summary")
    assert line.changes == (
        editing.FieldChange("summary", "No drink cures COVID-19, says the WHO.", "WHO: no."),
    )


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("verdict", "maybe", "not a verdict"),
        ("lang", "english", "lang"),
        ("claim", "   ", "claim"),
        ("status", "published", "cannot be edited"),
    ],
)
async def test_a_bad_value_changes_nothing(
    lemon: Sessions, name: str, value: str, problem: str
) -> None:
    async with lemon() as session:
        with pytest.raises(editing.BadEdit, match=problem):
            await editing.edit(session, "lemon-water", name, value, "telegram:7")
        await session.commit()

    assert await entry(lemon) == LEMON
    async with lemon() as session:
        assert [line.action for line in await editing.history(session, "lemon-water")] == ["import"]


async def test_editing_a_missing_entry_names_it(lemon: Sessions) -> None:
    async with lemon() as session:
        with pytest.raises(UnknownEntry, match="'no-such'"):
            await editing.edit(session, "no-such", "summary", "x", "telegram:7")
        with pytest.raises(UnknownEntry):
            await editing.history(session, "no-such")


async def test_verdict_and_tags_are_read_leniently(lemon: Sessions) -> None:
    async with lemon() as session:
        await editing.edit(session, "lemon-water", "verdict", "Partly true", "t")
        await editing.edit(session, "lemon-water", "tags", "health, covid  hoax", "t")
        assert not await editing.edit(session, "lemon-water", "verdict", "partly-true", "t")
        await session.commit()

    found = await entry(lemon)
    assert (found.verdict, found.tags) == (Verdict.PARTLY_TRUE, ["health", "covid", "hoax"])


async def test_new_entries_get_unused_ids_from_their_claims(sessions: Sessions) -> None:
    draft = editing.Draft(
        claim="Hot water with lemon cures the coronavirus in three days",
        verdict=Verdict.FALSE,
        summary="No drink cures COVID-19.",
        sources=[editing.parse_source("https://www.who.int/myth  WHO myth busters")],
    )
    russian = editing.Draft(
        claim="Объявлена всеобщая мобилизация в Казахстане",
        verdict=Verdict.FALSE,
        summary="Министерство обороны опровергло.",
        lang="ru",
    )
    async with sessions() as session:
        first = await editing.create(session, draft, "t")
        second = await editing.create(session, draft, "t", publish=False)
        third = await editing.create(session, russian, "t")
        await session.commit()

    assert (first.id, second.id) == (
        "hot-water-with-lemon-cures-the",
        "hot-water-with-lemon-cures-the-2",
    )
    assert (first.status, second.status) == (Status.PUBLISHED, Status.DRAFT)
    assert first.lang == "en" and first.sources == [
        SourceIn(url="https://www.who.int/myth", title="WHO myth busters")
    ]
    assert third.id == "obiavlena-vseobshchaia-mobilizatsiia-v-kazakhstane"


def test_a_draft_without_verdict_or_summary_is_not_an_entry() -> None:
    with pytest.raises(editing.BadEdit, match="verdict"):
        editing.Draft(claim="A claim", summary="A summary").entry("x")
    with pytest.raises(editing.BadEdit, match="summary"):
        editing.Draft(claim="A claim", verdict=Verdict.FALSE).entry("x")
    with pytest.raises(editing.BadEdit, match="not an http"):
        editing.parse_source("www.example.org no scheme")


async def test_sources_translations_and_status(lemon: Sessions) -> None:
    source = SourceIn(url="https://www.who.int/myth", title="WHO")
    async with lemon() as session:
        assert await editing.add_source(session, "lemon-water", source, "t")
        assert not await editing.add_source(session, "lemon-water", source, "t")
        assert await editing.translate(
            session, "lemon-water", "RU", "Вода с лимоном лечит", "Нет, не лечит.", "t"
        )
        with pytest.raises(editing.BadEdit, match="own language"):
            await editing.translate(session, "lemon-water", "en", "a", "b", "t")
        assert await editing.set_status(session, "lemon-water", Status.ARCHIVED, "t")
        assert not await editing.set_status(session, "lemon-water", Status.ARCHIVED, "t")
        await session.commit()
        actions = [line.action for line in await editing.history(session, "lemon-water")]

    found = await entry(lemon)
    assert found.sources == [source] and found.status is Status.ARCHIVED
    assert found.translations["ru"].claim == "Вода с лимоном лечит"
    assert actions == ["import", "source", "translate ru", "archive"]


async def test_a_post_becomes_a_phrasing_as_the_matcher_reads_it(lemon: Sessions) -> None:
    post = "ВРАЧИ МОЛЧАТ!!! Вода с лимоном убивает вирус 🍋 https://t.me/x/1"
    async with lemon() as session:
        assert await editing.add_phrasing(session, "lemon-water", post, "t")
        assert not await editing.add_phrasing(session, "lemon-water", post, "t")
        with pytest.raises(editing.BadEdit, match="too few words"):
            await editing.add_phrasing(session, "lemon-water", "🍋🍋 https://t.me/x/1", "t")
        await session.commit()

    assert (await entry(lemon)).variants == ["Врачи молчат! Вода с лимоном убивает вирус"]


async def test_a_photo_belongs_to_one_entry(lemon: Sessions) -> None:
    other = LEMON.model_copy(update={"id": "other"})
    async with lemon() as session:
        await store.save_entries(session, [other], "t")
        assert await editing.attach_media(session, "lemon-water", "PHOTO-1", "t")
        assert not await editing.attach_media(session, "lemon-water", "PHOTO-1", "t")
        with pytest.raises(editing.BadEdit, match="already attached to lemon-water"):
            await editing.attach_media(session, "other", "PHOTO-1", "t")
        await session.commit()
        assert await store.entry_media(session, "lemon-water") == ["PHOTO-1"]


def test_import_text_names_the_bad_line_and_field() -> None:
    text = (
        "entries:\n  - id: a\n    claim: c\n    verdict: nonsense\n    summary: s\n    lang: en\n"
    )
    with pytest.raises(BadImportFile, match=r"kb.yaml line 4: entry 'a', field 'verdict'"):
        read_entries_text(text, "kb.yaml")


def test_export_round_trips_and_refuses_unknown_formats() -> None:
    assert read_entries_text(editing.export_text([LEMON], "json"), "x") == [LEMON]
    [review] = read_entries_text(editing.export_text([LEMON], "claimreview"), "x")
    assert (review.id, review.claim, review.verdict) == (LEMON.id, LEMON.claim, LEMON.verdict)
    with pytest.raises(editing.BadEdit, match="not an export format"):
        editing.export_text([LEMON], "csv")


def test_changes_lists_only_what_differs() -> None:
    assert editing.changes({"a": 1, "b": "x"}, {"a": 1, "b": "y"}) == (
        editing.FieldChange("b", "x", "y"),
    )
    assert editing.changes(None, {"text": "hello"}) == (editing.FieldChange("text", "", "hello"),)
