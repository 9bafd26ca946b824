"""Word-level BM25 over the KB texts: the evidence for posts that reuse a claim's rare words.

Dense similarity finds paraphrases and other languages; it is weaker when a post and a claim
share exact names, numbers and rare words. BM25 rewards that, and only that, so it is
scaled per post to what a text holding every word of the post would score: a post that
shares one name with the KB stays near 0, one that repeats a claim's wording nears 1.
Posts in another language than every text share no words and get 0 everywhere, so BM25
can reorder same-language candidates but never pushes a cross-lingual match down by itself.

The scores come from one sparse matrix product (texts x words), as Lucene's BM25 computes
them (k1 1.2, b 0.75, idf log(1 + (N - df + 0.5) / (df + 0.5))), without its length
quantisation.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from kb.embed import Matrix

K1, B = 1.2, 0.75
WORD_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, in any script."""
    return WORD_RE.findall(text.lower())


class WordIndex:
    """BM25 scores of a post against every indexed text."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._vocabulary: dict[str, int] = {}
        # Typed arrays, one text's counts at a time: lists of Python ints and a Counter per
        # text held some 20 MB at 10,000 texts for an index of 3.
        rows, cols, tfs = array("l"), array("l"), array("f")
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            terms = Counter(words(text))
            lengths[row] = sum(terms.values())
            for term, tf in terms.items():
                rows.append(row)
                cols.append(self._vocabulary.setdefault(term, len(self._vocabulary)))
                tfs.append(tf)
        self._size = n = len(texts)
        average = max(1.0, float(lengths.mean())) if n else 1.0
        df = np.bincount(np.asarray(cols, dtype=np.intp), minlength=len(self._vocabulary))
        self._idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        # The weight of a word that no text has: the highest idf possible.
        self._unseen_idf = math.log1p((n + 0.5) / 0.5)
        freq = np.asarray(tfs, dtype=np.float32)
        row_of = np.asarray(rows, dtype=np.intp)
        col_of = np.asarray(cols, dtype=np.intp)
        length_norm = K1 * (1 - B + B * lengths[row_of] / average)
        weights = self._idf[col_of] * freq / (freq + length_norm)
        # Columns (words) are what a post selects, so keep them contiguous.
        self._matrix = sparse.csc_matrix(
            (weights, (row_of, col_of)), shape=(n, len(self._vocabulary)), dtype=np.float32
        )

    def scores(self, text: str) -> Matrix:
        """Each text's BM25 for the post, divided by the post's own best possible score."""
        query = Counter(words(text))
        known = [(self._vocabulary[t], q) for t, q in query.items() if t in self._vocabulary]
        ceiling = (
            sum(float(self._idf[c]) * q for c, q in known)
            + self._unseen_idf * sum(q for t, q in query.items() if t not in self._vocabulary)
        ) / (1 + K1)
        if not known or ceiling <= 0:
            return np.zeros(self._size, dtype=np.float32)
        columns = np.array([c for c, _ in known], dtype=np.intp)
        counts = np.array([q for _, q in known], dtype=np.float32)
        values = self._matrix[:, columns] @ counts
        return np.asarray(values, dtype=np.float32).ravel() / np.float32(ceiling)
