"""Does the BM25 term tuned on English CheckThat! hurt our own multilingual sets?

    python bench/checkthat_multilingual.py [--w-bm25 0.1] [--w-lex 0.4] [--within inf 0]
                                           [--bm25-scale max|query] [--sets dev train_a ...]

Builds each set's KB through the real KnowledgeBase (bench/evalset.py), then matches its posts
with the shipped Matcher and with bench/checkthat_rank.py's FusedMatcher over the same texts
and vectors, and prints top-1 accuracy and the decision's precision, recall and false alarms
for both. The holdout set is left alone: it is for the calibration's final report only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checkthat_fused import FusedMatcher
from bench.evalset import SETS, eval_kb, load_posts
from bench.matcher_quality import table
from kb import store
from kb.background import load_background
from kb.embed import text_hash
from kb.matcher import Matcher


async def compare(
    name: str, w_bm25: float, w_lex: float, withins: Sequence[float], scale: str
) -> list[str]:
    async with eval_kb(SETS[name][0]) as kb:
        shipped = await kb.matcher()
        async with kb.sessions() as session:
            texts = await store.index_texts(session)
            vectors = await store.load_vectors(session, kb.embedder.name)
            links, media = await store.exact_keys(session)
        matrix = np.stack([vectors[text_hash(t.text)] for t in texts]).astype(np.float32)
        calibration = replace(shipped.calibration, rank_lexical=w_lex)
        background = load_background(kb.embedder)
        matchers: list[tuple[str, Matcher]] = [("shipped", shipped)]
        for within in withins:
            label = f"BM25 {w_bm25} ({scale}), char n-grams {w_lex}, re-sort within {within}"
            fused = FusedMatcher(
                kb.embedder,
                background,
                texts,
                matrix,
                appearances=links,
                media=media,
                calibration=calibration,
                w_bm25=w_bm25,
                resort_within=within,
                bm25_scale=scale,
            )
            matchers.append((label, fused))
        posts = load_posts(name)
        lines = []
        for name_of_ranking, matcher in matchers:
            stats = table([(p, matcher.match(p.text)) for p in posts])
            lines.append(
                f"| {name} | {name_of_ranking} | {stats['posts']:.0f} | {stats['top1']:.3f} | "
                f"{stats['precision']:.3f} | {stats['recall']:.3f} | "
                f"{stats['false_alarms']:.0f}/{stats['negatives']:.0f} | "
                f"{stats['wrong_entry']:.0f} |"
            )
        return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--w-bm25", type=float, default=0.1)
    parser.add_argument("--w-lex", type=float, default=0.4)
    parser.add_argument(
        "--within",
        type=float,
        nargs="+",
        default=[float("inf"), 0.0],
        help="bounds of the calibrated re-sort (inf: as shipped, 0: none)",
    )
    parser.add_argument("--bm25-scale", choices=["max", "query"], default="max")
    parser.add_argument(
        "--sets", nargs="+", default=["dev", "train_a", "train_b", "train_c", "train_d"]
    )
    args = parser.parse_args()
    print("| set | ranking | posts | top-1 | precision | recall | false alarms | wrong entry |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        for line in await compare(name, args.w_bm25, args.w_lex, args.within, args.bm25_scale):
            print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
