"""The encoder's two numerics side by side in one run: float32 activations (what the bot
ships, `accuracy_level` 0) and int8 activations per block (`accuracy_level` 4, stop 13's).

    python bench/activations.py [--repeat 15]

For posts of 8 to 64 words (cut from a long test post), interleaved so that both see the same
machine: the median ms for a post's vector and for its latent terms after it. Then how far
apart the two are on the test posts: the vectors' cosine, and the latent terms' (the
matcher's own `terms_similarity`). Which is faster depends on the CPU (int8 needs AVX-512
VNNI to pay), which is why this prints the machine's vector extensions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evalset import evaluation_post_texts
from bench.machine import describe
from kb.e5_onnx import E5Onnx
from kb.embed import TERMS_KEPT, _unit, terms_similarity
from kb.text import clean_post

LEVELS = (0, 4)


def timings(models: dict[int, E5Onnx], text: str, repeat: int) -> list[float]:
    """Median ms of each level's vector, then its terms, the levels taking turns each round."""
    times: dict[tuple[int, str], list[float]] = {(lv, w): [] for lv in LEVELS for w in "vt"}
    for round_ in range(repeat + 1):  # the first round warms up
        for level, model in models.items():
            t0 = time.perf_counter()
            _, states = model.encode([text], is_query=True)
            t1 = time.perf_counter()
            model.sparse(states, TERMS_KEPT)
            t2 = time.perf_counter()
            if round_:
                times[level, "v"].append((t1 - t0) * 1000)
                times[level, "t"].append((t2 - t1) * 1000)
    return [statistics.median(times[key]) for key in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print("Machine:", describe())
    with tempfile.TemporaryDirectory() as cache:
        models = {level: E5Onnx(cache=Path(cache), accuracy=level) for level in LEVELS}
        posts = evaluation_post_texts()
        words = clean_post(max(posts, key=lambda t: len(t.split()))).text.split()
        heads = [f"level {level} {what}" for level in LEVELS for what in ("vector", "terms")]
        print("| words | tokens | " + " | ".join(heads) + " | vector level 0 / level 4 |")
        print("|---" * (len(heads) + 3) + "|")
        for n in (8, 16, 32, 64):
            text = " ".join(words[:n])
            tokens = len(models[0].tokens("query: " + text)) + 2
            cells = timings(models, text, args.repeat)
            row = " | ".join(f"{c:.1f}" for c in cells)
            print(f"| {n} | {tokens} | {row} | {cells[0] / cells[2]:.2f} |")
        sample = posts[::5]
        out = {level: models[level].encode(sample, is_query=True) for level in LEVELS}
        vectors = np.sum(out[0][0] * out[4][0], axis=1)
        terms = [models[level].sparse(out[level][1], TERMS_KEPT) for level in LEVELS]
        agree = [terms_similarity(_unit(*a), _unit(*b)) for a, b in zip(*terms, strict=True)]
        print(
            f"\n{len(sample)} test posts (query): vectors' cosine min {vectors.min():.5f}, "
            f"median {np.median(vectors):.5f}; latent terms' cosine min {min(agree):.4f}, "
            f"median {np.median(agree):.4f}"
        )


if __name__ == "__main__":
    main()
