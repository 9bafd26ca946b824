"""The exchange formats: YAML/JSON entries and ClaimReview JSON-LD, in and out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb import store
from kb.claimreview import dump_claimreview, parse_claimreview, verdict_from_rating
from kb.errors import BadImportFile
from kb.interchange import dump_entries, parse_entries, read_entries_file
from kb.models import Verdict
from kb.service import KnowledgeBase

GOOD = """\
entries:
  - id: kz-convoy
    claim: "Videos show Kazakhstan sending military convoys to Russia"
    variants: ["Казахстан тайно отправляет бронетехнику в Россию"]
    verdict: false
    summary: "The Ministry of Defence says the units were moving to exercises."
    lang: en
    translations: {ru: {claim: "Казахстан отправляет колонны в Россию", summary: "Учения."}}
    sources: [{url: "https://example.org/mod", title: "Statement", publisher: "MoD", date: 2023-08-22}]
    tags: [kazakhstan, military]
    appearances: ["https://t.me/rumours/42"]
  - id: heating-ban
    claim: "Germany bans all gas heating next year"
    verdict: Misleading
    summary: "Only new systems are affected."
    lang: de
"""


def test_yaml_reads_bare_booleans_and_dates() -> None:
    first, second = parse_entries(GOOD)
    assert first.verdict is Verdict.FALSE
    assert first.sources[0].date == "2023-08-22"
    assert first.translations["ru"].summary == "Учения."
    assert second.verdict is Verdict.MISLEADING


def test_yaml_round_trip_keeps_everything() -> None:
    entries = parse_entries(GOOD)
    assert parse_entries(dump_entries(entries)) == entries
    assert parse_entries(dump_entries(entries, "json")) == entries


def test_a_plain_json_list_is_accepted() -> None:
    data = [{"id": "a", "claim": "c", "verdict": "true", "summary": "s", "lang": "en"}]
    assert parse_entries(json.dumps(data))[0].id == "a"


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            GOOD.replace("verdict: Misleading", "verdict: maybe"),
            ["line 14", "heating-ban", "verdict"],
        ),
        (
            GOOD.replace('url: "https://example.org/mod"', 'url: "ftp:x"'),
            ["line 9", "kz-convoy", "sources.0.url"],
        ),
        (GOOD.replace("    lang: de\n", ""), ["line 12", "heating-ban", "lang"]),
        (GOOD.replace("id: heating-ban", "id: kz-convoy"), ["kz-convoy", "repeats"]),
        (GOOD + "    colour: red\n", ["line 17", "colour"]),
        ("entries: [\n", ["not valid YAML or JSON"]),
    ],
)
def test_bad_file_names_line_entry_and_field(broken: str, expected: list[str]) -> None:
    with pytest.raises(BadImportFile) as info:
        parse_entries(broken, "kb.yaml")
    message = str(info.value)
    assert message.startswith("kb.yaml")
    for part in expected:
        assert part in message


def test_claimreview_round_trip(tmp_path: Path) -> None:
    entries = parse_entries(GOOD)
    path = tmp_path / "reviews.json"
    path.write_text(dump_claimreview(entries), encoding="utf-8")
    back = read_entries_file(path)
    assert [e.id for e in back] == [e.id for e in entries]
    for original, loaded in zip(entries, back, strict=True):
        assert loaded.claim == original.claim
        assert loaded.verdict is original.verdict
        assert loaded.summary == original.summary
        assert loaded.sources == original.sources
        assert loaded.appearances == original.appearances
        assert loaded.variants == original.variants
        assert loaded.translations == original.translations


def test_claimreview_from_a_fact_checkers_page() -> None:
    page = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": "https://factcheck.example/kz-convoys",
        "claimReviewed": "Kazakhstan is sending tanks to Russia",
        "author": {"@type": "Organization", "name": "Factcheck.kz"},
        "datePublished": "2023-08-23T10:00:00+06:00",
        "inLanguage": "en",
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": 1,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": "Fake",
        },
        "itemReviewed": {
            "@type": "Claim",
            "appearance": [{"@type": "CreativeWork", "url": "https://t.me/x/1"}],
        },
    }
    (entry,) = parse_claimreview(json.dumps(page))
    assert entry.verdict is Verdict.FALSE
    assert entry.sources[0].publisher == "Factcheck.kz"
    assert entry.sources[0].date == "2023-08-23"
    assert entry.appearances == ["https://t.me/x/1"]
    assert entry.id.startswith("cr-kz-convoys")


def test_claimreview_from_google_fact_check_tools() -> None:
    response = {
        "claims": [
            {
                "text": "Die Regierung verbietet ab 2024 alle Gasheizungen",
                "claimReview": [
                    {
                        "publisher": {"name": "Correctiv", "site": "correctiv.org"},
                        "url": "https://correctiv.org/faktencheck/heizung/",
                        "title": "Nein, Gasheizungen werden nicht verboten",
                        "reviewDate": "2023-04-01T00:00:00Z",
                        "textualRating": "Teilweise falsch",
                        "languageCode": "de",
                    }
                ],
            }
        ]
    }
    (entry,) = parse_claimreview(json.dumps(response))
    assert entry.lang == "de"
    assert entry.verdict is Verdict.PARTLY_TRUE
    assert entry.sources[0].title.startswith("Nein")


@pytest.mark.parametrize(
    ("rating", "verdict"),
    [
        ({"alternateName": "Неправда"}, Verdict.FALSE),
        ({"alternateName": "Маніпуляція"}, Verdict.MISLEADING),
        ({"alternateName": "Irreführend"}, Verdict.MISLEADING),
        ({"alternateName": "Жалған"}, Verdict.FALSE),
        ({"ratingValue": 5, "bestRating": 5, "worstRating": 1}, Verdict.TRUE),
    ],
)
def test_ratings_in_our_languages(rating: dict[str, object], verdict: Verdict) -> None:
    assert verdict_from_rating(rating) is verdict


def test_unreadable_rating_is_refused_by_name() -> None:
    review = {"@type": "ClaimReview", "claimReviewed": "x", "reviewRating": {"alternateName": "🤷"}}
    with pytest.raises(BadImportFile, match="reviewRating"):
        parse_claimreview(json.dumps(review), "r.json")


async def test_a_bad_file_imports_nothing_even_beside_good_ones(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("lang: de", "lang: Deutsch"), encoding="utf-8")
    with pytest.raises(BadImportFile, match=r"bad\.yaml line 16"):
        await kb.import_files([good, bad], actor="test")
    async with kb.sessions() as session:
        assert await store.count_entries(session) == {}


async def test_reimporting_an_id_updates_it_and_is_audited(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(GOOD, encoding="utf-8")
    first = await kb.import_files([path], actor="test")
    assert sorted(first.created) == ["heating-ban", "kz-convoy"]
    path.write_text(GOOD.replace("Only new systems", "Only newly installed systems"), "utf-8")
    second = await kb.import_files([path], actor="test")
    assert second.updated == ["heating-ban"] and second.unchanged == ["kz-convoy"]
    async with kb.sessions() as session:
        entry = await store.get_entry(session, "heating-ban")
        trail = await store.audit_trail(session, "heating-ban")
    assert entry is not None and entry.summary.startswith("Only newly installed")
    assert [row.action for row in trail] == ["import", "update"]
    assert "Only new systems" in trail[1].before and "newly installed" in trail[1].after


async def test_import_never_adds_the_seed(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(GOOD, encoding="utf-8")
    await kb.import_files([path], actor="test")
    async with kb.sessions() as session:
        assert [e.id for e in await store.list_entries(session)] == ["heating-ban", "kz-convoy"]
