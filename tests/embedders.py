"""Embedders for tests: the real model, observed."""

from __future__ import annotations

import numpy as np

from kb.embed import Embedder, Matrix, Terms


class CountingEmbedder:
    """The real model, counting how many texts it embeds (to prove vectors are reused)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.passages_embedded = 0
        self.queries_embedded = 0
        self.terms_embedded = 0

    def queries(self, texts):  # type: ignore[no-untyped-def]
        self.queries_embedded += len(texts)
        return self.inner.queries(texts)

    def passages(self, texts):  # type: ignore[no-untyped-def]
        self.passages_embedded += len(texts)
        return self.inner.passages(texts)

    def terms(self, texts):  # type: ignore[no-untyped-def]
        self.terms_embedded += len(texts)
        return self.inner.terms(texts)


class RememberingEmbedder:
    """The real model, remembering each KB text it embedded for the whole test session.

    Most tests start from a fresh database with the seed KB in it; the model gives the same
    vectors for the same text, so only the first test pays for embedding the seed.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._passages: dict[str, Matrix] = {}
        self._terms: dict[str, Terms] = {}

    def queries(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.queries(texts)

    def passages(self, texts):  # type: ignore[no-untyped-def]
        missing = [t for t in dict.fromkeys(texts) if t not in self._passages]
        for t, v in zip(missing, self.inner.passages(missing), strict=True):
            self._passages[t] = v
        return np.stack([self._passages[t] for t in texts]) if texts else self.inner.passages([])

    def terms(self, texts):  # type: ignore[no-untyped-def]
        missing = [t for t in dict.fromkeys(texts) if t not in self._terms]
        for t, found in zip(missing, self.inner.terms(missing), strict=True):
            self._terms[t] = found
        return [self._terms[t] for t in texts]
