"""Ordinary text to measure a post's similarity against, so scores mean the same for every post.

e5's cosines sit in a narrow band (unrelated ≈ 0.79, matches ≈ 0.90) and drift with the
language and length of the text: a Kazakh post is close to everything. Comparing a post
with how close it is to plain background text (CSLS, Conneau et al. 2018) removes that drift.

The drift depends on the pair of languages too: a Kazakh post sits further from any English
text than from any Kazakh one. So the background is kept per language, and a post is
compared with background text in the language of the KB text it is scored against.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

from kb.embed import Embedder, Matrix

log = logging.getLogger(__name__)
DATA = Path(__file__).parent / "data"
TEXTS = DATA / "background.txt"
NEIGHBOURS = 10


@dataclass(frozen=True)
class Background:
    """Background texts embedded both ways: as passages (vs posts) and as queries (vs KB texts)."""

    passages: Matrix
    queries: Matrix
    langs: tuple[str, ...] = ()  # the language of each background text, where known

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.langs)))

    @cached_property
    def _columns(self) -> list[npt.NDArray[np.intp] | slice]:
        """Each language's background texts, then all of them."""
        langs = np.asarray(self.langs)
        return [np.flatnonzero(langs == lang) for lang in self.languages] + [slice(None)]

    def post_bias(self, post_vectors: Matrix) -> Matrix:
        """Mean similarity of each post chunk to its nearest background texts."""
        return self.post_biases(post_vectors)[:, -1]

    def post_biases(self, post_vectors: Matrix) -> Matrix:
        """Chunks x (languages + 1): `post_bias` within each language's texts, then all."""
        return self._by_column(post_vectors @ self.passages.T)

    def text_bias(self, text_vectors: Matrix) -> Matrix:
        """Mean similarity of each KB text to its nearest background queries."""
        return self.text_biases(text_vectors)[:, -1]

    def text_biases(self, text_vectors: Matrix) -> Matrix:
        """Texts x (languages + 1): `text_bias` within each language's texts, then all."""
        out = np.empty((len(text_vectors), len(self._columns)), dtype=np.float32)
        for start in range(0, len(text_vectors), 4096):  # bounded temporary matrix
            block = text_vectors[start : start + 4096] @ self.queries.T
            out[start : start + 4096] = self._by_column(block)
        return out

    def _by_column(self, sims: Matrix) -> Matrix:
        # One product with every background text; each language's neighbours are a subset.
        return np.stack([_mean_top(sims[:, columns]) for columns in self._columns], axis=1)


def _mean_top(sims: Matrix) -> Matrix:
    k = min(NEIGHBOURS, sims.shape[1])
    if k == 0:
        return np.zeros(sims.shape[0], dtype=np.float32)
    top = np.partition(sims, -k, axis=1)[:, -k:]
    result: Matrix = top.mean(axis=1).astype(np.float32)
    return result


def background_texts() -> list[str]:
    lines = TEXTS.read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[-1].strip() for line in lines if line.strip()]


def background_languages() -> tuple[str, ...]:
    """Each background text's language: the tab-separated first column."""
    lines = TEXTS.read_text(encoding="utf-8").splitlines()
    return tuple(
        line.split("\t", 1)[0].strip() if "\t" in line else "" for line in lines if line.strip()
    )


def _cache_file(model: str) -> tuple[Path, Path]:
    digest = hashlib.sha256(TEXTS.read_bytes() + model.encode()).hexdigest()[:16]
    name = f"background-{model}-{digest}.npz"
    return DATA / name, Path(platformdirs.user_cache_dir("rumorbot")) / name


def load_background(embedder: Embedder) -> Background:
    """The bundled background vectors, embedding them once if this model has none cached."""
    bundled, cached = _cache_file(embedder.name)
    for path in (bundled, cached):
        if path.exists():
            with np.load(path) as data:
                return Background(data["passages"], data["queries"], background_languages())
    log.info("embedding the background corpus once for %s", embedder.name)
    texts = background_texts()
    background = Background(
        embedder.passages(texts), embedder.queries(texts), background_languages()
    )
    save_background(background, cached)
    return background


def save_background(background: Background, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, passages=background.passages, queries=background.queries)


def bundle_background(embedder: Embedder) -> Path:
    """Embed the corpus and store it beside the package, for a release to ship."""
    texts = background_texts()
    bundled, _ = _cache_file(embedder.name)
    for old in DATA.glob(f"background-{embedder.name}-*.npz"):
        old.unlink()
    save_background(Background(embedder.passages(texts), embedder.queries(texts)), bundled)
    return bundled


if __name__ == "__main__":
    from kb.embed import default_embedder

    print(bundle_background(default_embedder()))
