"""The CheckThat! claim-retrieval data in ../shared/bench, read in place, and vector caches.

Verified claims become KB texts (vclaim, title, and for 2021/2022 the subtitle); tweets are
queries. Passage vectors go to the cache of bench/latency.py (keyed by text hash), query
vectors to a cache of their own beside it, so a benchmark rerun embeds nothing.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))  # bm25_baseline imports `score` as a top-level module

import bm25_baseline  # noqa: E402
import score  # noqa: E402

from bench.latency import CACHE, cached_terms, cached_vectors, save_terms  # noqa: E402
from kb.embed import Embedder, Matrix, OnnxE5, Terms, default_embedder, text_hash  # noqa: E402

__all__ = [
    "BENCH",
    "CACHE",
    "EDITIONS",
    "CachedQueries",
    "Claim",
    "Split",
    "bm25_baseline",
    "claim_texts",
    "load_claims",
    "load_split",
    "passage_vectors",
    "score",
    "splits_of",
]
EDITIONS = {
    "2020": "checkthat2020",
    "2021": "checkthat2021-2a-en",
    "2022": "checkthat2022-2a-en",
}
CHUNK = 1500  # texts per cache save, so an interrupted embedding run keeps its progress


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    vclaim: str
    title: str
    subtitle: str = ""

    @property
    def summary(self) -> str:
        return self.title or self.vclaim


@dataclass(frozen=True, slots=True)
class Split:
    queries: list[tuple[str, str]]  # (tweet id, tweet text)
    qrels: Path
    gold: dict[str, set[str]]  # tweet id -> relevant claim ids


def load_claims(edition: str) -> list[Claim]:
    """The verified claims, text stripped (as bench/latency.py stores the 2020 ones)."""
    folder = BENCH / EDITIONS[edition]
    if edition == "2020":
        return [
            Claim(cid, v.strip(), t.strip())
            for cid, v, t in bm25_baseline.load(EDITIONS[edition], "test")[0]
        ]
    claims = []
    with zipfile.ZipFile(folder / "vclaims.zip") as z:
        for name in sorted(z.namelist()):
            if name.endswith(".json"):
                v = json.loads(z.read(name))
                claims.append(
                    Claim(
                        v["vclaim_id"],
                        (v.get("vclaim") or "").strip(),
                        (v.get("title") or "").strip(),
                        (v.get("subtitle") or "").strip(),
                    )
                )
    return claims


def load_split(edition: str, split: str) -> Split:
    """Tweets and gold of one split, read by the shared BM25 baseline's own loader."""
    _, queries, qrels = bm25_baseline.load(EDITIONS[edition], split)
    gold: dict[str, set[str]] = {}
    for line in qrels.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[3] != "0":
            gold.setdefault(parts[0], set()).add(parts[2])
    return Split(list(queries), qrels, gold)


def splits_of(edition: str) -> list[str]:
    return ["train", "dev", "devtest", "test"] if edition == "2022" else ["train", "dev", "test"]


def claim_texts(claims: Sequence[Claim], subtitles: bool = True) -> list[str]:
    """The KB texts the product indexes (vclaim, summary), then the extra fields of the variants."""
    texts = [t for c in claims for t in (c.vclaim, c.summary)]
    if subtitles:
        texts += [c.subtitle for c in claims if c.subtitle]
        texts += [f"{c.vclaim} {c.summary}" for c in claims if c.summary != c.vclaim]
    return texts


def passage_vectors(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Cached passage vectors, embedding what is missing a chunk at a time."""
    unique = list(dict.fromkeys(t for t in texts if t))
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(unique), CHUNK):
        out.update(cached_vectors(unique[start : start + CHUNK]))
    return out


class CachedQueries:
    """An Embedder that remembers query vectors on disk; passages must come from the cache."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder
        self.name = OnnxE5.name  # the model itself loads only if a query is not cached
        self.dim = OnnxE5.dim
        self.path = CACHE / f"checkthat-queries-{self.name}.npz"
        self._cache: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.exists():
            with np.load(self.path) as data:
                self._cache = dict(zip(data["hashes"].tolist(), data["vectors"], strict=True))

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def queries(self, texts: Sequence[str]) -> Matrix:
        keys = [text_hash(t) for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in self._cache]
        if missing:
            for t, v in zip(missing, self.embedder.queries(missing), strict=True):
                self._cache[text_hash(t)] = v.astype(np.float32)
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def passages(self, texts: Sequence[str]) -> Matrix:
        vectors = passage_vectors(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([vectors[t] for t in texts]).astype(np.float32)

    def terms(self, texts: Sequence[str]) -> list[Terms]:
        found = cached_terms(texts, save=False)
        return [found[t] for t in texts]

    def save(self) -> None:
        save_terms()
        if not self._dirty:
            return
        CACHE.mkdir(parents=True, exist_ok=True)
        hashes = list(self._cache)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, hashes=np.array(hashes), vectors=np.stack([self._cache[h] for h in hashes]))
        tmp.replace(self.path)
        self._dirty = False
