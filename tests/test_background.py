"""Background text per language: what a post's and a KB text's similarities are measured against."""

from __future__ import annotations

import numpy as np

from kb.background import Background, background_languages, background_texts


def _unit(*values: float) -> list[float]:
    v = np.array(values, dtype=np.float32)
    return list(v / np.linalg.norm(v))


def test_every_bundled_background_text_has_one_of_the_five_languages() -> None:
    langs = background_languages()
    assert len(langs) == len(background_texts())
    assert set(langs) == {"en", "ru", "kk", "uk", "de"}


def test_a_language_bias_is_measured_against_that_language_only() -> None:
    english, kazakh = _unit(1, 0, 0), _unit(0, 1, 0)
    rows = np.array([english] * 10 + [kazakh] * 10, dtype=np.float32)
    background = Background(rows, rows, ("en",) * 10 + ("kk",) * 10)
    en, kk = background.languages.index("en"), background.languages.index("kk")
    post = np.array([_unit(1, 0.2, 0)], dtype=np.float32)
    biases = background.post_biases(post)[0]

    assert biases[en] > 0.95
    assert biases[kk] < 0.25
    # the last column is all background, for a language without background text of its own
    assert biases[-1] == background.post_bias(post)[0]
    assert background.text_biases(post)[0, kk] == biases[kk]
