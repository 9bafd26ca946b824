"""The seed KB's vectors and latent terms, shipped in the package so a first run embeds nothing.

Embedding the seed's texts twice (vector and latent terms) took ten of the eleven seconds of a
new user's first `rumorbot check`. Rows are keyed by text hash and model name: a seed text
edited since the bundle was made, or another model, is simply embedded as usual.

Rebuild after editing kb/seed/seed.yaml: `python -m kb.seed_vectors`.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.embed import Embedder, Matrix, Terms, TermTable

DATA = Path(__file__).parent / "data"


def bundle_path(model: str) -> Path:
    return DATA / f"seed-{model}.npz"


@dataclass(frozen=True)
class Bundle:
    """Stored vectors and latent terms by text hash."""

    vectors: dict[str, Matrix]
    terms: dict[str, Terms]


def load_bundle(model: str) -> Bundle:
    path = bundle_path(model)
    if not path.exists():
        return Bundle({}, {})
    with np.load(path) as data:
        hashes = [str(h) for h in data["hashes"]]
        vectors = dict(zip(hashes, data["vectors"], strict=True))
        table = TermTable.saved(data["term_indices"], data["term_values"], data["term_sizes"])
    return Bundle(vectors, {h: table.get(row) for row, h in enumerate(hashes)})


def write_bundle(model: str, vectors: dict[str, Matrix], terms: dict[str, Terms]) -> Path:
    hashes = sorted(vectors.keys() & terms.keys())
    table = TermTable.of([terms[h] for h in hashes])
    path = bundle_path(model)
    np.savez_compressed(
        path,
        hashes=np.array(hashes),
        vectors=np.stack([vectors[h] for h in hashes]).astype(np.float16),
        term_indices=table.indices,
        term_values=table.values,
        term_sizes=table.sizes,
    )
    return path


async def build(embedder: Embedder) -> Path:
    """Import the seed into a throw-away database with `embedder` and bundle what it stored,
    so the bundle holds exactly the texts an import embeds."""
    from kb import store
    from kb.db import open_database
    from kb.service import SEED, KnowledgeBase

    with tempfile.TemporaryDirectory() as folder:
        async with open_database(f"sqlite:///{folder}/seed.db") as sessions:
            kb = KnowledgeBase(sessions, embedder)
            try:
                await kb.import_files([SEED], actor="bundle")  # not seed(): that reads the bundle
                async with sessions() as session:
                    vectors = await store.load_vectors(session, embedder.name)
                    terms = await store.load_terms(session, embedder.name)
            finally:
                kb.close()
    return write_bundle(embedder.name, vectors, terms)


if __name__ == "__main__":
    from kb.embed import default_embedder

    print(asyncio.run(build(default_embedder())))
