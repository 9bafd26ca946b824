"""Fit the matcher's calibration on the DEV split only, and write kb/data/calibration.json.

    python bench/calibrate.py [--target-precision 0.98]

For each dev post the top candidates become training rows (features -> is it the right entry).
A logistic regression turns features into a probability; the answer threshold is the lowest
one that keeps dev precision at the target, and `ask` starts at an even bet. The holdout split
is never read here: `bench/matcher_quality.py --split holdout` reports on it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evalset import eval_kb, load_posts
from kb.matcher import CALIBRATION, FEATURES, Calibration
from kb.text import clean_post


async def collect(top: int) -> tuple[np.ndarray, np.ndarray, list[tuple[float, bool, bool, int]]]:
    rows, labels, leaders = [], [], []
    async with eval_kb() as kb:
        matcher = await kb.matcher()
        for post in load_posts("dev"):
            ev, ranked = matcher.scored(clean_post(post.text), top=top)
            for position, (index, features, _) in enumerate(ranked):
                rows.append(features)
                labels.append(ev.entry_ids[index] == post.expected)
                if position == 0:
                    leaders.append(
                        (
                            len(rows) - 1,
                            ev.entry_ids[index] == post.expected,
                            post.expected is not None,
                            ev.words,
                        )
                    )
    return np.array(rows), np.array(labels), leaders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-precision", type=float, default=0.98)
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args()
    x, y, leaders = asyncio.run(collect(args.top))
    model = LogisticRegression(C=args.c, max_iter=1000).fit(x, y)
    base = Calibration()
    weights = tuple(float(w) for w in model.coef_[0])
    bias = float(model.intercept_[0])
    fitted = Calibration(weights=weights, bias=bias)
    probs = [
        (fitted.probability(x[i]), right, positive, words) for i, right, positive, words in leaders
    ]
    positives = sum(1 for _, _, positive, _ in probs if positive)
    answer_at = 0.99
    for threshold in sorted({round(p, 3) for p, *_ in probs}):
        answered = [
            (p, r) for p, r, _, w in probs if p >= threshold and w >= base.min_words_to_answer
        ]
        if not answered:
            continue
        precision = sum(r for _, r in answered) / len(answered)
        if precision >= args.target_precision:
            answer_at = max(threshold, 0.5)
            break
    answered = [(p, r) for p, r, _, w in probs if p >= answer_at and w >= base.min_words_to_answer]
    right = sum(r for _, r in answered)
    print(
        "features:", dict(zip(FEATURES, np.round(weights, 3), strict=True)), "bias", round(bias, 3)
    )
    print(
        f"dev: answer_at={answer_at:.3f} precision={right / max(1, len(answered)):.3f} "
        f"recall={right / max(1, positives):.3f} ({len(answered)} answered)"
    )
    data = {
        "weights": weights,
        "bias": bias,
        "answer_at": answer_at,
        "ask_at": min(0.5, answer_at),
        "rank_lexical": base.rank_lexical,
        "min_words_to_answer": base.min_words_to_answer,
        "fitted_on": "tests/data/posts_dev.jsonl + tests/data/eval_kb.yaml",
        "features": list(FEATURES),
    }
    CALIBRATION.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print("wrote", CALIBRATION)


if __name__ == "__main__":
    main()
