"""X replies: 280 weighted characters (links 23, CJK 2), the source linked or named, no strays."""

from __future__ import annotations

import pytest

from handlers.render_x import (
    NOT_IN_KB,
    POST_LIMIT,
    not_in_kb,
    rebuttal,
    shorten,
    weighted_length,
)
from kb.interchange import EntryIn, SourceIn, read_entries_file
from kb.service import SEED

LONG_URL = "https://example.org/" + "very-long-path/" * 20

SEED_ENTRIES = read_entries_file(SEED)


def entry(summary: str, **kwargs: object) -> EntryIn:
    fields: dict[str, object] = {
        "id": "test-entry",
        "claim": "A claim",
        "verdict": "false",
        "summary": summary,
        "lang": "en",
        "sources": [
            SourceIn(url=LONG_URL, title="Statement on the matter", publisher="Ministry Press")
        ],
        **kwargs,
    }
    return EntryIn.model_validate(fields)


def test_weighted_length_counts_links_as_23_cjk_as_2_cyrillic_as_1() -> None:
    assert weighted_length("я" * 280) == 280
    assert weighted_length("қазақ") == 5
    assert weighted_length("漢字") == 4
    assert weighted_length(LONG_URL) == 23
    assert weighted_length(f"see {LONG_URL} and http://a.kz") == 4 + 23 + 5 + 23
    assert weighted_length("❌") == 2


def test_long_cyrillic_summary_is_cut_to_fit_with_the_link() -> None:
    summary = "Министерство обороны опровергло сообщения о поставках техники. " * 20
    text = rebuttal(entry(summary), "en")

    assert weighted_length(text) <= POST_LIMIT
    assert weighted_length(text) >= POST_LIMIT - 20  # cut, not emptied
    assert text.endswith(f"\nSource: {LONG_URL}")
    body = text.splitlines()[1]
    assert body.endswith("…")
    assert body.removesuffix("…").split()[-1] in summary.split()  # cut between words
    # Measured by characters a long URL would not fit; X counts it as 23.
    assert len(text) > POST_LIMIT


def test_long_cjk_summary_counts_double() -> None:
    text = rebuttal(entry("这是一个非常长的总结" * 40), "en")
    assert weighted_length(text) <= POST_LIMIT
    body = text.splitlines()[1]
    assert 100 < len(body) < 140  # a cut by character count would be about twice as long


def test_short_summary_is_not_cut() -> None:
    text = rebuttal(entry("The ministry denied it."), "en")
    assert text == f"❌ False\nThe ministry denied it.\nSource: {LONG_URL}"


def test_without_links_the_source_is_named_not_linked() -> None:
    text = rebuttal(entry("The ministry denied it."), "en", links=False)
    assert (
        text
        == "❌ False\nThe ministry denied it.\nSource: Ministry Press: «Statement on the matter»"
    )


def test_without_links_a_domain_like_name_does_not_become_a_link() -> None:
    source = SourceIn(url="https://zakon.kz/a", title="", publisher="Zakon.kz")
    text = rebuttal(entry("Reported by Tengrinews.kz today.", sources=[source]), "en", links=False)
    assert "Zakon.kz" not in text and "Tengrinews.kz" not in text
    assert "Zakon\u2024kz" in text and "Tengrinews\u2024kz" in text
    assert "http" not in text


def test_kb_text_cannot_mention_anyone() -> None:
    text = rebuttal(entry("As @someone and ＠other said, it is false."), "en")
    assert "@someone" not in text and "＠other" not in text
    assert "As someone and other said" in text


def test_long_source_name_leaves_room_for_the_summary() -> None:
    source = SourceIn(url="https://a.example/x", title="T" * 500, publisher="P" * 300)
    text = rebuttal(entry("Word " * 200, sources=[source]), "en", links=False)
    assert weighted_length(text) <= POST_LIMIT
    assert len(text.splitlines()[1]) > 100


def test_entry_without_sources_has_no_source_line() -> None:
    text = rebuttal(entry("Word " * 200, sources=[]), "en")
    assert "Source" not in text
    assert weighted_length(text) <= POST_LIMIT


def test_reply_uses_the_translation_in_the_readers_language() -> None:
    convoy = next(e for e in SEED_ENTRIES if e.id == "kz-convoy-exercises")
    text = rebuttal(convoy, "kk")
    assert text.startswith("❌ Жалған\nҚазақстан Қорғаныс министрлігі")
    assert "\nДереккөз: https://www.inform.kz/" in text


@pytest.mark.parametrize("links", [True, False])
@pytest.mark.parametrize("lang", ["en", "ru", "kk", "uk", "de"])
def test_every_seed_entry_fits_in_every_language(lang: str, links: bool) -> None:
    for seed in SEED_ENTRIES:
        text = rebuttal(seed, lang, links=links)
        assert weighted_length(text) <= POST_LIMIT, (seed.id, text)
        assert ("https://" in text) is links


def test_shorten_never_exceeds_the_budget() -> None:
    text = "Ааа бббб " * 50
    for budget in (0, 1, 2, 3, 10, 57, 100):
        assert weighted_length(shorten(text, budget)) <= budget


def test_not_in_kb_is_short_and_localised() -> None:
    assert not_in_kb("en").startswith("This is not in our knowledge base yet")
    assert not_in_kb("ru") == NOT_IN_KB["ru"]
    assert not_in_kb("xx") == NOT_IN_KB["en"]
    assert all(weighted_length(text) <= 140 for text in NOT_IN_KB.values())
