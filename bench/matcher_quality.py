"""Precision and recall of the matcher's decisions on our multilingual test set.

    python bench/matcher_quality.py [--split dev|holdout|all]

Precision: of the posts the matcher answered, how many got the right entry.
Recall: of the posts that state a KB rumour, how many were answered with the right entry.
False alarms: answers to posts that match no entry (unrelated chatter and near-misses).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evalset import SETS, Post, eval_kb, load_posts
from kb.matcher import Decision, MatchResult


def table(rows: list[tuple[Post, MatchResult]]) -> dict[str, float]:
    answered = [(p, r) for p, r in rows if r.decision is Decision.ANSWER]
    right = sum(1 for p, r in answered if r.match == p.expected)
    positives = [(p, r) for p, r in rows if p.expected]
    negatives = [(p, r) for p, r in rows if not p.expected]
    top1 = sum(1 for p, r in positives if r.candidates and r.candidates[0].entry_id == p.expected)
    asked = sum(1 for _, r in rows if r.decision is Decision.ASK)
    asked_right = sum(1 for p, r in rows if r.decision is Decision.ASK and r.entry_id == p.expected)
    return {
        "posts": len(rows),
        "precision": right / len(answered) if answered else float("nan"),
        "recall": right / len(positives) if positives else float("nan"),
        "answered": len(answered),
        "false_alarms": sum(1 for _, r in negatives if r.decision is Decision.ANSWER),
        "negatives": len(negatives),
        "wrong_entry": sum(1 for p, r in answered if p.expected and r.match != p.expected),
        "top1": top1 / len(positives) if positives else float("nan"),
        "asked": asked,
        "asked_right": asked_right,
    }


def fmt(stats: dict[str, float]) -> str:
    return (
        f"| {stats['posts']:.0f} | {stats['precision']:.3f} | {stats['recall']:.3f} | "
        f"{stats['false_alarms']:.0f}/{stats['negatives']:.0f} | {stats['wrong_entry']:.0f} | "
        f"{stats['top1']:.3f} | {stats['asked']:.0f} ({stats['asked_right']:.0f} right) |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=[*SETS, "all"], default="holdout")
    parser.add_argument("--errors", action="store_true", help="list every wrong decision")
    args = parser.parse_args()
    splits = ["dev", "holdout"] if args.split == "all" else [args.split]
    for split in splits:
        async with eval_kb(SETS[split][0]) as kb:
            rows = [(p, await kb.match(p.text)) for p in load_posts(split)]
            print(f"\n### split: {split}\n")
            header = (
                "| group | posts | precision | recall | false alarms | wrong entry | "
                "top-1 | asked |"
            )
            print(header + "\n|" + "---|" * 8)
            print(f"| all {fmt(table(rows))}")
            groups: dict[str, list[tuple[Post, MatchResult]]] = defaultdict(list)
            for p, r in rows:
                groups[f"kind={p.kind}"].append((p, r))
                groups[f"lang={p.lang}"].append((p, r))
            for name in sorted(groups):
                print(f"| {name} {fmt(table(groups[name]))}")
            if args.errors:
                for p, r in rows:
                    wrong = (r.decision is Decision.ANSWER and r.match != p.expected) or (
                        p.expected and r.match != p.expected
                    )
                    if wrong:
                        top = r.candidates[0] if r.candidates else None
                        print(
                            f"{p.id} {p.kind} {p.lang} expected={p.expected} "
                            f"got={r.decision.value}:{r.entry_id} top={top} :: {p.text[:90]!r}"
                        )


if __name__ == "__main__":
    asyncio.run(main())
