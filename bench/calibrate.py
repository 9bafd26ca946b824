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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evalset import SETS, TRAINING, eval_kb, load_posts
from kb.calibration import CALIBRATION, FEATURES, Calibration, Tree
from kb.text import clean_post

PAIR_C = 0.03  # strong regularisation: 768 inputs, about a thousand training pairs
PAIR_SCALE = 10.0  # the pair inputs are small; scaled so PAIR_C means the same at any model


@dataclass
class Rows:
    x: np.ndarray  # features of each (post, candidate) pair
    pairs: np.ndarray  # the pair head's input for each row
    y: np.ndarray  # is the candidate the post's entry
    # per post: (its rows by ranking score, has an entry, words, the front-runners are in the
    # post's language): Matcher.scored re-sorts by probability when they are not
    leaders: list[tuple[list[int], bool, int, bool]]


async def collect(name: str, top: int, cal: Calibration) -> Rows:
    rows, pairs, labels, leaders = [], [], [], []
    async with eval_kb(SETS[name][0]) as kb:
        matcher = await kb.matcher()
        matcher.calibration = cal
        for post in load_posts(name):
            ev, ranked = matcher.scored(clean_post(post.text), top=top)
            first = len(rows)
            for index, features, _ in ranked:
                rows.append(features)
                pairs.append(matcher.pair_vector(ev, index))
                labels.append(ev.entry_ids[index] == post.expected)
            own = list(range(first, len(rows)))
            leaders.append((own, post.expected is not None, ev.words, ev.same_language))
    return Rows(np.array(rows), np.array(pairs), np.array(labels), leaders)


def fit_pair_head(sets: list[Rows], c: float = PAIR_C) -> tuple[np.ndarray, float]:
    x = np.vstack([r.pairs for r in sets]) * PAIR_SCALE
    y = np.concatenate([r.y for r in sets])
    head = LogisticRegression(C=c, max_iter=5000).fit(x, y)
    return head.coef_[0] * PAIR_SCALE, float(head.intercept_[0])


def with_pair_scores(rows: Rows, weights: np.ndarray, bias: float) -> np.ndarray:
    x = rows.x.copy()
    x[:, FEATURES.index("pair")] = rows.pairs @ weights + bias
    return x


def operating_point(cal: Calibration, rows: Rows, threshold: float) -> tuple[float, float, int]:
    """Precision, recall and false alarms of answering at `threshold`, as Matcher.match does."""
    answered = []
    for own, positive, words, same_language in rows.leaders:
        if not own or words < cal.min_words_to_answer:
            continue
        i = own[0] if same_language else max(own, key=lambda j: cal.probability(rows.x[j]))
        if cal.probability(rows.x[i]) >= threshold:
            answered.append((bool(rows.y[i]), positive))
    right = sum(r for r, _ in answered)
    positives = sum(1 for _, positive, _, _ in rows.leaders if positive)
    alarms = sum(1 for _, positive in answered if not positive)
    return right / max(1, len(answered)), right / max(1, positives), alarms


def export_trees(model: HistGradientBoostingClassifier) -> tuple[float, tuple[Tree, ...]]:
    """The fitted ensemble as plain arrays the matcher evaluates without scikit-learn."""
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        trees.append(
            Tree(
                feature=tuple(int(f) for f in nodes["feature_idx"]),
                threshold=tuple(float(t) for t in nodes["num_threshold"]),
                left=tuple(int(n) for n in nodes["left"]),
                right=tuple(int(n) for n in nodes["right"]),
                value=tuple(float(v) for v in nodes["value"]),
                leaf=tuple(bool(b) for b in nodes["is_leaf"]),
            )
        )
    return float(np.ravel(model._baseline_prediction)[0]), tuple(trees)


def fit_model(x: np.ndarray, y: np.ndarray, kind: str, c: float) -> Calibration:
    """Boosted trees (they learn interactions such as language x similarity), or logistic."""
    if kind == "trees":
        model = HistGradientBoostingClassifier(
            learning_rate=0.1,
            max_leaf_nodes=10,
            max_iter=200,
            l2_regularization=1.0,
            random_state=0,
        ).fit(x, y)
        bias, trees = export_trees(model)
        cal = Calibration(bias=bias, trees=trees)
        # the exported trees must reproduce scikit-learn's own scores
        probe = x[:50]
        expected = model.predict_proba(probe)[:, 1]
        assert np.allclose([cal.probability(row) for row in probe], expected, atol=1e-6)
        return cal
    # Fit on standardised features (so regularisation treats them alike), then fold the
    # scaling back into plain weights the matcher applies to raw features.
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    return Calibration(
        weights=tuple(float(w) for w in model.coef_[0] / scale),
        bias=float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum()),
    )


def fit_all(
    fit: list[Rows],
    tune: Rows,
    pair_c: float,
    c: float,
    target: float,
    kind: str,
    tune_ranking: Calibration,
) -> tuple[Calibration, float, float]:
    """Pair head, then the calibration over out-of-fold pair scores, then the threshold."""
    pair_w, pair_b = fit_pair_head(fit, pair_c)
    # The calibration must see pair scores as they will be on unseen KBs: each training
    # set is scored by a head fitted on the other sets only.
    xs = []
    for i, rows in enumerate(fit):
        others = [r for j, r in enumerate(fit) if j != i] or [rows]
        xs.append(with_pair_scores(rows, *fit_pair_head(others, pair_c)))
    x = np.vstack(xs)
    y = np.concatenate([r.y for r in fit])
    cal = replace(
        fit_model(x, y, kind, c),
        pair_weights=tuple(float(w) for w in pair_w),
        pair_bias=pair_b,
        rank_lexical=tune_ranking.rank_lexical,
        rank_bm25=tune_ranking.rank_bm25,
    )
    scored = Rows(with_pair_scores(tune, pair_w, pair_b), tune.pairs, tune.y, tune.leaders)
    answer_at, recall = 0.99, 0.0
    for threshold in np.arange(0.50, 0.995, 0.005):
        precision, recall_here, _ = operating_point(cal, scored, float(threshold))
        if precision >= target:
            answer_at, recall = round(float(threshold), 3), recall_here
            break
    return cal, answer_at, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-precision", type=float, default=0.98)
    # train_e and train_f exist too; fitting on all six lowered dev recall (trees 0.66,
    # logistic 0.71, against 0.75 for these four), see BENCHMARKS.md.
    parser.add_argument("--fit", nargs="+", default=list(TRAINING[:4]))
    parser.add_argument("--tune", default="dev")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--model", choices=["trees", "linear"], default="trees")
    parser.add_argument(
        "--pair-c",
        type=float,
        nargs="+",
        default=[0.01, 0.03, 0.1, 0.3],
        help="pair head regularisation values to try; the tuning set picks",
    )
    args = parser.parse_args()
    if "holdout" in (*args.fit, args.tune):
        parser.error("the holdout set is for reporting only")
    blank = Calibration(pair_weights=())  # features are collected without any old fit
    fit = [asyncio.run(collect(name, args.top, blank)) for name in args.fit]
    tune = asyncio.run(collect(args.tune, args.top, blank))
    best: tuple[float, float, Calibration, float] | None = None
    for pair_c in args.pair_c:
        cal, answer_at, recall = fit_all(
            fit, tune, pair_c, args.c, args.target_precision, args.model, blank
        )
        print(f"pair C {pair_c}: {args.tune} recall {recall:.3f} at answer_at {answer_at}")
        if best is None or recall > best[0]:
            best = (recall, answer_at, cal, pair_c)
    assert best is not None
    _, answer_at, cal, pair_c = best
    weights, bias = cal.weights, cal.bias
    pair_w, pair_b = np.asarray(cal.pair_weights), cal.pair_bias
    for rows in fit:
        rows.x = with_pair_scores(rows, pair_w, pair_b)
    tune.x = with_pair_scores(tune, pair_w, pair_b)
    if not cal.trees:
        print("weights:", {f: round(w, 3) for f, w in zip(FEATURES, weights, strict=True)})
    print(f"model: {args.model}, pair C {pair_c}, bias {bias:.3f}, answer_at {answer_at}")
    for name, rows in [*zip(args.fit, fit, strict=True), (args.tune, tune)]:
        precision, recall, alarms = operating_point(cal, rows, answer_at)
        where = "tuning set" if rows is tune else "training set, in-sample"
        print(
            f"{name} ({where}): precision {precision:.3f} recall {recall:.3f} false alarms {alarms}"
        )
    data = {
        "model": args.model,
        "weights": weights,
        "bias": bias,
        "trees": [asdict(tree) for tree in cal.trees],
        "answer_at": answer_at,
        "ask_at": min(0.5, answer_at),
        "rank_lexical": cal.rank_lexical,
        "rank_bm25": cal.rank_bm25,
        "min_words_to_answer": cal.min_words_to_answer,
        "pair_bias": pair_b,
        "pair_weights": [round(float(w), 6) for w in pair_w],
        "features": list(FEATURES),
        "fitted_on": args.fit,
        "threshold_from": args.tune,
        "target_precision": args.target_precision,
        "pair_c": pair_c,
    }
    CALIBRATION.write_text(json.dumps(data) + "\n", encoding="utf-8")
    print("wrote", CALIBRATION)


if __name__ == "__main__":
    main()
