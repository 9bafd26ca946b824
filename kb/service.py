"""The knowledge base as the bot and the CLI use it: import, index, check a post."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import roles, store
from kb.background import Background, load_background
from kb.embed import Embedder, EmbeddingPool, Matrix, text_hash
from kb.interchange import EntryIn, read_entries_file
from kb.lang import detect_language
from kb.matcher import Decision, Matcher, MatchResult
from kb.models import Report
from kb.queue import Asker, enqueue
from kb.seed_vectors import load_bundle
from kb.text import clean_post

log = logging.getLogger(__name__)
SEED = Path(__file__).parent / "seed" / "seed.yaml"
EMBED_BATCH = 32
RECENT_MATCHES = 2048  # posts whose match is kept until the KB changes

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CheckOutcome:
    """What the bot should say about a post."""

    result: MatchResult
    entry: EntryIn | None  # the entry behind `answer` or `ask`
    lang: str  # the post's language, for the reply
    report_id: int | None


class KnowledgeBase:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        embedder: Embedder,
        *,
        background: Background | None = None,
        workers: int = 1,
    ) -> None:
        self.sessions = sessions
        self.embedder = embedder
        # `workers` posts are matched at once, each on one core (EMBED_THREADS).
        self._pool = EmbeddingPool(embedder, workers)
        self._background = background
        self._matcher: Matcher | None = None
        self._version = -1
        self._lock = asyncio.Lock()
        self._recent: OrderedDict[
            tuple[str, tuple[str, ...], tuple[str, ...], int, bool],
            tuple[Matcher, asyncio.Future[MatchResult]],
        ] = OrderedDict()

    def close(self) -> None:
        self._pool.close()

    async def import_entries(
        self, entries: Sequence[EntryIn], actor: str, progress: Progress | None = None
    ) -> store.ImportReport:
        """Save entries in one transaction, then embed their texts (resumable)."""
        async with self.sessions() as session:
            report = await store.save_entries(session, entries, actor)
            await session.commit()
        await self.embed_missing(progress)
        return report

    async def import_files(
        self, paths: Sequence[Path], actor: str, progress: Progress | None = None
    ) -> store.ImportReport:
        """Validate every file first: one bad file imports nothing."""
        entries: list[EntryIn] = []
        for path in paths:
            entries.extend(read_entries_file(path))
        return await self.import_entries(entries, actor, progress)

    async def seed(self, progress: Progress | None = None) -> store.ImportReport:
        await self._store_seed_bundle()
        return await self.import_files([SEED], actor="seed", progress=progress)

    async def _store_seed_bundle(self) -> None:
        """The seed texts' shipped vectors and latent terms, where this model has none yet."""
        name = self.embedder.name
        bundle = await asyncio.to_thread(load_bundle, name)
        if not bundle.vectors:
            return
        try:
            async with self.sessions() as session:
                have = await store.stored_hashes(session, name)
                have_terms = await store.stored_hashes(session, store.terms_model(name))
                dense = [h for h in bundle.vectors if h not in have]
                sparse = [h for h in bundle.terms if h not in have_terms]
                if dense:
                    vectors = np.stack([bundle.vectors[h] for h in dense])
                    await store.save_vectors(session, name, dense, vectors)
                await store.save_terms(session, name, sparse, [bundle.terms[h] for h in sparse])
                await session.commit()
        except IntegrityError:  # another worker stored them first: they are the same rows
            log.debug("seed vectors were stored concurrently")

    async def seed_if_empty(self, progress: Progress | None = None) -> bool:
        async with self.sessions() as session:
            if sum((await store.count_entries(session)).values()):
                return False
        await self.seed(progress)
        return True

    async def embed_missing(self, progress: Progress | None = None) -> int:
        """Embed texts that have no stored vector yet, committing batch by batch.

        An interrupted run keeps every finished batch; the next run embeds only the rest.
        """
        name = self.embedder.name
        async with self.sessions() as session:
            texts = await store.index_texts(session)
            have = await store.stored_hashes(session, name)
            have_terms = await store.stored_hashes(session, store.terms_model(name))
        by_hash = {text_hash(t.text): t.text for t in texts}
        todo = [(h, t) for h, t in by_hash.items() if h not in have or h not in have_terms]
        if progress and todo:
            progress(0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            dense = [(h, t) for h, t in batch if h not in have]
            sparse = [(h, t) for h, t in batch if h not in have_terms]
            # the two passes of the model over a batch run at once when there are two copies
            vectors, terms = await asyncio.gather(
                self._pool.submit(partial(self.embedder.passages, [t for _, t in dense])),
                self._pool.submit(partial(self.embedder.terms, [t for _, t in sparse])),
            )
            async with self.sessions() as session:
                await store.save_vectors(session, name, [h for h, _ in dense], vectors)
                await store.save_terms(session, name, [h for h, _ in sparse], terms)
                await session.commit()
            if progress:
                progress(min(start + EMBED_BATCH, len(todo)), len(todo))
        return len(todo)

    async def matcher(self) -> Matcher:
        """The index of the current KB, rebuilt when any worker changed the entries."""
        async with self.sessions() as session:
            version = await store.kb_version(session)
        if self._matcher is not None and version == self._version:
            return self._matcher
        async with self._lock:
            if self._matcher is None or version != self._version:
                await self.embed_missing()
                # Matches already running keep their reference; the next wait for this one.
                # Dropping it (and the recent matches that pin it) first spares holding two
                # indexes at once.
                self._matcher = None
                self._recent.clear()
                self._matcher = await self._build()
                self._version = version
        return self._matcher

    async def _build(self) -> Matcher:
        async with self.sessions() as session:
            texts = await store.index_texts(session)
            vectors = await store.load_vectors(session, self.embedder.name)
            terms = await store.load_terms(session, self.embedder.name)
            links, media = await store.exact_keys(session)
        if self._background is None:
            self._background = await asyncio.to_thread(load_background, self.embedder)
        background = self._background
        matrix = (
            np.stack([vectors[text_hash(t.text)] for t in texts]).astype(np.float32)
            if texts
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )
        return await asyncio.to_thread(
            Matcher,
            self.embedder,
            background,
            texts,
            matrix,
            terms=[terms[text_hash(t.text)] for t in texts],
            appearances=links,
            media=media,
        )

    async def embed_queries(self, texts: Sequence[str]) -> Matrix:
        """Posts' vectors, on the same bounded threads as matching."""
        return await self._pool.queries(texts)

    async def match(
        self,
        text: str,
        *,
        urls: Sequence[str] = (),
        media: Sequence[str] = (),
        top: int = 5,
        exact_scores: bool = False,
    ) -> MatchResult:
        matcher = await self.matcher()
        key = (text, tuple(urls), tuple(media), top, exact_scores)
        # A viral post arrives many times over, often at once: match it once per KB version.
        found = self._recent.get(key)
        if found is not None and found[0] is matcher:
            self._recent.move_to_end(key)
            return await asyncio.shield(found[1])
        task = asyncio.ensure_future(
            self._pool.run(
                lambda: matcher.match(
                    text, urls=urls, media=media, top=top, exact_scores=exact_scores
                )
            )
        )
        self._recent[key] = (matcher, task)
        if len(self._recent) > RECENT_MATCHES:
            self._recent.popitem(last=False)
        try:
            return await asyncio.shield(task)
        except BaseException:
            if self._recent.get(key, (None, None))[1] is task:
                del self._recent[key]
            raise

    async def check(
        self,
        text: str,
        *,
        urls: Sequence[str] = (),
        media: Sequence[str] = (),
        lang_hint: str = "",
        platform: str = "cli",
        chat_id: str = "",
        message_id: str = "",
        user_id: str = "",
        url: str = "",
        record: bool = True,
        queue_unanswered: bool = True,
    ) -> CheckOutcome:
        """Match a post, record it as a report, queue it when abstaining, say what to answer.

        Auto-replies in groups pass `queue_unanswered=False`: chatter is not a question.
        """
        result = await self.match(text, urls=urls, media=media)
        lang = detect_language(clean_post(text).text, default=lang_hint or "en")
        async with self.sessions() as session:
            entry = await store.get_entry(session, result.entry_id) if result.entry_id else None
            report_id = None
            if record:
                report = await store.record_report(
                    session,
                    Report(
                        platform=platform,
                        chat_id=chat_id,
                        message_id=message_id,
                        user_id=user_id,
                        url=url,
                        text=text,
                        lang=lang,
                        decision=result.decision.value,
                        entry_id=result.entry_id,
                        score=result.confidence,
                    ),
                )
                report_id = report.id
            # A blocked user's posts are still answered, but never fill the moderators' queue.
            if (
                queue_unanswered
                and result.decision is Decision.NONE
                and not await roles.is_blocked(session, platform, user_id)
            ):
                asker = Asker(platform, chat_id, user_id, message_id, lang) if chat_id else None
                await enqueue(session, text, asker)
            await session.commit()
        if result.decision is Decision.NONE:
            entry = None
        return CheckOutcome(result, entry, lang, report_id)
