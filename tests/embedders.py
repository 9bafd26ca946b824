"""Embedders for tests: the real model, observed."""

from __future__ import annotations

from kb.embed import Embedder


class CountingEmbedder:
    """The real model, counting how many texts it embeds (to prove vectors are reused)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.passages_embedded = 0
        self.queries_embedded = 0

    def queries(self, texts):  # type: ignore[no-untyped-def]
        self.queries_embedded += len(texts)
        return self.inner.queries(texts)

    def passages(self, texts):  # type: ignore[no-untyped-def]
        self.passages_embedded += len(texts)
        return self.inner.passages(texts)
