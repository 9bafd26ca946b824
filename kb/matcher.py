"""Matching a post against the KB: ranked candidates, a confidence, and a three-way decision."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from kb.background import Background
from kb.bm25 import WordIndex
from kb.calibration import TERMS_FEATURES, Calibration
from kb.embed import Embedder, Matrix, Terms, TermTable, terms_similarity
from kb.lang import detect_language
from kb.lexical import LexicalIndex
from kb.memory import give_back_freed_memory
from kb.text import DENIAL_RE, CleanPost, clean_post, numbers_in, url_key

log = logging.getLogger(__name__)

MAX_CHUNKS = 12
WHOLE_POST_WORDS = 40
WINDOW_WORDS = 30
LEXICAL_CANDIDATES = 100
# BM25 joins the ranking only when this many dense front-runners all have a phrasing in the
# post's language (bench/checkthat_tune.py).
SAME_LANGUAGE_FRONT = 3


class Decision(StrEnum):
    ANSWER = "answer"  # confident: send the rebuttal
    ASK = "ask"  # plausible: let the user confirm the candidate first
    NONE = "none"  # abstain and queue the post for moderators


@dataclass(frozen=True, slots=True)
class IndexedText:
    """One text the matcher compares posts with: a claim, a translation or a variant."""

    entry_id: str
    text: str
    role: str = "claim"  # claim (any phrasing) | summary (the rebuttal) | negative
    lang: str = ""

    @property
    def negative(self) -> bool:
        """A counter-example: a post like this is NOT this entry's rumour."""
        return self.role == "negative"


@dataclass(frozen=True, slots=True)
class Candidate:
    entry_id: str
    score: float  # calibrated probability that the post states this entry's claim
    similarity: float  # best raw cosine, for moderators' eyes
    lexical: float
    rank: float = 0.0  # the ranking score candidates are ordered by


@dataclass(frozen=True, slots=True)
class MatchResult:
    decision: Decision
    entry_id: str | None  # the candidate behind `answer` or `ask`
    confidence: float | None
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""

    @property
    def match(self) -> str | None:
        """The entry to answer with; only a confident decision names one."""
        return self.entry_id if self.decision is Decision.ANSWER else None


@dataclass
class Evidence:
    """Per-entry evidence for one post; kept for calibration and for `--explain`."""

    entry_ids: list[str]
    csls: Matrix
    cosine: Matrix
    lexical: Matrix
    rebuttal_gap: Matrix
    bm25: Matrix  # word-level BM25, scaled by the post's own best possible score
    rank: Matrix  # the ranking score: dense + char n-grams + BM25
    same_language: bool = True  # the dense front-runners can be compared word for word
    denial: bool = False
    lang: str = ""
    numbers: frozenset[str] = frozenset()
    blocked: set[str] = field(default_factory=set)
    queries: Matrix | None = None  # the post's chunk vectors
    sims: Matrix | None = None  # chunks x texts cosines
    words: int = 0
    chunks: list[str] = field(default_factory=list)  # what was embedded
    terms: list[Terms] | None = None  # the chunks' latent terms, once a candidate needs them


def top_indices(values: Matrix, k: int) -> npt.NDArray[np.intp]:
    """The indices of the k largest values, largest first, ties in index order: what a stable
    argsort would start with, without sorting 100,000 entries for five of them."""
    n = len(values)
    if k >= n:
        return np.argsort(-values, kind="stable")
    kth = np.partition(values, n - k)[n - k]
    picked = np.flatnonzero(values >= kth)
    return picked[np.argsort(-values[picked], kind="stable")][:k]


def _rows(
    entry_of_row: npt.NDArray[np.intp], entries: npt.NDArray[np.intp]
) -> npt.NDArray[np.intp]:
    """The rows belonging to `entries`, entry by entry, in an array of rows sorted by entry."""
    starts = np.searchsorted(entry_of_row, entries, side="left")
    ends = np.searchsorted(entry_of_row, entries, side="right")
    ranges = [np.arange(a, b) for a, b in zip(starts, ends, strict=True) if b > a]
    return np.concatenate(ranges).astype(np.intp) if ranges else np.zeros(0, np.intp)


@dataclass(frozen=True)
class _Normaliser:
    """CSLS for one set of KB texts: 2·cosine minus the post's and the text's background
    similarity, each taken in the other's language (kb/background.py)."""

    languages: tuple[str, ...]  # the background's; column -1 of the biases is all of it
    biases: Matrix  # texts x (languages + 1): each text against background posts
    column: npt.NDArray[np.intp]  # each text's language as a column of the post's biases

    @classmethod
    def build(cls, background: Background, vectors: Matrix, langs: Sequence[str]) -> _Normaliser:
        languages = background.languages
        position = {lang: i for i, lang in enumerate(languages)}
        return cls(
            languages=languages,
            biases=background.text_biases(vectors),
            # texts in any other language are measured against all background
            column=np.array([position.get(x, len(languages)) for x in langs], dtype=np.intp),
        )

    def csls(
        self,
        sims: Matrix,
        post_biases: Matrix,
        lang: str,
        rows: npt.NDArray[np.intp] | None = None,
    ) -> Matrix:
        """Chunks x texts (or the given rows of texts) CSLS from their cosines."""
        bias = self.biases[:, self.languages.index(lang) if lang in self.languages else -1]
        column = self.column
        if rows is not None:
            bias, column = bias[rows], column[rows]
        result: Matrix = 2 * sims - post_biases[:, column] - bias[None, :]
        return result


def _table(terms: Sequence[Terms] | None, rows: Sequence[int]) -> TermTable:
    """The stored terms of `rows`; without stored terms, an empty table filled on demand."""
    return TermTable(len(rows)) if terms is None else TermTable.of([terms[i] for i in rows])


def _without(terms: Terms, indices: npt.NDArray[np.int32]) -> Terms:
    """The terms not among `indices`, at their own weights (not rescaled: what is left of a
    rebuttal that restates its claim should count for little)."""
    keep = ~np.isin(terms[0], indices, assume_unique=True)
    return terms[0][keep], terms[1][keep]


def post_chunks(post: CleanPost) -> list[str]:
    """What to embed: a short post whole; a long one in windows of a few sentences.

    A claim is usually one sentence; in a long post the whole-text vector is a blur of
    greetings, other news and footers. Windows cover every sentence once, so embedding
    costs about what the whole post would.
    """
    if len(post.words) <= WHOLE_POST_WORDS:
        return [post.text]
    windows: list[str] = []
    current: list[str] = []
    for sentence in _short_pieces(post.sentences):
        if current and len(" ".join([*current, sentence]).split()) > WINDOW_WORDS:
            windows.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        windows.append(" ".join(current))
    return windows[:MAX_CHUNKS]


def _short_pieces(sentences: Sequence[str]) -> list[str]:
    """Sentences, with any run-on sentence cut into windows of WINDOW_WORDS words."""
    pieces = []
    for sentence in sentences:
        words = sentence.split()
        pieces += [
            " ".join(words[i : i + WINDOW_WORDS]) for i in range(0, len(words), WINDOW_WORDS)
        ]
    return pieces


class Matcher:
    """An in-memory index over the published entries' texts and their stored vectors."""

    def __init__(
        self,
        embedder: Embedder,
        background: Background,
        texts: Sequence[IndexedText],
        vectors: Matrix,
        *,
        terms: Sequence[Terms] | None = None,
        appearances: Iterable[tuple[str, str]] = (),
        media: Iterable[tuple[str, str]] = (),
        calibration: Calibration | None = None,
    ) -> None:
        self.embedder = embedder
        self.background = background
        loaded = calibration or Calibration.load()
        self.calibration = loaded.for_embedder(embedder.name)
        if self.calibration is not loaded:
            log.warning(
                "the calibration was fitted on %s, not %s: the bot will rank candidates but not "
                "answer until bench/calibrate.py fits this model",
                loaded.embedder,
                embedder.name,
            )
        order = sorted(range(len(texts)), key=lambda i: texts[i].entry_id)
        positive = [i for i in order if texts[i].role == "claim"]
        negative = [i for i in order if texts[i].role == "negative"]
        self._texts = [texts[i] for i in positive]
        self._vectors = np.ascontiguousarray(vectors[positive], dtype=np.float32)
        self._terms = _table(terms, positive)
        self._negatives = [texts[i] for i in negative]
        self._negative_vectors = np.ascontiguousarray(vectors[negative], dtype=np.float32)
        self._csls = _Normaliser.build(background, self._vectors, [t.lang for t in self._texts])
        ids = [t.entry_id for t in self._texts]
        self.entry_ids = list(dict.fromkeys(ids))
        self._starts = np.array(
            [i for i, e in enumerate(ids) if i == 0 or ids[i - 1] != e], dtype=np.intp
        )
        position = {e: i for i, e in enumerate(self.entry_ids)}
        self._text_entry = np.array([position[e] for e in ids], dtype=np.intp)  # sorted
        # Each counter-example's entry, or -1 when that entry is not published.
        self._negative_entry = np.array(
            [position.get(t.entry_id, -1) for t in self._negatives], dtype=np.intp
        )
        self._langs: list[set[str]] = [set() for _ in self.entry_ids]
        self._numbers: list[set[str]] = [set() for _ in self.entry_ids]
        for t in texts:
            if t.entry_id not in position or t.role == "negative":
                continue
            if t.role == "claim":
                self._langs[position[t.entry_id]].add(t.lang)
            self._numbers[position[t.entry_id]].update(numbers_in(t.text))
        summaries = [
            i for i in order if texts[i].role == "summary" and texts[i].entry_id in position
        ]
        self._summary_entry = np.array(
            [position[texts[i].entry_id] for i in summaries], dtype=np.intp
        )
        self._summary_vectors = np.ascontiguousarray(vectors[summaries], dtype=np.float32)
        self._summary_texts = [texts[i].text for i in summaries]
        self._summary_terms = _table(terms, summaries)
        self._summary_csls = _Normaliser.build(
            background, self._summary_vectors, [texts[i].lang for i in summaries]
        )
        self._lexical = LexicalIndex([t.text for t in self._texts])
        self._words = WordIndex([t.text for t in self._texts])
        self._appearances = {url_key(u): e for u, e in appearances}
        self._media = dict(media)
        give_back_freed_memory()  # the build's scratch: some 50 MB at 10,000 entries

    def __len__(self) -> int:
        return len(self.entry_ids)

    def _span(self, index: int) -> tuple[int, int]:
        """The rows of entry `index`'s phrasings (sorted by entry, so contiguous)."""
        start = int(self._starts[index])
        end = int(self._starts[index + 1]) if index + 1 < len(self._starts) else len(self._texts)
        return start, end

    def _per_entry(self, values: Matrix) -> Matrix:
        if len(values) == 0:
            return values
        return np.maximum.reduceat(values, self._starts)

    def evidence(self, post: CleanPost) -> Evidence:
        """Similarity of the post to every entry: dense (CSLS and raw), char n-grams, BM25."""
        chunks = post_chunks(post)
        queries = self.embedder.queries(chunks)
        sims = queries @ self._vectors.T  # chunks x texts
        lang = detect_language(post.text)
        post_biases = self.background.post_biases(queries)
        csls = self._csls.csls(sims, post_biases, lang)
        entry_csls = self._per_entry(csls.max(axis=0))
        cal = self.calibration
        bm25 = self._per_entry(self._words.scores(post.text))
        # A post shares no words with a phrasing in another language, so BM25 would push a
        # cross-lingual match below same-language entries that merely share its topic. It
        # ranks only when the dense front-runners can all be compared word for word.
        leaders = top_indices(entry_csls, SAME_LANGUAGE_FRONT)
        same_language = all(lang in self._langs[i] for i in leaders)
        w_bm25 = cal.rank_bm25 if same_language else 0.0
        # Char n-grams only for the front-runners: scoring every text costs more than the
        # whole dense pass at 10,000 entries, and a candidate ranked below the first hundred
        # by dense similarity and BM25 is not one we would answer with anyway.
        front = top_indices(entry_csls + w_bm25 * bm25, LEXICAL_CANDIDATES)
        text_rows = _rows(self._text_entry, front)
        lexical = self._per_entry(self._lexical.similarities(post.text, text_rows))
        cosine = self._per_entry(sims.max(axis=0))
        blocked: set[str] = set()
        if len(self._negatives):
            neg = (queries @ self._negative_vectors.T).max(axis=0)
            blocked = self._closer_to_negative(cosine, neg)
        # How much closer the post is to the entry's rebuttal than to its claim: a post that
        # states the official version shares the topic and words but is not the rumour.
        # Only the front-runners can be scored, so only their rebuttals are compared; in
        # CSLS terms, as a rebuttal is often in another language than the closest phrasing.
        rebuttal = np.full(len(self.entry_ids), -np.inf, dtype=np.float32)
        rows = _rows(self._summary_entry, front)
        if len(rows):
            values = self._summary_csls.csls(
                queries @ self._summary_vectors[rows].T, post_biases, lang, rows
            ).max(axis=0)
            np.maximum.at(rebuttal, self._summary_entry[rows], values)
        return Evidence(
            entry_ids=self.entry_ids,
            csls=entry_csls,
            cosine=cosine,
            lexical=lexical,
            rebuttal_gap=np.where(np.isfinite(rebuttal), (rebuttal - entry_csls) / 2, 0.0).astype(
                np.float32
            ),
            bm25=bm25,
            rank=entry_csls + cal.rank_lexical * lexical + w_bm25 * bm25,
            same_language=same_language,
            denial=bool(DENIAL_RE.search(post.text)),
            lang=lang,
            numbers=numbers_in(post.text),
            blocked=blocked,
            words=len(post.words),
            queries=queries,
            sims=sims,
            chunks=chunks,
        )

    def _closer_to_negative(self, cosine: Matrix, negative_sims: Matrix) -> set[str]:
        """Entries with a counter-example at least as close to the post as any phrasing."""
        known = self._negative_entry >= 0
        closer = known & (negative_sims >= cosine[np.maximum(self._negative_entry, 0)])
        return {self._negatives[i].entry_id for i in np.flatnonzero(closer)}

    def pair_vector(self, ev: Evidence, index: int) -> Matrix:
        """The best (post chunk, entry text) pair as [u*v, |u-v|, u-v], the pair head's input.

        The signed difference tells a post that says more than the claim from one that says
        less or something else; |u-v| alone cannot. With it, recall on unseen training sets
        at the same false-alarm limit rose from 0.850 to 0.877 (BENCHMARKS.md).
        """
        assert ev.queries is not None and ev.sims is not None
        start, end = self._span(index)
        block = ev.sims[:, start:end]
        chunk, text = np.unravel_index(int(block.argmax()), block.shape)
        u, v = ev.queries[chunk], self._vectors[start + text]
        return np.concatenate([u * v, np.abs(u - v), u - v]).astype(np.float32)

    def terms_similarity(self, ev: Evidence, index: int) -> float:
        """The best latent-term cosine between a chunk of the post and a phrasing of the entry."""
        phrasings = self._terms_of(ev, index)
        return max(
            (terms_similarity(p, t) for p in self._post_terms(ev) for t in phrasings), default=0.0
        )

    def terms_rebuttal_gap(self, ev: Evidence, index: int) -> float:
        """How much more of the post the entry's rebuttal names than its claim, counting only
        the latent terms each has and the other lacks. A post stating the official version
        names the rebuttal's own things (exercises, the ministry). A rebuttal that restates
        the claim, as a fact-check's headline often does, then weighs nothing either way."""
        rows = _rows(self._summary_entry, np.array([index], dtype=np.intp))
        if not len(rows):
            return 0.0
        claims = self._terms_of(ev, index)
        rebuttals = self._known_terms(
            self._summary_terms, rows.tolist(), self._summary_texts.__getitem__
        )
        in_claims = np.unique(np.concatenate([t[0] for t in claims]))
        in_rebuttals = np.unique(np.concatenate([t[0] for t in rebuttals]))
        post = self._post_terms(ev)
        own_rebuttal = [_without(t, in_claims) for t in rebuttals]
        own_claim = [_without(t, in_rebuttals) for t in claims]
        rebuttal = max((terms_similarity(p, t) for p in post for t in own_rebuttal), default=0.0)
        claim = max((terms_similarity(p, t) for p in post for t in own_claim), default=0.0)
        return rebuttal - claim

    def _post_terms(self, ev: Evidence) -> list[Terms]:
        if ev.terms is None:
            ev.terms = self.embedder.terms(ev.chunks)
        return ev.terms

    def _terms_of(self, ev: Evidence, index: int) -> list[Terms]:
        start, end = self._span(index)
        return self._known_terms(self._terms, range(start, end), lambda i: self._texts[i].text)

    def _known_terms(
        self, table: TermTable, rows: Iterable[int], text_of: Callable[[int], str]
    ) -> list[Terms]:
        rows = list(rows)
        # A matcher built without stored terms (benchmarks over collections outside a
        # database) embeds a candidate's texts the first time it needs them.
        missing = [i for i in rows if not table.known[i]]
        if missing:
            found_terms = self.embedder.terms([text_of(i) for i in missing])
            for i, found in zip(missing, found_terms, strict=True):
                table.put(i, found)
        return [table.get(i) for i in rows]

    def _terms_features(self, ev: Evidence, index: int) -> list[float]:
        """The calibration's last inputs (kb.calibration.TERMS_FEATURES) for one candidate."""
        return [self.terms_similarity(ev, index), self.terms_rebuttal_gap(ev, index)]

    def _dense_features(self, ev: Evidence, index: int, rival: int | None) -> list[float]:
        """The calibration's inputs (kb.calibration.FEATURES) for one candidate but those that
        need the post's latent terms, in order."""
        margin = float(ev.csls[index] - ev.csls[rival]) if rival is not None else 0.2
        return [
            float(ev.csls[index]),
            margin,
            float(ev.cosine[index]),
            float(ev.lexical[index]),
            math.log1p(ev.words),
            float(ev.rebuttal_gap[index]),
            1.0 if ev.denial else 0.0,
            1.0 if ev.lang in self._langs[index] else 0.0,
            len(ev.numbers - self._numbers[index]) / len(ev.numbers) if ev.numbers else 0.0,
            self.calibration.pair_score(self.pair_vector(ev, index)),
        ]

    def match(
        self,
        text: str,
        *,
        urls: Sequence[str] = (),
        media: Sequence[str] = (),
        top: int = 5,
        exact_scores: bool = False,
    ) -> MatchResult:
        """Rank entries for a post and decide: answer, ask, or abstain.

        A post decided without its latent terms (`scored`) gets upper bounds as candidate
        scores; `exact_scores` computes them, for moderators' views and `rumorbot match`."""
        for fingerprint in media:
            if fingerprint in self._media:
                return self._exact(self._media[fingerprint], "media")
        post = clean_post(text)
        for url in (*urls, *post.urls):
            hit = self._appearances.get(url_key(url))
            if hit is not None:
                return self._exact(hit, "link")
        if not self.entry_ids or not post.words:
            return MatchResult(Decision.NONE, None, None, reason="empty")
        ev, ranked = self.scored(post, top=max(top, 1), all_features=exact_scores)
        cal = self.calibration
        candidates = tuple(
            Candidate(
                ev.entry_ids[i],
                round(p, 4),
                round(float(ev.cosine[i]), 4),
                round(float(ev.lexical[i]), 4),
                round(float(ev.rank[i]), 4),
            )
            for i, _, p in ranked
        )
        if not candidates:
            return MatchResult(Decision.NONE, None, None, reason="counter-example")
        best = candidates[0]
        if best.score >= cal.answer_at and ev.words >= cal.min_words_to_answer:
            decision = Decision.ANSWER
        elif best.score >= cal.ask_at:
            decision = Decision.ASK
        else:
            return MatchResult(Decision.NONE, None, best.score, candidates, "unsure")
        return MatchResult(decision, best.entry_id, best.score, candidates, "similar")

    def scored(
        self, post: CleanPost, top: int = 5, *, all_features: bool = False
    ) -> tuple[Evidence, list[tuple[int, list[float], float]]]:
        """The top entries as (index, features, probability), best first.

        Best first by the ranking score; the calibrated probability decides. Re-sorting by
        probability lost 2-9 points of MAP@5 on CheckThat! (BENCHMARKS.md). Only when the
        front-runners are in other languages than the post, where the ranking score has no
        word evidence, does the probability (which knows languages and the pair head) order
        them: that put the right entry first for 0.976 of our dev posts against 0.941.

        The post's latent terms cost the sparse head over its token states (with the C
        engine, a second pass of the model). When no candidate could reach "ask" whatever
        they say, the post is decided without them: its terms features are NaN and each
        probability is its upper bound, still below `ask_at`, so the decision is the one the
        full features would give. `all_features` always computes
        them (for fitting the calibration).
        """
        ev = self.evidence(post)
        cal = self.calibration
        rank = ev.rank.copy()
        # A moderator's counter-example says "a post like this is not that entry": drop it.
        for blocked in ev.blocked:
            rank[self.entry_ids.index(blocked)] = -np.inf
        order = [int(i) for i in top_indices(rank, max(top, 2))]
        order = [i for i in order if np.isfinite(rank[i])]
        dense = []
        for position, index in enumerate(order[:top]):
            # The runner-up is the best other entry: for the leader that is the second.
            rival = None if len(order) < 2 else order[1] if position == 0 else order[0]
            dense.append((index, self._dense_features(ev, index, rival)))
        # Bounds until one candidate could reach "ask": then the terms are needed anyway.
        ceilings: list[float] = []
        needed = all_features
        for _, f in dense:
            if needed:
                break
            ceilings.append(cal.probability_bounds([*f, 0.0, 0.0], TERMS_FEATURES)[1])
            needed = ceilings[-1] >= cal.ask_at
        if needed:
            ranked = []
            for index, features in dense:
                features = [*features, *self._terms_features(ev, index)]
                ranked.append((index, features, cal.probability(features)))
        else:
            unknown = [math.nan] * len(TERMS_FEATURES)
            ranked = [
                (index, [*f, *unknown], c) for (index, f), c in zip(dense, ceilings, strict=True)
            ]
        if not ev.same_language:
            ranked.sort(key=lambda item: -item[2])
        return ev, ranked

    def _exact(self, entry_id: str, reason: str) -> MatchResult:
        candidate = Candidate(entry_id, 1.0, 1.0, 1.0)
        return MatchResult(Decision.ANSWER, entry_id, 1.0, (candidate,), reason)
