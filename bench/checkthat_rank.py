"""Ranking variants for bench/checkthat.py, built from the matcher's own primitives.

Every variant ranks the same candidate pool: per tweet, the union of the first POOL claims of
each field's dense (CSLS) and BM25 rankings and of the best-field dense ranking. Ranks past
the pool follow the best-field dense order; they only move MRR, and only for a gold claim
that no signal ranks in its top 100.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from bench.checkthat_data import Claim, bm25_baseline, passage_vectors
from kb.background import Background
from kb.calibration import Calibration
from kb.embed import Embedder, Matrix
from kb.lexical import LexicalIndex
from kb.matcher import IndexedText, Matcher, post_chunks
from kb.text import CleanPost, clean_post

POOL = 100
FIELDS = ("vclaim", "title", "subtitle", "concat")  # concat: vclaim and title as one text
SIGNALS = tuple(f"{kind}_{f}" for kind in ("csls", "cos", "lex", "bm25") for f in FIELDS)
# Twitter's picture links have no scheme, and the embed footer "— Name (@handle) Month D, YYYY"
# is the same on every tweet: neither says anything about the claim.
PIC_RE = re.compile(r"\bpic\.twitter\.com/\w+", re.IGNORECASE)
FOOTER_RE = re.compile(r"\s*[—–-]+\s*[^—–\n]{0,80}\(@\w+\)\s*\w+ \d{1,2}, \d{4}\s*$")
EMPTY_PARENS_RE = re.compile(r"\(\s*\)")


@dataclass(frozen=True, slots=True)
class QueryMode:
    """How a tweet becomes query chunks, beyond the product's clean_post."""

    pics: bool = False  # drop pic.twitter.com links (clean_post keeps them) and emptied "( )"
    footer: bool = False  # drop the embed footer "— Name (@handle) Month D, YYYY"
    sentences: bool = False  # embed the whole post and each sentence, not the product's windows


def prepare(text: str, mode: QueryMode) -> CleanPost:
    if mode.pics:
        text = PIC_RE.sub(" ", text)
    if mode.footer:
        text = FOOTER_RE.sub("", text)
    post = clean_post(text)
    if mode.pics:
        post = clean_post(EMPTY_PARENS_RE.sub(" ", post.text))
    return post


def chunks(post: CleanPost, mode: QueryMode) -> list[str]:
    if mode.sentences and len(post.sentences) > 1:
        return [post.text, *post.sentences][:13]
    return post_chunks(post) or [post.text]


def concat(claim: Claim) -> str:
    return claim.vclaim if claim.summary == claim.vclaim else f"{claim.vclaim} {claim.summary}"


@dataclass
class Pool:
    """One tweet's candidates with every signal's value and its rank among all claims."""

    qid: str
    index: npt.NDArray[np.intp]  # claim positions
    values: Matrix  # pool x SIGNALS
    ranks: Matrix  # pool x SIGNALS, 0 = first among all claims
    tail: npt.NDArray[np.intp]  # the dense order, for ranks past the pool

    def column(self, name: str) -> Matrix:
        return self.values[:, SIGNALS.index(name)]

    def rank(self, name: str) -> Matrix:
        return self.ranks[:, SIGNALS.index(name)]


class Collection:
    """One edition's verified claims, indexed by field for dense, char n-gram and BM25 signals."""

    def __init__(self, claims: Sequence[Claim], embedder: Embedder, background: Background) -> None:
        self.claims = list(claims)
        self.ids = [c.id for c in claims]
        self.embedder = embedder
        self.background = background
        self.texts = texts = {
            "vclaim": [c.vclaim for c in claims],
            "title": [c.summary for c in claims],
            # 2020 has no subtitles: the title stands in, so the field adds nothing there.
            "subtitle": [c.subtitle or c.summary for c in claims],
            "concat": [concat(c) for c in claims],
        }
        vectors = passage_vectors([t for ts in texts.values() for t in ts])
        self.vectors = {
            f: np.stack([vectors[t] for t in ts]).astype(np.float32) for f, ts in texts.items()
        }
        self.bias = {f: background.text_bias(v) for f, v in self.vectors.items()}
        self.lexical = {f: LexicalIndex(ts) for f, ts in texts.items()}
        self.bm25 = {f: bm25_baseline.LuceneField(ts) for f, ts in texts.items()}

    def product_matcher(
        self, variants: Sequence[str] = (), ranking: tuple[float, float] | None = None
    ) -> Matcher:
        """The product's index: claim = vclaim, summary = title, plus the fields in `variants`
        as claim variants. `ranking` = (rank_lexical, rank_bm25) replaces the shipped weights."""
        texts, rows = [], []
        for i, c in enumerate(self.claims):
            texts.append(IndexedText(c.id, c.vclaim, "claim", "en"))
            rows.append(self.vectors["vclaim"][i])
            texts.append(IndexedText(c.id, c.summary, "summary", "en"))
            rows.append(self.vectors["title"][i])
            seen = {c.vclaim}
            for f in variants:
                if self.texts[f][i] not in seen:
                    seen.add(self.texts[f][i])
                    texts.append(IndexedText(c.id, self.texts[f][i], "claim", "en"))
                    rows.append(self.vectors[f][i])
        calibration = Calibration.load()
        if ranking is not None:
            calibration = replace(calibration, rank_lexical=ranking[0], rank_bm25=ranking[1])
        return Matcher(
            self.embedder, self.background, texts, np.stack(rows), calibration=calibration
        )

    def pool(self, qid: str, text: str, mode: QueryMode) -> Pool:
        """One tweet's candidates and every signal; char n-grams only for the candidates."""
        post = prepare(text, mode)
        queries = self.embedder.queries(chunks(post, mode))
        post_bias = self.background.post_bias(queries)
        terms = Counter(bm25_baseline.tokens(post.text))
        full: dict[str, Matrix] = {}
        for f in FIELDS:
            sims = queries @ self.vectors[f].T
            full[f"cos_{f}"] = sims.max(axis=0)
            full[f"csls_{f}"] = (2 * sims - post_bias[:, None] - self.bias[f][None, :]).max(axis=0)
            bm25 = np.zeros(len(self.ids), dtype=np.float32)
            for doc, value in self.bm25[f].scores(terms).items():
                bm25[doc] = value
            full[f"bm25_{f}"] = bm25
        dense = np.max([full[f"csls_{f}"] for f in FIELDS], axis=0)
        ranked_names = [n for n in SIGNALS if n.startswith(("csls_", "bm25_"))]
        index = np.unique(
            np.concatenate([_first(dense, POOL), *(_first(full[n], POOL) for n in ranked_names)])
        ).astype(np.intp)
        for f in FIELDS:
            full[f"lex_{f}"] = self.lexical[f].similarities(post.text, index)
        values = np.stack([full[name][index] for name in SIGNALS], axis=1)
        ranks = np.stack(
            [
                _ranks_of(full[name], index) if name in ranked_names else np.zeros(len(index))
                for name in SIGNALS
            ],
            axis=1,
        )
        return Pool(
            qid, index, values.astype(np.float32), ranks.astype(np.float32), _first(dense, 1000)
        )


def _first(values: Matrix, k: int) -> npt.NDArray[np.intp]:
    """Positions of the k largest values, largest first."""
    k = min(k, len(values))
    top = np.argpartition(-values, k - 1)[:k]
    return top[np.argsort(-values[top], kind="stable")].astype(np.intp)


def _ranks_of(values: Matrix, index: npt.NDArray[np.intp]) -> Matrix:
    """0-based rank among all claims of the claims at `index` (ties share the better rank)."""
    ascending = np.sort(values)
    greater = len(values) - np.searchsorted(ascending, values[index], side="right")
    return greater.astype(np.float32)


Scorer = Callable[[Pool], Matrix]


def ranked(pool: Pool, scorer: Scorer, depth: int = 1000) -> list[int]:
    """Claim positions best first: the pool by the variant's score, then the dense order."""
    order: list[int] = pool.index[np.argsort(-scorer(pool), kind="stable")].tolist()
    seen = set(order)
    order += [int(i) for i in pool.tail if int(i) not in seen]
    return order[:depth]


def bm25_max(pool: Pool, fields: Sequence[str]) -> Matrix:
    """Best-field BM25 divided by its best value for the tweet, so weights mean the same."""
    best: Matrix = np.max([pool.column(f"bm25_{f}") for f in fields], axis=0)
    top = float(best.max())
    return best / top if top > 0 else best


def dense_max(pool: Pool, fields: Sequence[str], kind: str = "csls") -> Matrix:
    result: Matrix = np.max([pool.column(f"{kind}_{f}") for f in fields], axis=0)
    return result


def weighted(fields: Sequence[str], w_bm25: float, w_lex: float = 0.0) -> Scorer:
    """Dense CSLS (best field) + w_bm25 * BM25 / tweet's best BM25 + w_lex * char n-grams."""

    def score(pool: Pool) -> Matrix:
        lex: Matrix = np.max([pool.column(f"lex_{f}") for f in fields], axis=0)
        result: Matrix = dense_max(pool, fields) + w_bm25 * bm25_max(pool, fields) + w_lex * lex
        return result

    return score


def rrf(fields: Sequence[str], k: float, w_bm25: float = 1.0) -> Scorer:
    """Reciprocal-rank fusion of the best dense field rank and the best BM25 field rank."""

    def score(pool: Pool) -> Matrix:
        dense = np.min([pool.rank(f"csls_{f}") for f in fields], axis=0)
        bm25 = np.min([pool.rank(f"bm25_{f}") for f in fields], axis=0)
        result: Matrix = 1 / (k + dense + 1) + w_bm25 / (k + bm25 + 1)
        return result

    return score


def learned_features(pool: Pool) -> Matrix:
    """The learned ranker's inputs: every signal, BM25 scaled per tweet, and RRF terms."""
    cols = []
    for name in SIGNALS:
        v = pool.column(name)
        if name.startswith("bm25_"):
            top = float(pool.values[:, [SIGNALS.index(f"bm25_{f}") for f in FIELDS]].max())
            v = v / top if top > 0 else v
        cols.append(v)
    for name in SIGNALS:
        if name.startswith(("csls_", "bm25_")):
            cols.append(1.0 / (10.0 + pool.rank(name)))
    return np.stack(cols, axis=1).astype(np.float32)


def linear(weights: Matrix, bias: float = 0.0) -> Scorer:
    def score(pool: Pool) -> Matrix:
        result: Matrix = learned_features(pool) @ weights + bias
        return result

    return score
