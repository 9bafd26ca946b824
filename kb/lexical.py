"""Character n-gram TF-IDF: the lexical evidence beside the embeddings.

Character n-grams survive typos, inflection (Russian, Kazakh and Ukrainian endings) and
transliterated names, which word-level BM25 does not. Hashed features keep memory flat
however large the KB's vocabulary grows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from kb.embed import Matrix


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._hasher = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            n_features=2**20,
            alternate_sign=False,
            norm=None,
            lowercase=True,
            dtype=np.float32,
        )
        self._tfidf = TfidfTransformer(sublinear_tf=True)
        self._size = len(texts)
        self._matrix = self._tfidf.fit_transform(self._hasher.transform(texts)) if texts else None

    def similarities(self, text: str, rows: npt.NDArray[np.intp] | None = None) -> Matrix:
        """Cosine of the text with the indexed texts (only `rows`, if given; others 0)."""
        out = np.zeros(self._size, dtype=np.float32)
        if self._matrix is None:
            return out
        query = self._tfidf.transform(self._hasher.transform([text]))
        matrix = self._matrix if rows is None else self._matrix[rows]
        values = np.asarray((matrix @ query.T).toarray().ravel(), dtype=np.float32)
        if rows is None:
            return values
        out[rows] = values
        return out
