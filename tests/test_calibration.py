"""The decision model's bounds over features the matcher has not computed yet."""

from __future__ import annotations

import itertools

from kb.calibration import FEATURES, TERMS_FEATURES, Calibration
from kb.embed import OnnxE5


def test_the_bounds_over_the_latent_terms_hold_whatever_values_they_take() -> None:
    cal = Calibration.load()  # the shipped trees
    assert cal.trees
    terms, gap = (FEATURES.index(name) for name in TERMS_FEATURES)
    for csls, cosine, pair in itertools.product((0.0, 0.1, 0.3), (0.8, 0.9), (-5.0, 0.0, 5.0)):
        features = [csls, 0.05, cosine, 0.3, 2.5, -0.1, 0.0, 1.0, 0.0, pair, 0.0, 0.0]
        low, high = cal.probability_bounds(features, TERMS_FEATURES)
        seen = []
        for t, g in itertools.product((0.0, 0.2, 0.4, 0.6, 0.8, 1.0), (-0.5, -0.1, 0.0, 0.1, 0.5)):
            features[terms], features[gap] = t, g
            seen.append(cal.probability(features))
        assert low <= min(seen) <= max(seen) <= high


def test_a_feature_not_free_is_not_bounded_over() -> None:
    cal = Calibration.load()
    features = [0.2, 0.05, 0.9, 0.3, 2.5, -0.1, 0.0, 1.0, 0.0, 2.0, 0.5, 0.0]
    low, high = cal.probability_bounds(features, ())
    assert low <= cal.probability(features) <= high
    assert high - low < 1e-8


def test_a_calibration_fitted_on_another_model_never_answers() -> None:
    shipped = Calibration.load()
    assert shipped.embedder == OnnxE5.name
    assert shipped.for_embedder(OnnxE5.name) is shipped
    other = shipped.for_embedder("some-other-model")
    best_evidence = [1.0, 0.5, 1.0, 1.0, 2.5, -0.5, 0.0, 1.0, 0.0, 10.0, 1.0, -0.5]
    assert shipped.probability(best_evidence) >= shipped.answer_at
    assert other.probability(best_evidence) < other.ask_at
    assert (other.rank_lexical, other.rank_bm25) == (shipped.rank_lexical, shipped.rank_bm25)


def test_the_latent_terms_features_come_last() -> None:
    # Matcher.scored appends them to the features it has without them.
    assert FEATURES[-len(TERMS_FEATURES) :] == TERMS_FEATURES
