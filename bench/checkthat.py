"""The product's matcher on CLEF CheckThat! claim retrieval (2020, 2021 2A, 2022 2A, English).

    python bench/checkthat.py --embed       # once, in the background: fills the vector caches
    python bench/checkthat.py [--editions 2020 2021 2022] [--variants]

Imports each edition's verified claims as KB entries (claim = vclaim, summary = title; the
headline KB also has the title, subtitle and "vclaim title" as claim variants), ranks them for
every tweet with the product's `Matcher.match`, writes TREC runs under bench/out/checkthat-runs/
and scores them as ../shared/bench/score.py does in official mode, beside the organisers' BM25
baseline (../shared/bench/bm25_baseline.py) and the plain dense ranking. Also counts how often
the bot would answer a tweet outright at its own threshold, and how often that answer is
right. Writes the results to bench/out/checkthat.md and prints them. About 10 minutes.

`--variants` adds the exploratory ranking variants over candidate pools
(bench/checkthat_rank.py): about 50 minutes on a first run (pools are kept in
bench/out/checkthat-pools/ until kb/ changes), 20 later. The matcher's ranking weights come
from bench/checkthat_tune.py.

Vectors come from caches under bench/out/ (claim texts in bench/latency.py's cache, tweets in
one of their own). `--embed` fills them: about 40 minutes on two cores for the 2021/2022
claims, their subtitles, "claim + title" texts and the tweets; the benchmark then embeds
nothing.

Tuning uses only the 800 tweets of the 2020 train split (the same tweets open the 2021/2022
train split) and picks variants on the 197 tweets of 2020 dev (the rest of that train split).
The 2021/2022 dev split holds the 2020 test tweets, so it is reported but never used.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checkthat_data import (
    CACHE,
    EDITIONS,
    CachedQueries,
    Split,
    bm25_baseline,
    claim_texts,
    load_claims,
    load_split,
    passage_vectors,
    score,
    splits_of,
)
from bench.checkthat_rank import (
    FIELDS,
    Collection,
    Pool,
    QueryMode,
    Scorer,
    chunks,
    learned_features,
    linear,
    prepare,
    ranked,
    rrf,
    weighted,
)
from bench.machine import describe
from kb.background import load_background
from kb.matcher import Decision, Matcher
from kb.text import clean_post

RUNS = CACHE / "checkthat-runs"
POOLS = CACHE / "checkthat-pools"
ROOT = Path(__file__).resolve().parent.parent
# What the candidate pools depend on besides the data and the vector caches: the product's
# text handling, and POOL_FORMAT, to be raised whenever Collection.pool or QueryMode changes.
POOL_CODE = ("kb/text.py", "kb/matcher.py", "kb/lexical.py", "kb/background.py")
POOL_FORMAT = 1
REPORT = CACHE / "checkthat.md"
METRICS = ("MAP@1", "MAP@3", "MAP@5", "MRR")
PUBLISHED = {  # test MAP@5, ../shared/bench/README.md
    "2020": {"best team": 0.929, "organisers' BM25": 0.815, "target": 0.95},
    "2021": {"best team": 0.883, "organisers' BM25": 0.749, "target": 0.90},
    "2022": {"best team": 0.957, "organisers' BM25": 0.794, "target": 0.96},
}
REPORTED = ("dev", "test")
# Which claim texts a variant compares tweets with; "|" = separate texts (best one counts),
# "+" = one concatenated text.
FIELD_SETS = {
    "vclaim": ("vclaim",),
    "vclaim|title": ("vclaim", "title"),
    "vclaim|title|subtitle": ("vclaim", "title", "subtitle"),
    "vclaim+title": ("concat",),
    "all": FIELDS,
}
KEPT = {"dense CSLS"}  # the only family run on every field set
# The product's KB for CheckThat!: claim = vclaim, rebuttal summary = title, and the title,
# subtitle and "vclaim title" as extra claim phrasings (as an editor would add variants).
CLAIM_VARIANTS = ("title", "subtitle", "concat")
PRODUCT = "product matcher"
PRODUCT_AS_IS = "product matcher, KB as is (vclaim only as claim)"
DENSE = "dense only (product matcher, CSLS ranking)"
BM25 = "BM25 (organisers' baseline, our re-implementation)"
HEADLINE = (PRODUCT, PRODUCT_AS_IS, DENSE, BM25)
MODES = {
    "product": QueryMode(),
    "no pics": QueryMode(pics=True),
    "no pics, footer": QueryMode(pics=True, footer=True),
    "no pics, footer; sentences": QueryMode(pics=True, footer=True, sentences=True),
}


@dataclass
class Scores:
    rows: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)

    def add(self, edition: str, split: str, variant: str, means: dict[str, float]) -> None:
        self.rows[(edition, split, variant)] = means


@dataclass
class Answers:
    """The bot's own decision on one split: how often it answers, and how often rightly."""

    tweets: int = 0
    with_gold: int = 0
    answered: int = 0
    right: int = 0
    asked: int = 0
    asked_right: int = 0

    @property
    def precision(self) -> float:
        return self.right / self.answered if self.answered else float("nan")

    @property
    def recall(self) -> float:
        return self.right / self.with_gold if self.with_gold else float("nan")


# --- splits -------------------------------------------------------------------------------


def tuning_splits(edition: str) -> dict[str, Split]:
    """`tune` = the 2020 train tweets, `select` = the 2020 dev tweets, in this edition's ids."""
    if edition == "2020":
        return {"tune": load_split("2020", "train"), "select": load_split("2020", "dev")}
    train = load_split(edition, "train")
    out = {}
    for name, source in (("tune", "train"), ("select", "dev")):
        wanted = {f"tweet-sno-{qid}" for qid, _ in load_split("2020", source).queries}
        out[name] = Split(
            [q for q in train.queries if q[0] in wanted],
            train.qrels,
            {q: g for q, g in train.gold.items() if q in wanted},
        )
    return out


def gold_of(split: Split) -> dict[str, Counter[str]]:
    """score.py's reading of the qrels (repeated lines count twice), cut to the split's tweets."""
    return {q: g for q, g in score.read_qrels(split.qrels).items() if q in split.gold}


def evaluate(run: dict[str, list[str]], split: Split) -> dict[str, float]:
    """score.py's official means; a gold tweet missing from the run counts 0 there too."""
    means, _, _ = score.evaluate(run, gold_of(split), "official")
    return {m: means[m] for m in METRICS}


def write_run(
    path: Path, run: dict[str, list[tuple[str, float]]] | dict[str, list[str]], tag: str
) -> None:
    """A TREC run; ranked lists without scores get scores falling with the rank."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for qid, docs in run.items():
            for r, doc in enumerate(docs, 1):
                docid, value = doc if isinstance(doc, tuple) else (doc, float(1001 - r))
                f.write(f"{qid}\tQ0\t{docid}\t{r}\t{value:.6f}\t{tag}\n")


def score_file(path: Path, split: Split) -> dict[str, float]:
    """Scores a run file as score.py does in official mode."""
    means, _, _ = score.evaluate(score.read_run(path), gold_of(split), "official")
    return {m: means[m] for m in METRICS}


def product_run(matcher: Matcher, split: Split) -> tuple[dict[str, list[str]], Answers]:
    """Rank with match() and count its decisions.

    match() returns five candidates; ranks after them follow the same ranking score.
    """
    ranked: dict[str, list[str]] = {}
    answers = Answers()
    for qid, text in split.queries:
        result = matcher.match(text, top=5)
        ev = matcher.evidence(clean_post(text))
        order = np.argsort(-ev.rank, kind="stable")[:1000]
        head = [c.entry_id for c in result.candidates]
        ranked[qid] = list(dict.fromkeys([*head, *(ev.entry_ids[i] for i in order)]))[:1000]
        gold = split.gold.get(qid, set())
        answers.tweets += 1
        answers.with_gold += bool(gold)
        if result.decision is Decision.ANSWER:
            answers.answered += 1
            answers.right += result.entry_id in gold
        elif result.decision is Decision.ASK:
            answers.asked += 1
            answers.asked_right += result.entry_id in gold
    return ranked, answers


# --- variants over the candidate pools -----------------------------------------------------


def pools_of(collection: Collection, split: Split, mode: QueryMode, key: str) -> list[Pool]:
    """Candidate pools, kept under bench/out/ until the code that computes them changes."""
    path = POOLS / f"{key}-{POOL_FORMAT}-{code_hash(POOL_CODE)}.pkl"
    if path.exists():
        with path.open("rb") as f:
            cached: list[Pool] = pickle.load(f)  # noqa: S301  (our own cache file)
        if [p.qid for p in cached] == [q for q, _ in split.queries]:
            return cached
    pools = [collection.pool(qid, text, mode) for qid, text in split.queries]
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in POOLS.glob(f"{key}-*.pkl"):
        old.unlink()
    with path.open("wb") as f:
        pickle.dump(pools, f)
    return pools


def run_of(collection: Collection, pools: Sequence[Pool], scorer: Scorer) -> dict[str, list[str]]:
    return {p.qid: [collection.ids[i] for i in ranked(p, scorer)] for p in pools}


def tune_grid(
    collection: Collection,
    pools: Sequence[Pool],
    split: Split,
    grid: dict[str, Scorer],
) -> tuple[str, dict[str, float]]:
    """The grid point with the best MAP@5 (then MRR) on the tuning split."""
    best_name, best = "", {"MAP@5": -1.0, "MRR": -1.0}
    for name, scorer in grid.items():
        means = evaluate(run_of(collection, pools, scorer), split)
        if (means["MAP@5"], means["MRR"]) > (best["MAP@5"], best["MRR"]):
            best_name, best = name, means
    return best_name, best


def learned_scorer(pools: Sequence[Pool], split: Split, ids: Sequence[str]) -> Scorer:
    """A logistic model over every signal of the pool, fitted on the tuning tweets."""
    from sklearn.linear_model import LogisticRegression

    x, y = [], []
    for p in pools:
        gold = split.gold.get(p.qid, set())
        x.append(learned_features(p))
        y.append(np.array([ids[i] in gold for i in p.index]))
    features, labels = np.vstack(x), np.concatenate(y)
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    model = LogisticRegression(C=1.0, max_iter=5000).fit((features - mean) / std, labels)
    weights = (model.coef_[0] / std).astype(np.float32)
    return linear(weights, float(model.intercept_[0] - (model.coef_[0] * mean / std).sum()))


def variant_grid(fields: Sequence[str]) -> dict[str, dict[str, Scorer]]:
    """Families of variants; within a family the tuning split picks the parameters."""
    return {
        "dense CSLS": {"-": weighted(fields, 0.0)},
        "product rank + BM25": {  # CSLS + 0.1 char n-grams, as Matcher.scored ranks, + BM25
            f"w_bm25={w}": weighted(fields, w, 0.1) for w in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
        },
        "dense + BM25 (weighted)": {
            f"w_bm25={w}": weighted(fields, w) for w in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
        },
        "dense + BM25 + char n-grams": {
            f"w_bm25={w}, w_lex={x}": weighted(fields, w, x)
            for w in (0.05, 0.1, 0.15, 0.2, 0.3)
            for x in (0.05, 0.1, 0.2, 0.4)
        },
        "RRF dense, BM25": {
            f"k={k}, w_bm25={w}": rrf(fields, k, w)
            for k in (1, 3, 10, 30, 60)
            for w in (0.25, 0.5, 1.0)
        },
    }


# --- one edition --------------------------------------------------------------------------


@dataclass
class EditionResult:
    scores: Scores
    answers: dict[str, Answers]
    chosen: dict[str, str]
    timings: dict[str, float]


def run_edition(
    edition: str, embedder: CachedQueries, scores: Scores, variants: bool
) -> EditionResult:
    timings: dict[str, float] = {}
    chosen: dict[str, str] = {}
    answers: dict[str, Answers] = {}
    started = time.perf_counter()
    background = load_background(embedder)
    collection = Collection(load_claims(edition), embedder, background)
    timings["index"] = time.perf_counter() - started
    reported = {s: load_split(edition, s) for s in REPORTED}
    if edition == "2022":
        reported["devtest"] = load_split(edition, "devtest")
    splits = {**tuning_splits(edition), **reported}
    out = RUNS / edition

    # The organisers' baseline, exactly as ../shared/bench/bm25_baseline.py runs it.
    started = time.perf_counter()
    vclaims = bm25_baseline.load(EDITIONS[edition], "test")[0]
    for name, split in splits.items():
        # Its own scores: score.py breaks ties by docid, as the organisers' scorer did.
        hits = dict(bm25_baseline.rank_lucene(vclaims, split.queries, "best", 1000))
        write_run(out / f"{name}.bm25.run", hits, "bm25")
        scores.add(
            edition,
            name,
            BM25,
            score_file(out / f"{name}.bm25.run", split),
        )
    timings["bm25"] = time.perf_counter() - started

    # The product: match() over the edition's claims, on the reported splits.
    started = time.perf_counter()
    for label, matcher in (
        (PRODUCT, collection.product_matcher(CLAIM_VARIANTS)),
        (PRODUCT_AS_IS, collection.product_matcher()),
        (DENSE, collection.product_matcher(CLAIM_VARIANTS, ranking=(0.0, 0.0))),
    ):
        for name, split in reported.items():
            run, answers[f"{label} / {name}"] = product_run(matcher, split)
            tag = re.sub(r"\W+", "_", label)
            write_run(out / f"{name}.{tag}.run", run, "product")
            scores.add(edition, name, label, score_file(out / f"{name}.{tag}.run", split))
            embedder.save()
    timings["product"] = time.perf_counter() - started
    if variants:
        timings["variants"] = pooled_variants(edition, collection, splits, embedder, scores, chosen)
    return EditionResult(scores, answers, chosen, timings)


def pooled_variants(
    edition: str,
    collection: Collection,
    splits: dict[str, Split],
    embedder: CachedQueries,
    scores: Scores,
    chosen: dict[str, str],
) -> float:
    """Ranking variants over candidate pools, tuned on `tune`; returns the seconds spent."""
    out = RUNS / edition
    started = time.perf_counter()
    for mode_name, mode in MODES.items():
        pools = {
            name: pools_of(
                collection, split, mode, re.sub(r"\W+", "_", f"{edition}-{name}-{mode_name}")
            )
            for name, split in splits.items()
        }
        embedder.save()
        for fields_name, fields in FIELD_SETS.items():
            if edition == "2020" and "subtitle" in fields_name:
                continue  # 2020 claims have no subtitle
            families = variant_grid(fields)
            if fields_name not in ("vclaim", "all"):
                families = {k: v for k, v in families.items() if k in KEPT}
            for family, grid in families.items():
                pick, _ = tune_grid(collection, pools["tune"], splits["tune"], grid)
                variant = f"{family} [{fields_name}; {mode_name}]"
                chosen[variant] = pick
                for name, split in splits.items():
                    run = run_of(collection, pools[name], grid[pick])
                    scores.add(edition, name, variant, evaluate(run, split))
        learned = learned_scorer(pools["tune"], splits["tune"], collection.ids)
        variant = f"learned linear [all; {mode_name}]"
        chosen[variant] = "logistic, C=1"
        for name, split in splits.items():
            run = run_of(collection, pools[name], learned)
            tag = re.sub(r"\W+", "_", f"learned-{mode_name}")
            write_run(out / f"{name}.{tag}.run", run, tag)
            scores.add(edition, name, variant, score_file(out / f"{name}.{tag}.run", split))
    return time.perf_counter() - started


# --- report -------------------------------------------------------------------------------


def code_hash(paths: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update((ROOT / path).read_bytes())
    return digest.hexdigest()[:10]


def code_version() -> str:
    """Short hashes of the matcher's code and calibration: other people are changing them."""
    files = (
        "kb/matcher.py",
        "kb/text.py",
        "kb/lexical.py",
        "kb/background.py",
        "kb/data/calibration.json",
    )
    return ", ".join(f"{name} {code_hash([name])}" for name in files)


def fmt(value: float) -> str:
    return f"{value:.4f}" if value == value else "–"


def report(editions: Sequence[str], results: dict[str, EditionResult], command: str) -> str:
    def cell(e: str, split: str, variant: str, metric: str = "MAP@5") -> str:
        means = results[e].scores.rows.get((e, split, variant))
        return fmt(means[metric]) if means else "–"

    lines = [
        "## CLEF CheckThat! claim retrieval (English, 2020 / 2021 2A / 2022 2A)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {describe()}  ",
        f"Code measured: {code_version()}  ",
        f"Date: {time.strftime('%Y-%m-%d')}; scoring: ../shared/bench/score.py, official mode.",
        "",
        "### Test MAP@5 beside published results (dev in brackets)",
        "",
        "| system | " + " | ".join(editions) + " |",
        "|---|" + "---|" * len(editions),
    ]
    for key in ("target", "best team", "organisers' BM25"):
        published = " | ".join(f"{PUBLISHED[e][key]:.3f}" for e in editions)
        lines.append(f"| {key} (published) | {published} |")
    for v in HEADLINE:
        cells = [f"{cell(e, 'test', v)} ({cell(e, 'dev', v)})" for e in editions]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Test split, every official measure",
        "",
        "| edition | system | MAP@1 | MAP@3 | MAP@5 | MRR |",
        "|---|---|---|---|---|---|",
    ]
    for e in editions:
        for v in HEADLINE:
            lines.append(
                f"| {e} | {v} | " + " | ".join(cell(e, "test", v, m) for m in METRICS) + " |"
            )
        for key in ("best team", "organisers' BM25"):
            lines.append(f"| {e} | {key} (published) | – | – | {PUBLISHED[e][key]:.3f} | – |")
    variants = list(dict.fromkeys(v for r in results.values() for (_, _, v) in r.scores.rows))
    variants = [v for v in variants if v not in HEADLINE]
    if variants:
        lines += [
            "",
            "### Test MAP@5, every pooled variant (`--variants`)",
            "",
            "| variant | " + " | ".join(editions) + " |",
            "|---|" + "---|" * len(editions),
        ]
    for v in variants:
        lines.append(f"| {v} | " + " | ".join(cell(e, "test", v) for e in editions) + " |")
    for e in editions:
        splits = list(dict.fromkeys(s for (_, s, _) in results[e].scores.rows))
        dev_note = (
            "`dev` is the same as `select` here."
            if e == "2020"
            else "`dev` = the official dev split (the 2020 test tweets: never used for choices)."
        )
        lines += [
            "",
            f"### {e}: every variant, every split",
            "",
            "`tune` = the 2020 train tweets (weights fitted here), `select` = the 2020 dev "
            f"tweets. {dev_note}",
            "",
            "| variant | chosen on tune | "
            + " | ".join(f"{s} MAP@5" for s in splits)
            + " | test MAP@1 | test MAP@3 | test MRR | dev MAP@1 | dev MAP@3 | dev MRR |",
            "|---|---|" + "---|" * (len(splits) + 6),
        ]
        for v in [*HEADLINE, *variants]:
            if (e, "test", v) not in results[e].scores.rows:
                continue
            values = [cell(e, s, v) for s in splits] + [
                cell(e, s, v, m) for s in ("test", "dev") for m in ("MAP@1", "MAP@3", "MRR")
            ]
            chosen = results[e].chosen.get(v, "")
            lines.append(f"| {v} | {chosen} | " + " | ".join(values) + " |")
    lines += [
        "",
        "### The bot's own decision (shipped calibration, kb/data/calibration.json)",
        "",
        "Precision of `answer` = answers naming the gold claim / answers; recall = answers "
        "naming the gold claim / tweets with a gold claim.",
        "",
        "| edition | KB / split | tweets | answer | right | precision | recall | ask | ask right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in editions:
        for key, a in results[e].answers.items():
            lines.append(
                f"| {e} | {key} | {a.tweets} | {a.answered} | {a.right} | {fmt(a.precision)} "
                f"| {fmt(a.recall)} | {a.asked} | {a.asked_right} |"
            )
    lines += [
        "",
        "### Time (seconds)",
        "",
        "| edition | index build | BM25 baseline | product matchers | pooled variants |",
        "|---|---|---|---|---|",
    ]
    for e in editions:
        t = results[e].timings
        spent = " | ".join(
            f"{t[k]:.0f}" if k in t else "–" for k in ("index", "bm25", "product", "variants")
        )
        lines.append(f"| {e} | {spent} |")
    return "\n".join(lines) + "\n"


def embed_all(embedder: CachedQueries) -> None:
    """Fill the caches: claims and titles first, then every query mode's chunks, then subtitles."""
    for edition in ("2022", "2021", "2020"):
        print(f"{edition} claims and titles", file=sys.stderr, flush=True)
        passage_vectors(claim_texts(load_claims(edition), subtitles=False))
    for mode_name, mode in MODES.items():
        for edition in EDITIONS:
            for split in splits_of(edition):
                tweets = load_split(edition, split).queries
                for start in range(0, len(tweets), 100):
                    for _, text in tweets[start : start + 100]:
                        embedder.queries(chunks(prepare(text, mode), mode))
                    embedder.save()
                print(f"{edition} {split} tweets, {mode_name}", file=sys.stderr, flush=True)
    for edition in ("2022", "2021", "2020"):
        print(f"{edition} subtitles and vclaim+title", file=sys.stderr, flush=True)
        passage_vectors(claim_texts(load_claims(edition)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--editions", nargs="+", choices=list(EDITIONS), default=list(EDITIONS))
    parser.add_argument("--embed", action="store_true", help="only fill the vector caches")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also the ranking variants over candidate pools (first run about 50 minutes)",
    )
    args = parser.parse_args(argv)
    embedder = CachedQueries()
    if args.embed:
        embed_all(embedder)
        return
    results: dict[str, EditionResult] = {}
    for edition in args.editions:
        started = time.perf_counter()
        results[edition] = run_edition(edition, embedder, Scores(), args.variants)
        embedder.save()
        print(f"{edition}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    command = (
        "python bench/checkthat.py"
        + (f" --editions {' '.join(args.editions)}" if args.editions != list(EDITIONS) else "")
        + (" --variants" if args.variants else "")
    )
    text = report(args.editions, results, command)
    REPORT.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
