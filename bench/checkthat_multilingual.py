"""Does the BM25 term tuned on English CheckThat! hurt our own multilingual sets?

    python bench/checkthat_multilingual.py [--w-bm25 0.1] [--sets dev train_a train_b ...]

Builds each set's KB through the real KnowledgeBase (bench/evalset.py), then matches its posts
with the shipped Matcher and with bench/checkthat_rank.py's FusedMatcher over the same texts
and vectors, and prints top-1 accuracy and the decision's precision, recall and false alarms
for both. The holdout set is left alone: it is for the calibration's final report only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checkthat_rank import FusedMatcher
from bench.evalset import SETS, eval_kb, load_posts
from bench.matcher_quality import table
from kb import store
from kb.background import load_background
from kb.embed import text_hash


async def compare(name: str, w_bm25: float) -> list[str]:
    async with eval_kb(SETS[name][0]) as kb:
        shipped = await kb.matcher()
        async with kb.sessions() as session:
            texts = await store.index_texts(session)
            vectors = await store.load_vectors(session, kb.embedder.name)
            links, media = await store.exact_keys(session)
        matrix = np.stack([vectors[text_hash(t.text)] for t in texts]).astype(np.float32)
        fused = FusedMatcher(
            kb.embedder,
            load_background(kb.embedder),
            texts,
            matrix,
            appearances=links,
            media=media,
            w_bm25=w_bm25,
        )
        posts = load_posts(name)
        lines = []
        for label, matcher in (("shipped", shipped), (f"+ BM25 w={w_bm25}", fused)):
            stats = table([(p, matcher.match(p.text)) for p in posts])
            lines.append(
                f"| {name} | {label} | {stats['posts']:.0f} | {stats['top1']:.3f} | "
                f"{stats['precision']:.3f} | {stats['recall']:.3f} | "
                f"{stats['false_alarms']:.0f}/{stats['negatives']:.0f} | "
                f"{stats['wrong_entry']:.0f} |"
            )
        return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--w-bm25", type=float, default=0.1)
    parser.add_argument(
        "--sets", nargs="+", default=["dev", "train_a", "train_b", "train_c", "train_d"]
    )
    args = parser.parse_args()
    print("| set | ranking | posts | top-1 | precision | recall | false alarms | wrong entry |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        for line in await compare(name, args.w_bm25):
            print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
