"""Fit the matcher's calibration and write kb/data/calibration.json.

    python bench/calibrate.py [--target-precision 0.98] [--fit train_a train_b] [--tune dev]

The logistic model is fitted on the training sets (their own KBs and posts), the answer
threshold is the lowest that keeps precision on the tuning set at the target, and `ask`
starts at an even bet. The holdout set is never read here:
`bench/matcher_quality.py --split holdout` reports on it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evalset import SETS, eval_kb, load_posts
from kb.matcher import CALIBRATION, FEATURES, Calibration
from kb.text import clean_post


PAIR_C = 0.03  # strong regularisation: 768 inputs, about a thousand training pairs
PAIR_SCALE = 10.0  # the pair inputs are small; scaled so PAIR_C means the same at any model


@dataclass
class Rows:
    x: np.ndarray  # features of each (post, candidate) pair
    pairs: np.ndarray  # the pair head's input for each row
    y: np.ndarray  # is the candidate the post's entry
    leaders: list[tuple[int, bool, bool, int]]  # (row, right, has an entry, words) per post


async def collect(name: str, top: int, cal: Calibration) -> Rows:
    rows, pairs, labels, leaders = [], [], [], []
    async with eval_kb(SETS[name][0]) as kb:
        matcher = await kb.matcher()
        matcher.calibration = cal
        for post in load_posts(name):
            ev, ranked = matcher.scored(clean_post(post.text), top=top)
            for position, (index, features, _) in enumerate(ranked):
                rows.append(features)
                pairs.append(matcher.pair_vector(ev, index))
                labels.append(ev.entry_ids[index] == post.expected)
                if position == 0:
                    right = ev.entry_ids[index] == post.expected
                    leaders.append((len(rows) - 1, right, post.expected is not None, ev.words))
    return Rows(np.array(rows), np.array(pairs), np.array(labels), leaders)


def fit_pair_head(sets: list[Rows]) -> tuple[np.ndarray, float]:
    x = np.vstack([r.pairs for r in sets]) * PAIR_SCALE
    y = np.concatenate([r.y for r in sets])
    head = LogisticRegression(C=PAIR_C, max_iter=5000).fit(x, y)
    return head.coef_[0] * PAIR_SCALE, float(head.intercept_[0])


def with_pair_scores(rows: Rows, weights: np.ndarray, bias: float) -> np.ndarray:
    x = rows.x.copy()
    x[:, FEATURES.index("pair")] = rows.pairs @ weights + bias
    return x


def operating_point(cal: Calibration, rows: Rows, threshold: float) -> tuple[float, float, int]:
    """Precision, recall and false alarms of answering at `threshold`."""
    answered = [
        (right, positive)
        for i, right, positive, words in rows.leaders
        if cal.probability(rows.x[i]) >= threshold and words >= cal.min_words_to_answer
    ]
    right = sum(r for r, _ in answered)
    positives = sum(1 for _, _, positive, _ in rows.leaders if positive)
    alarms = sum(1 for _, positive in answered if not positive)
    return right / max(1, len(answered)), right / max(1, positives), alarms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-precision", type=float, default=0.98)
    parser.add_argument("--fit", nargs="+", default=["train_a", "train_b"])
    parser.add_argument("--tune", default="dev")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args()
    if "holdout" in (*args.fit, args.tune):
        parser.error("the holdout set is for reporting only")
    blank = Calibration(pair_weights=())  # features are collected without any old fit
    fit = [asyncio.run(collect(name, args.top, blank)) for name in args.fit]
    pair_w, pair_b = fit_pair_head(fit)
    # The calibration must see pair scores as they will be on unseen KBs: each training
    # set is scored by a head fitted on the other sets only.
    for i, rows in enumerate(fit):
        others = [r for j, r in enumerate(fit) if j != i] or [rows]
        rows.x = with_pair_scores(rows, *fit_pair_head(others))
    x = np.vstack([r.x for r in fit])
    y = np.concatenate([r.y for r in fit])
    # Fit on standardised features (so regularisation treats them alike), then fold the
    # scaling back into plain weights the matcher applies to raw features.
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=args.c, max_iter=2000).fit((x - mean) / scale, y)
    weights = tuple(float(w) for w in model.coef_[0] / scale)
    bias = float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum())
    cal = Calibration(weights=weights, bias=bias, pair_weights=tuple(float(w) for w in pair_w),
                      pair_bias=pair_b)
    tune = asyncio.run(collect(args.tune, args.top, blank))
    tune.x = with_pair_scores(tune, pair_w, pair_b)
    answer_at = 0.99
    for threshold in np.arange(0.50, 0.995, 0.005):
        precision, recall, _ = operating_point(cal, tune, float(threshold))
        if precision >= args.target_precision:
            answer_at = round(float(threshold), 3)
            break
    print("weights:", {f: round(w, 3) for f, w in zip(FEATURES, weights, strict=True)})
    print(f"bias: {bias:.3f}  answer_at: {answer_at}")
    for name, rows in [*zip(args.fit, fit, strict=True), (args.tune, tune)]:
        precision, recall, alarms = operating_point(cal, rows, answer_at)
        print(f"{name}: precision {precision:.3f} recall {recall:.3f} false alarms {alarms}")
    data = {
        "weights": weights,
        "bias": bias,
        "answer_at": answer_at,
        "ask_at": min(0.5, answer_at),
        "rank_lexical": cal.rank_lexical,
        "min_words_to_answer": cal.min_words_to_answer,
        "pair_bias": pair_b,
        "pair_weights": [round(float(w), 6) for w in pair_w],
        "features": list(FEATURES),
        "fitted_on": args.fit,
        "threshold_from": args.tune,
        "target_precision": args.target_precision,
    }
    CALIBRATION.write_text(json.dumps(data) + "\n", encoding="utf-8")
    print("wrote", CALIBRATION)


if __name__ == "__main__":
    main()
