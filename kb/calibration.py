"""Turning match evidence into a probability, and the thresholds of the decision.

The model is fitted by `bench/calibrate.py` on training sets with KBs of their own, its
thresholds picked on the development set; the shipped fit is kb/data/calibration.json.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from kb.embed import Matrix

CALIBRATION = Path(__file__).parent / "data" / "calibration.json"

FEATURES = (
    "csls",  # dense similarity, normalised against background text (CSLS)
    "margin",  # lead of this entry over the best other one, in CSLS units
    "cosine",  # raw best cosine
    "lexical",  # character n-gram similarity
    "log_words",  # post length
    "rebuttal_gap",  # closer to the entry's rebuttal than to its claim: the official version
    "denial",  # the post itself debunks ("fake", "опровергли")
    "same_lang",  # the entry has a phrasing in the post's language
    "new_numbers",  # share of the post's numbers that none of the entry's texts has
    "pair",  # a learned head over the best (chunk, text) embedding pair: same claim or not
    "terms",  # latent-term cosine (kb.embed.OnnxE5.terms): do they name the same things
    "terms_rebuttal_gap",  # names more of the rebuttal's things than the claim's
)
# What the post's latent terms give; the rest needs only its vector (Matcher.scored).
TERMS_FEATURES = ("terms", "terms_rebuttal_gap")
# Tried and left out (BENCHMARKS.md): BM25 of the candidate and its lead in the ranking
# score. Refitted with them, dev recall at precision 0.98 fell (trees 0.69 against 0.73).


@dataclass(frozen=True)
class Tree:
    """One regression tree of a boosted ensemble, as flat arrays (node 0 is the root)."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]
    leaf: tuple[bool, ...]

    def predict(self, x: Sequence[float]) -> float:
        node = 0
        while not self.leaf[node]:
            node = (
                self.left[node]
                if x[self.feature[node]] <= self.threshold[node]
                else (self.right[node])
            )
        return self.value[node]

    def bounds(self, x: Sequence[float], free: frozenset[int]) -> tuple[float, float]:
        """The least and greatest value this tree can give when the features in `free` may
        take any value and the others are as in `x`."""
        low, high = math.inf, -math.inf
        nodes = [0]
        while nodes:
            node = nodes.pop()
            if self.leaf[node]:
                low, high = min(low, self.value[node]), max(high, self.value[node])
            elif self.feature[node] in free:
                nodes += [self.left[node], self.right[node]]
            elif x[self.feature[node]] <= self.threshold[node]:
                nodes.append(self.left[node])
            else:
                nodes.append(self.right[node])
        return low, high


@dataclass(frozen=True)
class Calibration:
    """A model over FEATURES (boosted trees, else logistic) and the decision thresholds."""

    weights: tuple[float, ...] = (9.4, 27.0, 9.5, 1.2, 0.5, -25.0, -2.4, 0.0, 0.0, 0.0, 0.0, 0.0)
    bias: float = -13.2
    trees: tuple[Tree, ...] = ()
    answer_at: float = 0.85
    ask_at: float = 0.45
    # The ranking score is CSLS + rank_lexical * char n-grams + rank_bm25 * BM25: rank_bm25
    # the best on CheckThat! 2020 train tweets of the weights that cost no top-1 on our
    # multilingual dev and training sets (bench/checkthat_tune.py).
    rank_lexical: float = 0.10
    rank_bm25: float = 0.4
    min_words_to_answer: int = 5  # shorter posts are at most asked about, never answered
    # The pair head: a linear model over [u*v, |u-v|, u-v] of the best embedding pair, fitted on
    # the training sets' (post, entry) pairs. It learns which dimensions must agree for two
    # texts to state the same claim rather than merely share a topic.
    pair_weights: tuple[float, ...] = ()
    pair_bias: float = 0.0
    # The model whose similarities this was fitted on (Embedder.name); "" fits any.
    embedder: str = ""

    @classmethod
    def load(cls, path: Path = CALIBRATION) -> Calibration:
        if not path.exists():
            return cls()
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["weights"] = tuple(data.get("weights", cls.weights))
        fields["pair_weights"] = tuple(data.get("pair_weights", ()))
        fields["trees"] = tuple(
            Tree(**{k: tuple(v) for k, v in tree.items()}) for tree in data.get("trees", ())
        )
        return cls(**fields)

    def for_embedder(self, name: str) -> Calibration:
        """This calibration, if it was fitted on `name`'s similarities; else one that never
        answers. Another model's cosines sit in another band and its pair vectors have
        another size, so thresholds fitted on one would be guesses for the other: candidates
        are still ranked (and queued for moderators) until `bench/calibrate.py` fits it."""
        if not self.embedder or self.embedder == name:
            return self
        return replace(
            Calibration(),
            weights=(0.0,) * len(FEATURES),
            bias=-50.0,
            rank_lexical=self.rank_lexical,
            rank_bm25=self.rank_bm25,
            embedder=name,
        )

    def pair_score(self, pair: Matrix) -> float:
        if not self.pair_weights:
            return 0.0
        return float(np.dot(self._pair, pair)) + self.pair_bias

    @cached_property
    def _pair(self) -> Matrix:
        return np.asarray(self.pair_weights, dtype=np.float32)

    def probability(self, features: Sequence[float]) -> float:
        if self.trees:
            z = self.bias + sum(tree.predict(features) for tree in self.trees)
        else:
            z = self.bias + sum(w * f for w, f in zip(self.weights, features, strict=True))
        return _sigmoid(z)

    def probability_bounds(
        self, features: Sequence[float], free: Sequence[str]
    ) -> tuple[float, float]:
        """Bounds on the probability whatever values the features named in `free` take.

        Each tree's own least and greatest leaf among those the other features can reach;
        the sums bound the ensemble (loosely: the trees are not made to agree on one value
        of a free feature). A linear model has no bound over a free feature."""
        index = frozenset(FEATURES.index(name) for name in free)
        if not self.trees:
            if any(self.weights[i] for i in index):
                return 0.0, 1.0
            p = self.probability([0.0 if i in index else f for i, f in enumerate(features)])
            return p, p
        low = high = self.bias
        for tree in self.trees:
            a, b = tree.bounds(features, index)
            low, high = low + a, high + b
        # summed in another order than probability() sums the leaves it reaches: widened by
        # far more than that rounding, so a bound reached exactly still holds
        return _sigmoid(low - 1e-9), _sigmoid(high + 1e-9)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
