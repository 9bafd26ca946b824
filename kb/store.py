"""Reading and writing entries, vectors, reports and the audit log (plain async functions)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kb.embed import Matrix, Terms
from kb.errors import UnknownEntry
from kb.interchange import EntryIn, SourceIn, TranslationIn
from kb.lang import detect_language
from kb.matcher import IndexedText
from kb.models import (
    Appearance,
    AuditLog,
    Entry,
    Media,
    Report,
    Setting,
    Source,
    Status,
    Translation,
    Variant,
    Vector,
    utcnow,
)
from kb.text import url_key

VERSION_KEY = "kb_version"


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.created)} new, {len(self.updated)} updated, {len(self.unchanged)} unchanged"
        )


async def get_setting(session: AsyncSession, key: str) -> str | None:
    row = await session.get(Setting, key)
    return row.value if row else None


async def set_setting(session: AsyncSession, key: str, value: str) -> None:
    row = await session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
        session.add(row)


async def kb_version(session: AsyncSession) -> int:
    """A counter every change to the entries bumps, so each worker knows to rebuild its index."""
    value = await get_setting(session, VERSION_KEY)
    return int(value) if value else 0


async def bump_version(session: AsyncSession) -> None:
    await set_setting(session, VERSION_KEY, str(await kb_version(session) + 1))
    await set_setting(session, "kb_updated_at", utcnow().isoformat(timespec="seconds"))


async def audit(
    session: AsyncSession,
    actor: str,
    action: str,
    entry_id: str | None,
    before: Any = None,
    after: Any = None,
) -> None:
    def dump(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    session.add(
        AuditLog(
            actor=actor, action=action, entry_id=entry_id, before=dump(before), after=dump(after)
        )
    )


async def _children(
    session: AsyncSession, ids: Sequence[str] | None
) -> dict[str, dict[str, list[Any]]]:
    """Variants, translations, sources and appearances of the given entries (all if None)."""
    out: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    models: tuple[tuple[type[Variant | Translation | Source | Appearance], str], ...] = (
        (Variant, "variants"),
        (Translation, "translations"),
        (Source, "sources"),
        (Appearance, "appearances"),
    )
    for model, key in models:
        query = select(model)
        if ids is not None:
            query = query.where(col(model.entry_id).in_(ids))
        rows: Sequence[Any] = (await session.exec(query)).all()
        for row in rows:
            out[row.entry_id][key].append(row)
    return out


def _to_data(entry: Entry, kids: dict[str, list[Any]]) -> EntryIn:
    sources = sorted(kids.get("sources", []), key=lambda s: (s.position, s.id))
    return EntryIn(
        id=entry.id,
        claim=entry.claim,
        variants=[
            v.text for v in sorted(kids.get("variants", []), key=lambda v: v.id) if not v.negative
        ],
        verdict=entry.verdict,  # type: ignore[arg-type]
        summary=entry.summary,
        lang=entry.lang,
        translations={
            t.lang: TranslationIn(claim=t.claim, summary=t.summary)
            for t in sorted(kids.get("translations", []), key=lambda t: t.lang)
        },
        sources=[
            SourceIn(url=s.url, title=s.title, publisher=s.publisher, date=s.date) for s in sources
        ],
        tags=[t for t in entry.tags.split(",") if t],
        appearances=[a.url for a in sorted(kids.get("appearances", []), key=lambda a: a.id)],
        status=entry.status,  # type: ignore[arg-type]
    )


async def get_entry(session: AsyncSession, entry_id: str) -> EntryIn | None:
    entry = await session.get(Entry, entry_id)
    if entry is None:
        return None
    return _to_data(entry, (await _children(session, [entry_id]))[entry_id])


async def list_entries(session: AsyncSession, status: Status | None = None) -> list[EntryIn]:
    query = select(Entry).order_by(Entry.id)
    if status is not None:
        query = query.where(Entry.status == status.value)
    entries = (await session.exec(query)).all()
    kids = await _children(session, None)
    return [_to_data(e, kids[e.id]) for e in entries]


async def count_entries(session: AsyncSession) -> dict[str, int]:
    query = select(Entry.status, func.count()).group_by(Entry.status)
    return {status: n for status, n in (await session.exec(query)).all()}


async def _replace_children(session: AsyncSession, data: EntryIn) -> None:
    for model in (Translation, Source, Appearance):
        await session.exec(delete(model).where(col(model.entry_id) == data.id))
    await session.exec(
        delete(Variant).where(col(Variant.entry_id) == data.id, col(Variant.negative).is_(False))
    )
    session.add_all(
        Variant(entry_id=data.id, text=v, lang=detect_language(v)) for v in data.variants
    )
    session.add_all(
        Translation(entry_id=data.id, lang=lang, claim=t.claim, summary=t.summary)
        for lang, t in data.translations.items()
    )
    session.add_all(
        Source(
            entry_id=data.id,
            position=i,
            url=s.url,
            title=s.title,
            publisher=s.publisher,
            date=s.date,
        )
        for i, s in enumerate(data.sources)
    )
    session.add_all(
        Appearance(entry_id=data.id, url=u, url_key=url_key(u)[:500]) for u in data.appearances
    )


async def _write(session: AsyncSession, row: Entry, data: EntryIn) -> None:
    """Make the stored entry read as `data`, its phrasings, translations and links included."""
    row.claim, row.summary, row.lang = data.claim, data.summary, data.lang
    row.verdict, row.status = data.verdict.value, data.status.value
    row.tags = ",".join(data.tags)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    await _replace_children(session, data)


async def save_entries(
    session: AsyncSession, entries: Iterable[EntryIn], actor: str
) -> ImportReport:
    """Create or update entries by id, with an audit row each; the caller commits."""
    report = ImportReport()
    entries = list(entries)
    existing = {
        e.id: e
        for e in (
            await session.exec(select(Entry).where(col(Entry.id).in_([d.id for d in entries])))
        ).all()
    }
    kids = await _children(session, list(existing)) if existing else {}
    for data in entries:
        row = existing.get(data.id)
        after = data.model_dump(mode="json")
        if row is not None:
            before = _to_data(row, kids.get(data.id, {})).model_dump(mode="json")
            if before == after:
                report.unchanged.append(data.id)
                continue
            report.updated.append(data.id)
        else:
            before = None
            row = Entry(id=data.id, claim="", summary="", verdict="", lang="")
            report.created.append(data.id)
        await _write(session, row, data)
        await audit(
            session, actor, "import" if before is None else "update", data.id, before, after
        )
    if report.created or report.updated:
        await bump_version(session)
    return report


async def index_texts(session: AsyncSession) -> list[IndexedText]:
    """Every text of every published entry that posts are compared with, rebuttals included."""
    published = select(Entry.id).where(Entry.status == Status.PUBLISHED.value)
    texts = []
    entries = await session.exec(select(Entry).where(Entry.status == Status.PUBLISHED.value))
    for e in entries.all():
        texts += [
            IndexedText(e.id, e.claim, lang=e.lang),
            IndexedText(e.id, e.summary, "summary", e.lang),
        ]
    translations = await session.exec(
        select(Translation).where(col(Translation.entry_id).in_(published))
    )
    for t in translations.all():
        texts += [
            IndexedText(t.entry_id, t.claim, lang=t.lang),
            IndexedText(t.entry_id, t.summary, "summary", t.lang),
        ]
    variants = await session.exec(select(Variant).where(col(Variant.entry_id).in_(published)))
    for v in variants.all():
        role = "negative" if v.negative else "claim"
        texts.append(IndexedText(v.entry_id, v.text, role, v.lang or detect_language(v.text)))
    return texts


async def exact_keys(session: AsyncSession) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(link, entry) and (media fingerprint, entry) pairs of published entries."""
    published = select(Entry.id).where(Entry.status == Status.PUBLISHED.value)
    links = (
        await session.exec(
            select(Appearance.url, Appearance.entry_id).where(
                col(Appearance.entry_id).in_(published)
            )
        )
    ).all()
    media = (
        await session.exec(
            select(Media.file_unique_id, Media.entry_id).where(col(Media.entry_id).in_(published))
        )
    ).all()
    return [tuple(r) for r in links], [tuple(r) for r in media]  # type: ignore[misc]


async def stored_hashes(session: AsyncSession, model: str) -> set[str]:
    rows = await session.exec(select(Vector.text_hash).where(Vector.model == model))
    return set(rows.all())


async def save_vectors(
    session: AsyncSession, model: str, hashes: Sequence[str], vectors: Matrix
) -> None:
    session.add_all(
        Vector(model=model, text_hash=h, vector=np.asarray(v, dtype=np.float16).tobytes())
        for h, v in zip(hashes, vectors, strict=True)
    )


async def load_vectors(session: AsyncSession, model: str) -> dict[str, Matrix]:
    # float16 halves storage and memory; cosine ranks do not change at this precision.
    rows = await session.exec(select(Vector.text_hash, Vector.vector).where(Vector.model == model))
    return {h: np.frombuffer(v, dtype=np.float16) for h, v in rows.all()}


def terms_model(model: str) -> str:
    """The name latent-term vectors are stored under, beside the model's dense vectors."""
    return f"{model}/terms"


async def save_terms(
    session: AsyncSession, model: str, hashes: Sequence[str], terms: Sequence[Terms]
) -> None:
    # indices (the head has 16,384 features) as uint16, then values as float16: 1 KB a text
    session.add_all(
        Vector(
            model=terms_model(model),
            text_hash=h,
            vector=i.astype(np.uint16).tobytes() + v.astype(np.float16).tobytes(),
        )
        for h, (i, v) in zip(hashes, terms, strict=True)
    )


async def load_terms(session: AsyncSession, model: str) -> dict[str, Terms]:
    rows = await session.exec(
        select(Vector.text_hash, Vector.vector).where(Vector.model == terms_model(model))
    )
    out: dict[str, Terms] = {}
    for h, packed in rows.all():
        n = len(packed) // 4
        indices = np.frombuffer(packed[: 2 * n], dtype=np.uint16).astype(np.int32)
        out[h] = indices, np.frombuffer(packed[2 * n :], dtype=np.float16).astype(np.float32)
    return out


async def record_report(session: AsyncSession, report: Report) -> Report:
    session.add(report)
    await session.flush()
    return report


async def last_update(session: AsyncSession) -> datetime | None:
    value = await get_setting(session, "kb_updated_at")
    return datetime.fromisoformat(value) if value else None


async def audit_trail(session: AsyncSession, entry_id: str) -> list[AuditLog]:
    query = select(AuditLog).where(AuditLog.entry_id == entry_id).order_by(col(AuditLog.id))
    return list((await session.exec(query)).all())


async def attach_media(
    session: AsyncSession,
    entry_id: str,
    file_unique_id: str,
    actor: str,
    platform: str = "telegram",
) -> None:
    """Tie a photo or video to an entry: the same file later matches it exactly."""
    if await session.get(Entry, entry_id) is None:
        raise UnknownEntry(entry_id)
    session.add(Media(entry_id=entry_id, platform=platform, file_unique_id=file_unique_id))
    await audit(session, actor, "media", entry_id, None, {"file_unique_id": file_unique_id})
    await bump_version(session)


async def add_variant(
    session: AsyncSession, entry_id: str, text: str, actor: str, *, negative: bool = False
) -> None:
    """A new phrasing of the entry's rumour, or (negative) a post that is NOT this rumour."""
    if await session.get(Entry, entry_id) is None:
        raise UnknownEntry(entry_id)
    session.add(
        Variant(entry_id=entry_id, text=text.strip(), lang=detect_language(text), negative=negative)
    )
    await audit(
        session,
        actor,
        "counter-example" if negative else "variant",
        entry_id,
        None,
        {"text": text.strip()},
    )
    await bump_version(session)


# --- X worker: asks per author and the record of mentions already handled -------------------


async def count_reports_since(
    session: AsyncSession, platform: str, user_id: str, since: datetime
) -> int:
    """How many posts this user asked about on this platform since `since`."""
    query = select(func.count()).where(
        Report.platform == platform, Report.user_id == user_id, col(Report.created_at) >= since
    )
    return int((await session.exec(query)).one())


async def has_report(session: AsyncSession, platform: str, message_id: str) -> bool:
    """Whether the bot already checked the post with this id on this platform."""
    query = select(Report.id).where(Report.platform == platform, Report.message_id == message_id)
    return (await session.exec(query.limit(1))).first() is not None


# --- Moderators' edits of single entries (kb/editing.py) -------------------------------------


async def save_entry(session: AsyncSession, data: EntryIn, actor: str, action: str) -> bool:
    """Create or replace one entry, audited as `action` with before and after; the caller commits.

    Returns False, writing nothing, when the entry already reads exactly so. Media and
    counter-examples are kept.
    """
    row = await session.get(Entry, data.id)
    after = data.model_dump(mode="json")
    before = None
    if row is not None:
        kids = await _children(session, [data.id])
        before = _to_data(row, kids[data.id]).model_dump(mode="json")
        if before == after:
            return False
    else:
        row = Entry(id=data.id, claim="", summary="", verdict="", lang="")
    await _write(session, row, data)
    await audit(session, actor, action, data.id, before, after)
    await bump_version(session)
    return True


async def entry_media(session: AsyncSession, entry_id: str) -> list[str]:
    """The file_unique_ids of the photos and videos attached to an entry."""
    query = select(Media.file_unique_id).where(Media.entry_id == entry_id).order_by(col(Media.id))
    return list((await session.exec(query)).all())


async def media_owner(
    session: AsyncSession, file_unique_id: str, platform: str = "telegram"
) -> str | None:
    """The entry a photo or video is attached to, if any."""
    query = select(Media.entry_id).where(
        Media.platform == platform, Media.file_unique_id == file_unique_id
    )
    return (await session.exec(query)).first()
