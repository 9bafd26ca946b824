"""Word-level BM25, the lexical half of the matcher's ranking score."""

from __future__ import annotations

import numpy as np

from kb.bm25 import WordIndex

CLAIMS = [
    "Kazakhstan is secretly sending trains full of tanks to Russia",
    "Germany bans every gas heating system from next year",
    "The tenge will crash to 1000 per US dollar next Monday",
    "Казахстан тайно отправляет в Россию эшелоны с танками",
]


def test_a_post_repeating_a_claim_scores_that_claim_highest_and_near_one() -> None:
    scores = WordIndex(CLAIMS).scores(
        "Kazakhstan is secretly sending trains full of tanks to Russia"
    )
    assert int(np.argmax(scores)) == 0
    assert 0.8 <= scores[0] <= 1.2


def test_a_post_in_another_language_scores_zero_everywhere() -> None:
    scores = WordIndex(CLAIMS[:3]).scores("Қазақстан Ресейге танктер жіберіп жатыр")
    assert not scores.any()


def test_sharing_one_name_scores_far_below_sharing_the_wording() -> None:
    index = WordIndex(CLAIMS)
    name_only = index.scores("I visited Kazakhstan last summer and loved the mountains")
    wording = index.scores("Russia gets trains full of tanks from Kazakhstan")
    assert name_only[0] < 0.3 < wording[0]


def test_words_are_matched_in_any_script_and_case() -> None:
    scores = WordIndex(CLAIMS).scores("КАЗАХСТАН отправляет ЭШЕЛОНЫ с танками")
    assert int(np.argmax(scores)) == 3


def test_an_empty_index_or_post_scores_nothing() -> None:
    assert WordIndex([]).scores("anything").shape == (0,)
    assert not WordIndex(CLAIMS).scores("").any()
    assert not WordIndex(CLAIMS).scores("🚨🚨 !!!").any()
