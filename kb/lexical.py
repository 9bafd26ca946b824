"""Character n-gram TF-IDF: the lexical evidence beside the embeddings.

Character n-grams survive typos, inflection (Russian, Kazakh and Ukrainian endings) and
transliterated names, which word-level BM25 does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from kb.embed import Matrix


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            lowercase=True,
            dtype=np.float32,
            min_df=1,
        )
        self._size = len(texts)
        self._matrix = self._vectorizer.fit_transform(texts) if texts else None

    def similarities(self, text: str) -> Matrix:
        """Cosine of the text with every indexed text, in index order."""
        if self._matrix is None:
            return np.zeros(self._size, dtype=np.float32)
        query = self._vectorizer.transform([text])
        return np.asarray((self._matrix @ query.T).toarray().ravel(), dtype=np.float32)
