"""Match latency, peak memory and import throughput at several KB sizes, on one core.

    python bench/latency.py [--sizes 100 1000 10000 100000] [--posts 200] [--repeat 3]
                            [--queries ours tweets]

The KB grows from the CheckThat! 2020 verified claims in ../shared/bench (claim = vclaim,
summary = title); sizes beyond the 10,375 claims repeat them with perturbed vectors.
Each size runs in its own process; its peak RSS is counted from just before the index is built
(the model loaded, the benchmark's own vector cache dropped). Vectors are embedded
once and cached under bench/out/ (not in git); embedding and import throughput are measured
on a fresh sample every run. Two query sets, timed separately: `ours`, the posts of tests/data
(dev and holdout: five languages, a quarter long channel posts embedded in windows), which are
about other things than this KB's claims, so they stand for the posts a bot has no answer
for; and `tweets`, the CheckThat! 2020 test tweets (English, tweet-length), which the KB's
claims answer.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHECKTHAT = ROOT.parent / "shared" / "bench" / "checkthat2020"
CLAIMS = CHECKTHAT / "verified_claims.docs.tsv"
TWEETS = CHECKTHAT / "test.tweets.queries.tsv"
CACHE = ROOT / "bench" / "out"
QUERY_SETS = ("ours", "tweets")

from bench.evalset import evaluation_post_texts  # noqa: E402
from kb.background import load_background  # noqa: E402
from kb.embed import Terms, TermTable, default_embedder, text_hash  # noqa: E402
from kb.interchange import EntryIn  # noqa: E402
from kb.matcher import IndexedText, Matcher, post_chunks  # noqa: E402
from kb.memory import give_back_freed_memory  # noqa: E402
from kb.text import clean_post  # noqa: E402


def read_claims() -> list[tuple[str, str, str]]:
    csv.field_size_limit(10**7)
    with CLAIMS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return [(r[0], r[1].strip(), r[2].strip() or r[1].strip()) for r in rows[1:] if len(r) >= 3]


def query_set(name: str) -> list[str]:
    if name == "ours":
        return evaluation_post_texts()
    with TWEETS.open(encoding="utf-8", newline="") as f:
        return [r[1] for r in list(csv.reader(f, delimiter="\t"))[1:] if len(r) >= 2]


def cached_vectors(texts: list[str]) -> dict[str, np.ndarray]:
    """Passage vectors of `texts`, embedding only those the cache does not have."""
    embedder = default_embedder()
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"vectors-{embedder.name}.npz"
    cache: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as data:
            cache = dict(zip(data["hashes"].tolist(), data["vectors"], strict=True))
    missing = sorted({t for t in texts if text_hash(t) not in cache})
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        for t, v in zip(batch, embedder.passages(batch), strict=True):
            cache[text_hash(t)] = v.astype(np.float16)
        if start % 1024 == 0:
            print(f"  embedded {start + len(batch)}/{len(missing)}", file=sys.stderr)
    if missing:
        hashes = list(cache)
        np.savez(path, hashes=np.array(hashes), vectors=np.stack([cache[h] for h in hashes]))
    return {t: cache[text_hash(t)] for t in texts}


_TERMS: dict[str, Terms] = {}  # the terms cache, read once per process
_UNSAVED: set[str] = set()  # hashes embedded since the cache file was last written


def _terms_path() -> Path:
    return CACHE / f"terms-{default_embedder().name}.npz"


def cached_terms(texts: Sequence[str], save: bool = True) -> dict[str, Terms]:
    """Latent terms of `texts` (posts and KB texts alike), embedding only what is not cached."""
    path = _terms_path()
    if not _TERMS and path.exists():
        with np.load(path) as data:
            table = TermTable.saved(data["indices"], data["values"], data["sizes"])
            for row, h in enumerate(data["hashes"].tolist()):
                _TERMS[h] = table.get(row)
    missing = sorted({t for t in texts if text_hash(t) not in _TERMS})
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        for t, terms in zip(batch, default_embedder().terms(batch), strict=True):
            _TERMS[text_hash(t)] = terms
            _UNSAVED.add(text_hash(t))
        if start % 1024 == 0 and len(missing) > 64:
            print(f"  latent terms {start + len(batch)}/{len(missing)}", file=sys.stderr)
    if save:
        save_terms()
    return {t: _TERMS[text_hash(t)] for t in texts}


def save_terms() -> None:
    """Write the terms cache, if anything was embedded since it was last written."""
    if not _UNSAVED:
        return
    hashes = list(_TERMS)
    table = TermTable.of([_TERMS[h] for h in hashes])
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = _terms_path().with_suffix(".tmp.npz")
    np.savez(
        tmp, hashes=np.array(hashes), indices=table.indices, values=table.values, sizes=table.sizes
    )
    tmp.replace(_terms_path())
    _UNSAVED.clear()


def reset_peak_rss() -> None:
    """Start the peak-RSS count afresh (Linux), so loading the benchmark's own vector cache is
    not counted as the matcher's memory."""
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        clear.write_text("5")


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (Linux), in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return None


def rss_mb() -> float:
    found = _status_mb("VmRSS")
    return float("nan") if found is None else found


def peak_rss_mb() -> float:
    found = _status_mb("VmHWM")
    if found is not None:
        return found
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_size(size: int, n_posts: int, repeat: int, queries: str) -> dict[str, float]:
    """Build a matcher over `size` entries and time matches; runs in a child process."""
    claims = read_claims()
    rng = np.random.default_rng(size)
    base = claims[: min(size, len(claims))]
    vectors = cached_vectors([c for _, c, _ in base] + [t for _, _, t in base])
    claim_terms = cached_terms([c for _, c, _ in base])  # a copy names what its original does
    texts, rows, terms = [], [], []
    for i in range(size):
        cid, claim, title = base[i % len(base)]
        copy = i // len(base)
        entry_id = f"vc-{cid}" + (f"-{copy}" if copy else "")
        for text, role in ((claim, "claim"), (title, "summary")):
            vector = vectors[text].astype(np.float32)
            if copy:  # a perturbed duplicate: same cost, different nearest neighbours
                vector = vector + rng.normal(0, 0.02, vector.shape).astype(np.float32)
                vector /= np.linalg.norm(vector)
            texts.append(
                IndexedText(entry_id, text if not copy else f"{text} ({copy})", role, "en")
            )
            rows.append(vector)
            terms.append(claim_terms[claim])
    matrix = np.stack(rows)
    del vectors, rows, claim_terms
    _TERMS.clear()  # the benchmark's own cache; the matcher keeps what it needs in its tables
    gc.collect()
    give_back_freed_memory()  # what the benchmark read and dropped is not the bot's
    reset_peak_rss()  # from here on: what a bot process holding this KB needs
    embedder = default_embedder()
    started = time.perf_counter()
    matcher = Matcher(embedder, load_background(embedder), texts, matrix, terms=terms)
    del terms, matrix  # copied into the matcher's tables, as a bot's KB drops what it read
    build = time.perf_counter() - started
    posts = query_set(queries)[:n_posts]
    matcher.match(posts[0])  # warm caches (lingua, BLAS)
    timings = []
    for _ in range(repeat):
        for post in posts:
            t0 = time.perf_counter()
            matcher.match(post)
            timings.append(time.perf_counter() - t0)
    ms = sorted(t * 1000 for t in timings)
    # The same posts' embedding alone: the part of a match that does not depend on KB size.
    # Its vector always; its latent terms when a candidate could reach "ask" with them
    # (Matcher.scored), which the NaN of a skipped terms feature tells.
    embed, second_pass = [], 0
    for post in posts:
        _, ranked = matcher.scored(clean_post(post))
        needed = bool(ranked) and not math.isnan(ranked[0][1][-1])
        second_pass += needed
        t0 = time.perf_counter()
        chunks = post_chunks(clean_post(post))
        embedder.queries(chunks)
        if needed:
            embedder.terms(chunks)
        embed.append((time.perf_counter() - t0) * 1000)
    return {
        "queries": queries,
        "entries": size,
        "texts": len(texts),
        "index_build_s": round(build, 2),
        "p50_ms": round(statistics.median(ms), 1),
        "embed_p50_ms": round(statistics.median(embed), 1),
        "second_pass": round(100 * second_pass / len(posts)),
        "p90_ms": round(ms[int(0.90 * (len(ms) - 1))], 1),
        "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_mb": round(rss_mb(), 1),  # at the end: the KB held, the build's scratch gone
    }


def embedding_by_length(repeat: int = 15) -> dict[int, float]:
    """Median ms to embed one post of n words (cut from a long test post), for n = 8 ... 64:
    its vector and its latent terms, the two passes of the model a match makes."""
    embedder = default_embedder()
    long_post = max(query_set("ours"), key=lambda t: len(t.split()))
    words = clean_post(long_post).text.split()
    out = {}
    for n in (8, 16, 32, 64):
        text = " ".join(words[:n])
        embedder.queries([text])
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            embedder.queries([text])
            embedder.terms([text])
            times.append((time.perf_counter() - t0) * 1000)
        out[n] = round(statistics.median(times), 1)
    return out


async def import_throughput(n: int) -> dict[str, float]:
    """Entries saved per second (one transaction) and texts embedded per second, fresh DB."""
    from kb.db import open_database
    from kb.service import KnowledgeBase

    claims = read_claims()[-n:]  # the tail: not in the vector cache of the smaller sizes
    entries = [
        EntryIn(id=f"vc-{cid}", claim=c, summary=t, verdict="false", lang="en")
        for cid, c, t in claims
    ]
    with tempfile.TemporaryDirectory() as folder:
        async with open_database(f"sqlite:///{folder}/kb.db") as sessions:
            kb = KnowledgeBase(sessions, default_embedder())
            from kb import store

            t0 = time.perf_counter()
            async with sessions() as session:
                await store.save_entries(session, entries, actor="bench")
                await session.commit()
            saved = time.perf_counter() - t0
            t0 = time.perf_counter()
            embedded = await kb.embed_missing()
            embed_s = time.perf_counter() - t0
            kb.close()
    return {
        "entries": n,
        "save_entries_per_s": round(n / saved, 1),
        "embed_texts_per_s": round(embedded / embed_s, 1),
        "texts": embedded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--import-sample", type=int, default=200)
    parser.add_argument("--queries", nargs="+", default=["ours", "tweets"], choices=QUERY_SETS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_size(args.child, args.posts, args.repeat, args.queries[0])))
        return
    # Fill the vector cache first, outside the timed children.
    cached_vectors([t for _, c, ti in read_claims()[: max(args.sizes)] for t in (c, ti)])
    print(
        "| queries | entries | texts | index build s | p50 ms | of which embedding the post | "
        "posts given the second pass % | p90 ms | p99 ms | peak RSS MB | RSS at the end MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for queries, size in ((q, n) for q in args.queries for n in args.sizes):
        out = subprocess.run(  # noqa: S603  (our own script, fixed arguments)
            [
                sys.executable,
                __file__,
                "--child",
                str(size),
                "--posts",
                str(args.posts),
                "--repeat",
                str(args.repeat),
                "--queries",
                queries,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"| {r['queries']} | {r['entries']:,} | {r['texts']:,} | {r['index_build_s']} | "
            f"{r['p50_ms']} | {r['embed_p50_ms']} | {r['second_pass']} | "
            f"{r['p90_ms']} | {r['p99_ms']} | {r['peak_rss_mb']} | {r['rss_mb']} |",
            flush=True,
        )
    lengths = embedding_by_length()
    print(
        "\nembedding one post (vector and latent terms), median ms by length: "
        + ", ".join(f"{n} words {ms}" for n, ms in lengths.items())
    )
    r = asyncio.run(import_throughput(args.import_sample))
    print(
        f"\nimport of {r['entries']} entries ({r['texts']} texts): "
        f"{r['save_entries_per_s']} entries/s saved, {r['embed_texts_per_s']} texts/s embedded"
    )


if __name__ == "__main__":
    main()
