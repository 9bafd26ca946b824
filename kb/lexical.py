"""Character n-gram TF-IDF: the lexical evidence beside the embeddings.

Character n-grams survive typos, inflection (Russian, Kazakh and Ukrainian endings) and
transliterated names, which word-level BM25 does not. Features are the 3- to 5-grams of each
word padded with spaces (scikit-learn's "char_wb"), hashed into 2**20 buckets so memory stays
flat however large the KB's vocabulary grows; weights are sublinear tf times smoothed idf,
rows L2-normalised.

Written with numpy rather than scikit-learn's HashingVectorizer: importing scikit-learn costs
about 65 MB of resident memory (a sixth of the 400 MB budget at 10,000 entries) and two seconds
of start-up, and hashing every n-gram of every text in one vectorised pass is faster than its
per-text Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from kb.embed import Matrix

N_FEATURES = 2**20
BLOCK = 2000  # texts hashed together
NGRAMS = (3, 4, 5)
_SEPARATOR = "\x00"  # between padded words: an n-gram holding it spans two words
_BASE = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of h * MIX spread well
_SHIFT = np.uint64(64 - 20)


def _ngram_hashes(texts: Sequence[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """(text index, feature bucket) of every word n-gram of every text, in one pass."""
    pieces = [_SEPARATOR.join(f" {w} " for w in t.lower().split()) for t in texts]
    joined = _SEPARATOR.join(pieces)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.array([len(p) + 1 for p in pieces], dtype=np.intp)  # each with its separator
    text_of = np.repeat(np.arange(len(texts), dtype=np.intp), lengths)[: len(codes)]
    breaks = np.concatenate([[0], np.cumsum(codes == 0)])  # separators before each position
    rows, buckets = [], []
    with np.errstate(over="ignore"):  # the hashes wrap around 2**64 on purpose
        for n in NGRAMS:
            count = len(codes) - n + 1
            if count <= 0:
                continue
            h = np.full(count, np.uint64(n), dtype=np.uint64)
            for j in range(n):
                h = h * _BASE + codes[j : j + count]
            whole = breaks[n : n + count] == breaks[:count]  # no separator inside
            rows.append(text_of[:count][whole])
            buckets.append(((h[whole] * _MIX) >> _SHIFT).astype(np.int64))
    if not rows:
        return np.zeros(0, np.intp), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(buckets)


def _counts(texts: Sequence[str]) -> sparse.csr_matrix:
    """Raw n-gram counts, texts x buckets, a block of texts at a time: one pass over 200,000
    texts would hold gigabytes of n-gram hashes at once. The blocks' arrays are joined
    directly; `sparse.vstack` would hold a third copy of the index while it builds."""
    data, indices, lengths = [], [], []
    for start in range(0, len(texts), BLOCK):
        block = texts[start : start + BLOCK]
        rows, buckets = _ngram_hashes(block)
        keys, counts = np.unique(rows.astype(np.int64) * N_FEATURES + buckets, return_counts=True)
        data.append(counts.astype(np.float32))
        indices.append((keys % N_FEATURES).astype(np.int32))  # sorted within each row
        lengths.append(np.bincount(keys // N_FEATURES, minlength=len(block)))
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    if lengths:
        np.cumsum(np.concatenate(lengths), out=indptr[1:])
    return sparse.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            indptr,
        ),
        shape=(len(texts), N_FEATURES),
    )


def _tfidf(counts: sparse.csr_matrix, idf: Matrix) -> sparse.csr_matrix:
    """Sublinear tf times idf, each row L2-normalised; `counts` is reused, not copied."""
    data = counts.data
    np.log(data, out=data)
    data += 1.0
    data *= idf[counts.indices]
    row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row, weights=data * data, minlength=counts.shape[0]))
    norms[norms == 0] = 1.0
    data *= (np.float32(1.0) / norms.astype(np.float32))[row]
    return counts


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._size = len(texts)
        self._matrix: sparse.csr_matrix | None = None
        self._idf = np.ones(N_FEATURES, dtype=np.float32)
        if texts:
            counts = _counts(texts)
            df = np.bincount(counts.indices, minlength=N_FEATURES)
            self._idf = (np.log((1 + self._size) / (1 + df)) + 1).astype(np.float32)
            self._matrix = _tfidf(counts, self._idf)

    def similarities(self, text: str, rows: npt.NDArray[np.intp] | None = None) -> Matrix:
        """Cosine of the text with the indexed texts (only `rows`, if given; others 0)."""
        out = np.zeros(self._size, dtype=np.float32)
        if self._matrix is None:
            return out
        # The query as a dense vector over the hashed n-grams: multiplying by the transposed
        # sparse query made scipy build a million-row index for every post (4 of its 7 ms).
        query = _tfidf(_counts([text]), self._idf)
        weights = np.zeros(N_FEATURES, dtype=np.float32)
        weights[query.indices] = query.data
        matrix = self._matrix if rows is None else self._matrix[rows]
        values = np.asarray(matrix @ weights, dtype=np.float32)
        if rows is None:
            return values
        out[rows] = values
        return out
