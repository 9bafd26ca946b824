"""The recommended change to kb/matcher.py, as a subclass the benchmarks can run today."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from bench.checkthat_data import bm25_baseline
from kb.embed import Matrix
from kb.matcher import Evidence, Matcher
from kb.text import CleanPost


class FusedMatcher(Matcher):
    """Matcher with word-level BM25 over the claim texts in its ranking score, and the
    calibrated re-sort of the top candidates limited to those whose ranking score is within
    `resort_within` of the leader's (inf: as shipped; 0: none).

    BM25 is scaled either by the post's best BM25 score ("max") or by what a text holding
    every word of the post would score ("query"; words the KB never uses count at the
    highest idf), so a post sharing only a name or a number with the KB stays near 0.
    """

    def __init__(
        self,
        *args: Any,
        w_bm25: float,
        bm25_scale: str = "max",
        resort_within: float = np.inf,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.w_bm25 = w_bm25
        self.bm25_scale = bm25_scale
        self.resort_within = resort_within
        self._bm25 = bm25_baseline.LuceneField([t.text for t in self._texts])

    def bm25(self, post: CleanPost) -> Matrix:
        """Per-entry BM25 of the post, scaled to about [0, 1]."""
        terms = Counter(bm25_baseline.tokens(post.text))
        values = np.zeros(len(self._texts), dtype=np.float32)
        for doc, value in self._bm25.scores(terms).items():
            values[doc] = value
        per_entry = self._per_entry(values)
        if self.bm25_scale == "max":
            scale = float(per_entry.max()) if len(per_entry) else 0.0
        else:
            n = self._bm25.doc_count
            rarest = math.log(1 + (n + 0.5) / 0.5)
            scale = sum(
                qtf * (idf(n, len(self._bm25.postings[t])) if t in self._bm25.postings else rarest)
                for t, qtf in terms.items()
            ) / (1 + bm25_baseline.K1)
        result: Matrix = per_entry / scale if scale > 0 else per_entry
        return result

    def ranking(self, ev: Evidence, post: CleanPost) -> Matrix:
        scaled = self.bm25(post)
        result: Matrix = ev.csls + self.calibration.rank_lexical * ev.lexical + self.w_bm25 * scaled
        return result

    def scored(
        self, post: CleanPost, top: int = 5
    ) -> tuple[Evidence, list[tuple[int, list[float], float]]]:
        """Matcher.scored with `ranking` for its score and the re-sort bounded."""
        ev = self.evidence(post)
        cal = self.calibration
        rank = self.ranking(ev, post)
        for blocked in ev.blocked:
            rank[self.entry_ids.index(blocked)] = -np.inf
        order = [int(i) for i in np.argsort(-rank, kind="stable")[: max(top, 2)]]
        order = [i for i in order if np.isfinite(rank[i])]
        ranked = []
        for position, index in enumerate(order[:top]):
            rival = None if len(order) < 2 else order[1] if position == 0 else order[0]
            features = self.features(ev, index, rival)
            ranked.append((index, features, cal.probability(features)))
        if ranked:
            near = [r for r in ranked if rank[r[0]] >= rank[order[0]] - self.resort_within]
            far = [r for r in ranked if rank[r[0]] < rank[order[0]] - self.resort_within]
            ranked = sorted(near, key=lambda item: -item[2]) + far
        return ev, ranked


def idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def ranking_score(matcher: Matcher, ev: Evidence, post: CleanPost) -> Matrix:
    """The score a matcher ranks entries by, for ranks past the few match() returns."""
    if isinstance(matcher, FusedMatcher):
        return matcher.ranking(ev, post)
    result: Matrix = ev.csls + matcher.calibration.rank_lexical * ev.lexical
    return result
