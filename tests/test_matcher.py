"""The matcher on the bundled seed KB: every language, noise, long posts, and abstention."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.embed import Embedder
from kb.interchange import parse_entries
from kb.matcher import Decision
from kb.seed_vectors import load_bundle
from kb.service import SEED, KnowledgeBase
from kb.text import clean_post
from tests.embedders import CountingEmbedder

CONVOY = "kz-convoy-exercises"
DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "post",
    [
        "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
        "for the war, look at this video",
        "На видео эшелон с казахстанскими танками, который едет в Россию. Казахстан вооружает Путина.",
        "Қазақстан Ресейге соғыс үшін танктер мен бронетехника тиелген пойыздарды жасырын "
        "жөнелтіп жатыр, мына видеоны қараңыз",
        "Казахстан таємно відправляє до Росії ешелони з танками та бронетехнікою для війни, ось відео",
        "Ein Video zeigt einen langen Zug mit kasachischen Panzern auf dem Weg nach Russland. "
        "Kasachstan rüstet Putin heimlich auf.",
    ],
    ids=["en", "ru", "kk", "uk", "de"],
)
async def test_the_convoy_rumour_is_answered_in_every_language(
    seeded_kb: KnowledgeBase, post: str
) -> None:
    result = await seeded_kb.match(post)
    assert result.decision is Decision.ANSWER
    assert result.match == CONVOY


@pytest.mark.parametrize(
    "post",
    [
        "Footage of a long column of Kazakh army trucks and tanks heading to the Russian border. "
        "Tokayev is quietly arming Putin.",
        "Қазақстан әскерінің танктері мен көліктері Ресей шекарасына қарай бара жатыр, "
        "Тоқаев Путинге қару беріп жатыр.",
    ],
    ids=["en", "kk"],
)
async def test_an_allusive_post_ranks_the_right_rumour_first_and_is_never_answered_wrongly(
    seeded_kb: KnowledgeBase, post: str
) -> None:
    result = await seeded_kb.match(post)
    assert result.candidates[0].entry_id == CONVOY
    assert result.match in (CONVOY, None)


async def test_social_media_noise_does_not_hide_the_claim(seeded_kb: KnowledgeBase) -> None:
    post = (
        "🚨🚨 СРОЧНО!!! КАЗАХСТАН ОТПРАВЛЯЕТ ТАНКИ В РОССИЮ 😱😱 видео с трассы "
        "https://t.me/s/some_channel/4521 #Казахстан #война #танки\n"
        "ПЕРЕШЛИТЕ ВСЕМ, ПОКА НЕ УДАЛИЛИ!!!"
    )
    assert (await seeded_kb.match(post)).match == CONVOY


async def test_a_claim_inside_a_long_post_is_found(seeded_kb: KnowledgeBase) -> None:
    post = (
        "Good morning everyone, here is our evening digest. The weather in Almaty will stay warm "
        "until Friday, and the city promises to finish the road works on Abay avenue. "
        "Football: Kairat won 2:0 at home. Meanwhile people are sharing videos that supposedly "
        "show Kazakhstan sending trains full of armoured vehicles to Russia for the war. "
        "Prices for buckwheat went up again this week. Stay with us for more news tomorrow."
    )
    assert (await seeded_kb.match(post)).match == CONVOY


@pytest.mark.parametrize(
    "post",
    [
        "Who wants to go hiking in the mountains near Almaty this Saturday morning?",
        "Поздравляю всех с праздником, желаю мира, добра и здоровья вашим семьям!",
        "Ертең Астанада күн суық болады, жылы киініңіздер.",
        "Продаю дитячий велосипед у доброму стані, ціна договірна, пишіть у приват.",
        "Der Zug nach Berlin hat heute wieder vierzig Minuten Verspätung, unglaublich.",
        "Kazakhstan's national football team beat Denmark in a Euro qualifier in Astana.",
    ],
)
async def test_unrelated_posts_are_not_answered(seeded_kb: KnowledgeBase, post: str) -> None:
    result = await seeded_kb.match(post)
    assert result.decision is not Decision.ANSWER
    assert result.match is None


async def test_a_very_short_text_is_never_answered_on_similarity_alone(
    seeded_kb: KnowledgeBase,
) -> None:
    result = await seeded_kb.match("Kazakhstan tanks Russia")
    assert result.decision is not Decision.ANSWER


async def test_kazakh_post_finds_an_english_only_entry(kb: KnowledgeBase) -> None:
    await kb.import_entries(
        parse_entries("""
- id: tenge-1000
  claim: "The tenge will crash to 1000 per US dollar next Monday, withdraw your savings now"
  verdict: unproven
  summary: "The National Bank announced nothing of the kind."
  lang: en
- id: heating-ban
  claim: "Germany bans every gas heating system from next year"
  verdict: misleading
  summary: "Only new installations are affected."
  lang: en
- id: baikonur
  claim: "Kazakhstan handed the Baikonur cosmodrome over to Russia for ever"
  verdict: "false"
  summary: "The lease runs until 2050."
  lang: en
"""),
        actor="test",
    )
    result = await kb.match(
        "Дүйсенбіде теңге бағамы бір долларға мың теңгеге дейін құлайды, ақшаңызды банктен алыңыз!"
    )
    assert result.candidates[0].entry_id == "tenge-1000"
    assert result.decision is not Decision.NONE


LAWS = """
- id: law-4155
  claim: "Verkhovna Rada law 4155 bans the Russian language in all shops and cafes"
  verdict: "false"
  summary: "Law 4155 is about something else."
  lang: en
- id: law-5670
  claim: "Verkhovna Rada law 5670 bans the Russian language in all schools and universities"
  verdict: "false"
  summary: "Law 5670 is about something else."
  lang: en
- id: law-2362
  claim: "Verkhovna Rada law 2362 bans Russian-language books and music"
  verdict: "false"
  summary: "Law 2362 is about something else."
  lang: en
"""


async def test_a_post_naming_one_of_several_lookalike_claims_ranks_it_first(
    kb: KnowledgeBase,
) -> None:
    await kb.import_entries(parse_entries(LAWS), actor="test")
    result = await kb.match("Rada passed 5670, Russian is finished")
    assert result.candidates[0].entry_id == "law-5670"
    # Within one language, candidates are listed by the ranking score.
    ranks = [c.rank for c in result.candidates]
    assert ranks == sorted(ranks, reverse=True)


KZ_MONEY = """
- id: tenge-1000
  claim: "В понедельник Нацбанк обвалит тенге до 1000 за доллар — срочно снимайте деньги."
  verdict: "false"
  summary: "Нацбанк ничего подобного не объявлял."
  lang: ru
- id: language-ban
  claim: "С нового года в Казахстане запрещают русский язык: за вывески на русском штрафуют."
  verdict: "false"
  summary: "Такого закона нет."
  lang: ru
- id: dollar-deposits
  claim: "Банктердегі долларлық депозиттер мәжбүрлі түрде теңгеге айырбасталады — ақшаңызды
    тезірек алып үлгеріңіз."
  verdict: "false"
  summary: "Ұлттық банк мұндай шешім қабылдаған жоқ."
  lang: kk
- id: tariff-tripled
  claim: "1 қаңтардан бастап Қазақстанда электр энергиясының тарифі үш есе өседі."
  verdict: misleading
  summary: "Тарифтер өседі, бірақ үш есе емес."
  lang: kk
"""


@pytest.mark.parametrize(
    ("post", "entry"),
    [
        (
            "Говорят, долларовые вклады в казахстанских банках принудительно переведут в тенге. "
            "Успейте забрать деньги, пока не поздно.",
            "dollar-deposits",
        ),
        ("С января свет в Казахстане подорожает втрое!", "tariff-tripled"),
    ],
    ids=["deposits", "tariff"],
)
async def test_a_cross_lingual_match_is_not_pushed_down_by_same_language_lookalikes(
    kb: KnowledgeBase, post: str, entry: str
) -> None:
    # The Russian posts state Kazakh-only entries and share words ("тенге", "Казахстане",
    # "деньги") with Russian entries about something else: word-level BM25 would rank
    # those first, so it must stay out of a cross-lingual ranking.
    await kb.import_entries(parse_entries(KZ_MONEY), actor="test")
    result = await kb.match(post)
    assert result.candidates[0].entry_id == entry
    assert result.match in (entry, None)


async def test_a_known_rumour_link_matches_exactly(kb: KnowledgeBase) -> None:
    await kb.import_entries(
        parse_entries("""
- id: fake-video
  claim: "A video shows tanks in Almaty"
  verdict: misleading
  summary: "The video is from 2022."
  lang: en
  appearances: ["https://t.me/rumour_channel/777"]
"""),
        actor="test",
    )
    result = await kb.match("look at this!! t.me/s/rumour_channel/777?utm_source=share")
    assert (result.decision, result.match, result.reason) == (Decision.ANSWER, "fake-video", "link")


async def test_an_attached_photo_matches_exactly(seeded_kb: KnowledgeBase) -> None:
    async with seeded_kb.sessions() as session:
        await store.attach_media(session, CONVOY, "AQADxyz123", actor="test")
        await session.commit()
    result = await seeded_kb.match("", media=["AQADxyz123"])
    assert (result.match, result.reason) == (CONVOY, "media")


async def test_drafts_and_archived_entries_are_not_matched(kb: KnowledgeBase) -> None:
    await kb.import_entries(
        parse_entries("""
- id: draft-one
  claim: "Germany bans every gas heating system from next year"
  verdict: misleading
  summary: "Only new installations are affected."
  lang: en
  status: draft
"""),
        actor="test",
    )
    result = await kb.match("Germany bans every gas heating system from next year, even old ones")
    assert result.decision is Decision.NONE and not result.candidates


async def test_a_counter_example_stops_a_wrong_match(seeded_kb: KnowledgeBase) -> None:
    post = (
        "Kazakhstan's army moved a column of tanks to the Chinese border today for a joint "
        "exercise with Russia"
    )
    async with seeded_kb.sessions() as session:
        await store.add_variant(session, CONVOY, post, actor="moderator", negative=True)
        await session.commit()
    result = await seeded_kb.match(post)
    assert result.match != CONVOY
    assert CONVOY not in [c.entry_id for c in result.candidates]


async def test_vectors_are_stored_and_never_recomputed_per_query(kb: KnowledgeBase) -> None:
    counting = kb.embedder
    assert isinstance(counting, CountingEmbedder)
    await kb.import_entries(parse_entries(LAWS), actor="test")
    embedded = counting.passages_embedded
    assert embedded > 0
    for post in (
        "Verkhovna Rada law 4155 bans Russian in shops and cafes",
        "The Rada bans Russian books and music",
    ):
        await kb.match(post)
    assert counting.passages_embedded == embedded
    second = KnowledgeBase(kb.sessions, CountingEmbedder(counting.inner))
    try:
        await second.match("Verkhovna Rada law 4155 bans Russian in shops and cafes")
        assert isinstance(second.embedder, CountingEmbedder)
        assert second.embedder.passages_embedded == 0
        # the KB texts' latent terms come from the database too: only the post is embedded
        assert second.embedder.terms_embedded == 1
    finally:
        second.close()


async def test_every_worker_sees_a_change_made_by_another(kb: KnowledgeBase) -> None:
    other = KnowledgeBase(kb.sessions, kb.embedder)
    try:
        assert (await other.match("Germany bans gas heating from next year")).candidates == ()
        await kb.import_entries(
            parse_entries("""
- id: heating-ban
  claim: "Germany bans every gas heating system from next year"
  verdict: misleading
  summary: "Only new installations are affected."
  lang: en
"""),
            actor="test",
        )
        result = await other.match("Germany bans every gas heating system from next year!")
        assert result.candidates[0].entry_id == "heating-ban"
    finally:
        other.close()


class FailingEmbedder(CountingEmbedder):
    """Dies after a number of texts, like an import interrupted with Ctrl-C."""

    def __init__(self, inner: CountingEmbedder, budget: int) -> None:
        super().__init__(inner.inner)
        self.budget = budget

    def passages(self, texts):  # type: ignore[no-untyped-def]
        if self.passages_embedded + len(texts) > self.budget:
            raise KeyboardInterrupt
        return super().passages(texts)


async def test_an_interrupted_import_resumes_without_redoing_work(kb: KnowledgeBase) -> None:
    assert isinstance(kb.embedder, CountingEmbedder)
    dying = KnowledgeBase(kb.sessions, FailingEmbedder(kb.embedder, budget=40))
    with pytest.raises(KeyboardInterrupt):
        await dying.import_files([DATA / "eval_kb.yaml"], actor="test")
    dying.close()
    async with kb.sessions() as session:
        assert sum((await store.count_entries(session)).values()) == 32  # entries are all saved
        done = len(await store.stored_hashes(session, kb.embedder.name))
        total = len({t.text for t in await store.index_texts(session)})
    assert 0 < done < total
    assert await kb.embed_missing() == total - done
    assert kb.embedder.passages_embedded == total - done


async def test_the_shipped_pair_head_reads_the_pair_vector_the_matcher_builds(
    seeded_kb: KnowledgeBase,
) -> None:
    # The head's weights are fitted offline (bench/calibrate.py); a matcher whose pair
    # vector changed shape without a refit would fail on the first post.
    matcher = await seeded_kb.matcher()
    evidence, ranked = matcher.scored(clean_post("Kazakhstan is sending tanks to Russia by train"))
    pair = matcher.pair_vector(evidence, ranked[0][0])
    assert len(matcher.calibration.pair_weights) == len(pair) == 3 * 384


async def test_latent_terms_tell_the_claim_from_another_fact_on_its_topic(
    seeded_kb: KnowledgeBase,
) -> None:
    # Dense vectors put both posts close to the convoy claim (same topic, same country);
    # the latent terms keep what each names: tanks and trains against aid and Ukraine.
    matcher = await seeded_kb.matcher()
    index = matcher.entry_ids.index(CONVOY)
    similarity = {}
    for name, post in {
        "claim": "Казахстан тайно отправляет в Россию поезда с танками",
        "other fact": "Kazakhstan sends humanitarian aid to Ukraine",
    }.items():
        evidence = matcher.evidence(clean_post(post))
        similarity[name] = matcher.terms_similarity(evidence, index)
    assert similarity["claim"] > similarity["other fact"] + 0.1


@pytest.mark.parametrize(
    ("rumour", "official"),
    [
        (
            "Kazakhstan is secretly sending tanks to Russia",
            "The Kazakh Defence Ministry says the military columns in the videos were its own "
            "units travelling to planned exercises",
        ),
        (
            "Казахстан тайно отправляет в Россию поезда с танками",
            "Минобороны Казахстана: колонны техники на видео — это наши подразделения, "
            "которые едут на учения",
        ),
    ],
    ids=["en", "ru"],
)
async def test_a_post_stating_the_official_version_names_the_rebuttals_terms(
    seeded_kb: KnowledgeBase, rumour: str, official: str
) -> None:
    matcher = await seeded_kb.matcher()
    index = matcher.entry_ids.index(CONVOY)
    gap = {
        name: matcher.terms_rebuttal_gap(matcher.evidence(clean_post(post)), index)
        for name, post in {"rumour": rumour, "official": official}.items()
    }
    assert gap["official"] > gap["rumour"] + 0.1


async def test_an_unrelated_post_is_decided_without_the_second_pass_of_the_model(
    kb: KnowledgeBase,
) -> None:
    # No candidate could reach "ask" whatever the latent terms say, so the model is not run
    # over the post a second time; a post near a claim still gets its terms.
    counting = kb.embedder
    assert isinstance(counting, CountingEmbedder)
    await kb.seed()
    counting.terms_embedded = 0
    unrelated = await kb.match("Продаю дитячий велосипед у доброму стані, ціна договірна.")
    assert unrelated.decision is Decision.NONE
    assert counting.terms_embedded == 0
    ask_at = (await kb.matcher()).calibration.ask_at
    assert all(c.score < ask_at for c in unrelated.candidates)
    await kb.match("Kazakhstan is secretly sending trains full of tanks to Russia for the war")
    assert counting.terms_embedded == 1
    # moderators' views ask for the real probabilities, which the bound only caps
    exact = await kb.match(
        "Продаю дитячий велосипед у доброму стані, ціна договірна.", exact_scores=True
    )
    assert counting.terms_embedded == 2
    assert exact.decision is Decision.NONE
    ceiling = {c.entry_id: c.score for c in unrelated.candidates}
    assert all(c.score <= ceiling[c.entry_id] for c in exact.candidates)


@pytest.mark.parametrize(
    "post",
    [
        "Who wants to go hiking in the mountains near Almaty this Saturday morning?",
        "Der Zug nach Berlin hat heute wieder vierzig Minuten Verspätung, unglaublich.",
        "Kazakhstan's national football team beat Denmark in a Euro qualifier in Astana.",
        "Kazakhstan sends humanitarian aid to Ukraine",
        "Казахстан тайно отправляет в Россию поезда с танками",
        "Astana helps Moscow dodge sanctions",
        "Kazakh army units moved to training grounds for planned exercises, the ministry said",
    ],
)
async def test_skipping_the_latent_terms_never_changes_the_decision(
    seeded_kb: KnowledgeBase, post: str
) -> None:
    matcher = await seeded_kb.matcher()
    cal = matcher.calibration
    _, quick = matcher.scored(clean_post(post))
    _, full = matcher.scored(clean_post(post), all_features=True)

    def decision(ranked: list[tuple[int, list[float], float]]) -> str:
        best = ranked[0][2]
        return "answer" if best >= cal.answer_at else "ask" if best >= cal.ask_at else "none"

    assert decision(quick) == decision(full)
    for (_, _, bound), (_, _, probability) in zip(
        sorted(quick), sorted(full), strict=True
    ):  # where the terms were skipped, the score is an upper bound of the full one
        assert bound >= probability - 1e-9


async def test_a_first_run_loads_the_seed_without_embedding_it(kb: KnowledgeBase) -> None:
    # The package ships the seed texts' vectors and latent terms (kb/seed_vectors.py): a new
    # user's first `rumorbot check` answers in a second or two, not after ten of embedding.
    counting = kb.embedder
    assert isinstance(counting, CountingEmbedder)
    await kb.seed()
    assert counting.passages_embedded == 0 and counting.terms_embedded == 0
    result = await kb.match("Kazakhstan is secretly sending trains full of tanks to Russia")
    assert result.match == CONVOY


async def test_the_shipped_seed_vectors_are_what_the_model_gives(
    kb: KnowledgeBase, embedder: Embedder
) -> None:
    # A seed text edited without rebuilding the bundle (python -m kb.seed_vectors) is simply
    # embedded; a bundle from another model version would be wrong silently, so check it.
    bundle = load_bundle(embedder.name)
    await kb.import_files([SEED], actor="test")  # embeds: import never reads the bundle
    async with kb.sessions() as session:
        stored = await store.load_vectors(session, embedder.name)
        terms = await store.load_terms(session, embedder.name)
    assert stored.keys() == bundle.vectors.keys() == terms.keys() == bundle.terms.keys()
    for h, vector in stored.items():
        assert np.allclose(vector, bundle.vectors[h], atol=2e-3)
        assert set(terms[h][0][np.abs(terms[h][1]) > 0.05]) <= set(bundle.terms[h][0])


class MeetingEmbedder(CountingEmbedder):
    """Each pass of the model waits for the other to start: only passes run at once finish."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.started = {"passages": threading.Event(), "terms": threading.Event()}

    def _meet(self, mine: str, other: str) -> None:
        self.started[mine].set()
        assert self.started[other].wait(10), f"the {other} pass did not run beside {mine}"

    def passages(self, texts):  # type: ignore[no-untyped-def]
        self._meet("passages", "terms")
        return super().passages(texts)

    def terms(self, texts):  # type: ignore[no-untyped-def]
        self._meet("terms", "passages")
        return super().terms(texts)


async def test_with_two_model_copies_an_import_runs_both_passes_at_once(
    sessions: async_sessionmaker[AsyncSession], embedder: Embedder
) -> None:
    kb = KnowledgeBase(sessions, MeetingEmbedder(embedder), workers=2)
    try:
        await kb.import_entries(parse_entries(LAWS), actor="test")
        assert isinstance(kb.embedder, MeetingEmbedder)
        assert kb.embedder.passages_embedded == kb.embedder.terms_embedded > 0
    finally:
        kb.close()
