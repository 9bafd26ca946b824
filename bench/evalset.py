"""Our multilingual test set: the KB and the posts in tests/data, matched through the real KB."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from kb.db import open_database
from kb.embed import default_embedder
from kb.service import KnowledgeBase

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
KB_FILE = DATA / "eval_kb.yaml"
TRAINING = tuple(f"train_{x}" for x in "abcdefghijklmn")
# name -> (KB file, posts file). train_* tune the calibration, dev picks its thresholds,
# holdout is only ever reported on.
SETS = {
    **{name: (DATA / f"{name}_kb.yaml", DATA / f"{name}_posts.jsonl") for name in TRAINING},
    "dev": (KB_FILE, DATA / "posts_dev.jsonl"),
    "holdout": (KB_FILE, DATA / "posts_holdout.jsonl"),
}


@dataclass(frozen=True)
class Post:
    id: str
    text: str
    lang: str
    expected: str | None
    kind: str


def load_posts(split: str) -> list[Post]:
    posts = []
    for line in SETS[split][1].read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            posts.append(Post(raw["id"], raw["text"], raw["lang"], raw["expected"], raw["kind"]))
    return posts


def evaluation_post_texts() -> list[str]:
    """The texts of every evaluation post (dev, then holdout): speed benchmarks' queries."""
    return [p.text for split in ("dev", "holdout") for p in load_posts(split)]


@asynccontextmanager
async def eval_kb(kb_file: Path = KB_FILE) -> AsyncIterator[KnowledgeBase]:
    """A throw-away SQLite KB with the evaluation entries imported."""
    with tempfile.TemporaryDirectory() as folder:
        async with open_database(f"sqlite:///{folder}/eval.db") as sessions:
            kb = KnowledgeBase(sessions, default_embedder())
            try:
                await kb.import_files([kb_file], actor="bench")
                yield kb
            finally:
                kb.close()
