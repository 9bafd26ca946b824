"""Moderators' changes to single entries: create, edit, sources, translations, status, phrasings.

Plain async functions over a session: each change is audited (who, what before and after) and
bumps the KB version so every worker's matcher picks it up; the caller commits. Values are
checked by the exchange format's own model (EntryIn), so an entry written in the chat is exactly
as valid as one imported from a file.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.claimreview import dump_claimreview
from kb.errors import KbError, UnknownEntry
from kb.interchange import EntryIn, SourceIn, TranslationIn, dump_entries
from kb.lang import detect_language
from kb.models import Entry, Status, Verdict
from kb.text import clean_post

EDITABLE = ("claim", "summary", "verdict", "lang", "tags")
EXPORT_FORMATS = ("yaml", "json", "claimreview")
ID_WORDS = 6  # words of the claim a new entry's id is made of

# Cyrillic to Latin for ids only (Russian, Ukrainian and Kazakh letters); ids must be ASCII.
_TRANSLIT = {
    cyrillic: "" if latin == "-" else latin  # hard and soft signs vanish
    for cyrillic, latin in zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґәғқңөұүһ",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch - y - e iu ia i i ie g a g "
        "q n o u u h".split(),
        strict=True,
    )
}


class BadEdit(KbError):
    """A moderator's value is not acceptable; nothing was changed."""


def _problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "entry"
    return f"{where}: {err['msg']}"


def validated(data: dict[str, Any]) -> EntryIn:
    """An entry as the exchange format accepts it, or BadEdit naming the field."""
    try:
        return EntryIn.model_validate(data)
    except ValidationError as exc:
        raise BadEdit(_problem(exc)) from exc


def parse_source(line: str) -> SourceIn:
    """'URL [title]' as a source."""
    url, _, title = line.strip().partition(" ")
    try:
        return SourceIn(url=url, title=title.strip())
    except ValidationError as exc:
        raise BadEdit(f"{url or '(empty)'} is not an http(s) link") from exc


def parse_verdict(value: str) -> Verdict:
    try:
        return Verdict(value.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError as exc:
        choices = ", ".join(v.value for v in Verdict)
        raise BadEdit(f"{value!r} is not a verdict; use one of {choices}") from exc


def phrasing(text: str) -> str:
    """A post as the matcher reads it (no links, emoji or footers): how variants are stored."""
    return clean_post(text).text or text.strip()


@dataclass
class Draft:
    """An entry being written in /new, step by step."""

    claim: str = ""
    verdict: Verdict | None = None
    summary: str = ""
    sources: list[SourceIn] = field(default_factory=list)
    lang: str = ""
    variants: list[str] = field(default_factory=list)
    queue_item: int | None = None  # started from this review-queue item

    def to_json(self) -> dict[str, Any]:
        """The draft as JSON-ready data, so that any worker can continue it."""
        return {
            "claim": self.claim,
            "verdict": self.verdict.value if self.verdict is not None else None,
            "summary": self.summary,
            "sources": [s.model_dump(mode="json") for s in self.sources],
            "lang": self.lang,
            "variants": list(self.variants),
            "queue_item": self.queue_item,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Draft:
        """A draft from to_json()'s data; BadEdit when the data is not a draft."""
        try:
            verdict, queue_item = data.get("verdict"), data.get("queue_item")
            return cls(
                claim=str(data.get("claim", "")),
                verdict=Verdict(verdict) if verdict is not None else None,
                summary=str(data.get("summary", "")),
                sources=[SourceIn.model_validate(s) for s in data.get("sources", [])],
                lang=str(data.get("lang", "")),
                variants=[str(v) for v in data.get("variants", [])],
                queue_item=int(queue_item) if queue_item is not None else None,
            )
        except (ValueError, TypeError, AttributeError) as exc:  # ValidationError too
            raise BadEdit(f"not a saved draft: {exc}") from exc

    def entry(self, entry_id: str, status: Status = Status.PUBLISHED) -> EntryIn:
        """The draft as an entry; BadEdit names what is missing or wrong."""
        if self.verdict is None:
            raise BadEdit("verdict: not chosen")
        return validated(
            {
                "id": entry_id,
                "claim": self.claim,
                "variants": [v for v in self.variants if v != self.claim],
                "verdict": self.verdict.value,
                "summary": self.summary,
                "lang": self.lang or detect_language(self.claim),
                "sources": [s.model_dump() for s in self.sources],
                "status": status.value,
            }
        )


def slug(text: str) -> str:
    """The first words of a text as an id: ASCII letters, digits and dashes."""
    text = unicodedata.normalize("NFKC", text).lower()
    latin = "".join(_TRANSLIT.get(c, c) for c in text)
    ascii_text = unicodedata.normalize("NFKD", latin).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text)[:ID_WORDS]
    return "-".join(words)[:60].strip("-") or "entry"


async def new_entry_id(session: AsyncSession, claim: str) -> str:
    """An unused id made of the claim's first words."""
    base = slug(claim)
    candidate, n = base, 1
    while await session.get(Entry, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


async def load(session: AsyncSession, entry_id: str) -> EntryIn:
    entry = await store.get_entry(session, entry_id)
    if entry is None:
        raise UnknownEntry(entry_id)
    return entry


async def create(
    session: AsyncSession, draft: Draft, actor: str, *, publish: bool = True
) -> EntryIn:
    """Save a finished draft as a new entry, published or as a draft."""
    status = Status.PUBLISHED if publish else Status.DRAFT
    entry = draft.entry(await new_entry_id(session, draft.claim), status)
    await store.save_entry(session, entry, actor, "create")
    return entry


async def edit(
    session: AsyncSession, entry_id: str, field_name: str, value: str, actor: str
) -> bool:
    """Set one field (claim, summary, verdict, lang, tags); False when it already was so."""
    field_name = field_name.lower()
    if field_name not in EDITABLE:
        raise BadEdit(f"{field_name!r} cannot be edited; fields: {', '.join(EDITABLE)}")
    entry = await load(session, entry_id)
    new: Any = value.strip()
    if field_name == "tags":
        new = [t.strip() for t in re.split(r"[,\s]+", value) if t.strip()]
    elif field_name == "verdict":
        new = parse_verdict(value).value
    elif field_name == "lang":
        new = value.strip().lower()
    after = validated(entry.model_dump(mode="json") | {field_name: new})
    return await store.save_entry(session, after, actor, f"edit {field_name}")


async def add_source(session: AsyncSession, entry_id: str, source: SourceIn, actor: str) -> bool:
    """Append a source; False when the entry already cites that link."""
    entry = await load(session, entry_id)
    if any(s.url == source.url for s in entry.sources):
        return False
    after = entry.model_copy(update={"sources": [*entry.sources, source]})
    return await store.save_entry(session, after, actor, "source")


async def translate(
    session: AsyncSession, entry_id: str, lang: str, claim: str, summary: str, actor: str
) -> bool:
    """Add or replace the entry's claim and summary in another language."""
    entry = await load(session, entry_id)
    lang = lang.strip().lower()
    if lang == entry.lang:
        raise BadEdit(f"{lang} is the entry's own language: use /edit for its claim or summary")
    try:
        translation = TranslationIn(claim=claim, summary=summary)
    except ValidationError as exc:
        raise BadEdit(_problem(exc)) from exc
    data = entry.model_dump(mode="json")
    data["translations"][lang] = translation.model_dump()
    return await store.save_entry(session, validated(data), actor, f"translate {lang}")


async def set_status(session: AsyncSession, entry_id: str, status: Status, actor: str) -> bool:
    """Publish, archive or unpublish; False when the entry already has that status."""
    entry = await load(session, entry_id)
    if entry.status is status:
        return False
    action = {Status.PUBLISHED: "publish", Status.ARCHIVED: "archive"}.get(status, "unpublish")
    return await store.save_entry(
        session, entry.model_copy(update={"status": status}), actor, action
    )


async def add_phrasing(session: AsyncSession, entry_id: str, text: str, actor: str) -> bool:
    """A post as a new phrasing of the entry (the matcher uses it from the next post on)."""
    entry = await load(session, entry_id)
    words = phrasing(text)
    if len(clean_post(words).words) < 2:
        raise BadEdit("the post has too few words to be a phrasing of a claim")
    if words in (entry.claim, *entry.variants):
        return False
    await store.add_variant(session, entry_id, words, actor)
    return True


async def attach_media(
    session: AsyncSession, entry_id: str, file_unique_id: str, actor: str
) -> bool:
    """Tie a photo or video to the entry; False when it already is."""
    await load(session, entry_id)
    owner = await store.media_owner(session, file_unique_id)
    if owner == entry_id:
        return False
    if owner is not None:
        raise BadEdit(f"this photo or video is already attached to {owner}")
    await store.attach_media(session, entry_id, file_unique_id, actor)
    return True


# --- the audit trail, as moderators read it ----------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryLine:
    when: datetime
    actor: str
    action: str
    changes: tuple[FieldChange, ...]


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load_json(text: str) -> Any:
    return json.loads(text) if text else None


def changes(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """The fields that differ between two audited states (whole values when not mappings)."""
    if isinstance(before, dict) and isinstance(after, dict):
        names = [k for k in (*before, *after) if before.get(k) != after.get(k)]
        return tuple(
            FieldChange(k, _shown(before.get(k)), _shown(after.get(k)))
            for k in dict.fromkeys(names)
        )
    if before is None and isinstance(after, dict):
        return tuple(FieldChange(k, "", _shown(v)) for k, v in after.items() if v not in ("", []))
    return (FieldChange("", _shown(before), _shown(after)),) if before != after else ()


async def history(session: AsyncSession, entry_id: str) -> list[HistoryLine]:
    """Every audited change of an entry, oldest first."""
    rows = await store.audit_trail(session, entry_id)
    if not rows and await session.get(Entry, entry_id) is None:
        raise UnknownEntry(entry_id)
    return [
        HistoryLine(
            row.created_at,
            row.actor,
            row.action,
            changes(_load_json(row.before), _load_json(row.after)),
        )
        for row in rows
    ]


# --- whole-KB files ------------------------------------------------------------------------------


def export_text(entries: Sequence[EntryIn], fmt: str = "yaml") -> str:
    if fmt not in EXPORT_FORMATS:
        raise BadEdit(f"{fmt!r} is not an export format; use one of {', '.join(EXPORT_FORMATS)}")
    return dump_claimreview(entries) if fmt == "claimreview" else dump_entries(entries, fmt)
