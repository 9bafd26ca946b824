"""What moderators read about entries: cards, search results, the audit trail, import reports.

Built on handlers/render.py's Reply, so every KB and user text is escaped; each view keeps within
Telegram's 4,096 characters by shortening fields and dropping the oldest lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.i18n import verdict_label
from handlers.render import MESSAGE_LIMIT, Reply
from kb.editing import HistoryLine
from kb.interchange import EntryIn
from kb.matcher import Candidate, MatchResult
from kb.models import Moderator
from kb.store import ImportReport

FIELD_LIMIT = 600  # characters of one field in a card
LINE_LIMIT = 160  # characters of one value in the history
MAX_IDS = 40  # ids listed per kind in an import report


def short(text: str, limit: int) -> str:
    """The text on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def note(message: str) -> Reply:
    return Reply().add(message)


def usage(line: str) -> Reply:
    return Reply().add("Usage: ", "b").add(line)


def entry_card(entry: EntryIn, media: Sequence[str] = ()) -> Reply:
    """An entry as moderators check it: every field, shortened."""
    reply = Reply().add(entry.id, "b").add(f" · {entry.status.value} · {entry.lang}\n")
    reply.add(verdict_label(entry.verdict.value, "en"), "b").add("\n")
    reply.add("Claim: ", "i").add(short(entry.claim, FIELD_LIMIT)).add("\n")
    reply.add("Summary: ", "i").add(short(entry.summary, FIELD_LIMIT))
    if entry.variants:
        reply.add(f"\n\nPhrasings ({len(entry.variants)}):", "b")
        for variant in entry.variants[:8]:
            reply.add("\n• ").add(short(variant, 150))
    for lang, tr in sorted(entry.translations.items()):
        reply.add(f"\n\n{lang}: ", "b").add(short(tr.claim, 200)).add(" — ")
        reply.add(short(tr.summary, 200))
    if entry.sources:
        reply.add("\n\nSources:", "b")
        for source in entry.sources:
            reply.add("\n• ").add(short(source.title or source.url, 100), "a", source.url)
    if entry.tags:
        reply.add("\n\nTags: ", "i").add(", ".join(entry.tags))
    if entry.appearances:
        reply.add(f"\nAppeared at {len(entry.appearances)} link(s)")
    if media:
        reply.add(f"\nPhotos/videos attached: {len(media)}")
    return reply


def found(query: str, result: MatchResult, claims: dict[str, str]) -> Reply:
    """/find: the top candidates with their confidence."""
    reply = Reply().add("Closest entries for: ", "b").add(short(query, 200)).add("\n")
    reply.add(f"decision: {result.decision.value}")
    if not result.candidates:
        return reply.add("\n\nNo published entries to compare with.")
    for n, candidate in enumerate(result.candidates[:5], 1):
        reply.add(f"\n\n{n}. ").add(candidate.entry_id, "b").add(f" — {_percent(candidate)}\n")
        reply.add(short(claims.get(candidate.entry_id, ""), 200))
    return reply


def _percent(candidate: Candidate) -> str:
    return f"{candidate.score:.0%} confident (similarity {candidate.similarity:.2f})"


def history(entry_id: str, lines: Sequence[HistoryLine]) -> Reply:
    """/history: newest changes kept when the whole trail does not fit in one message."""
    head = Reply().add(f"History of {entry_id}", "b")
    if not lines:
        return head.add("\nNo recorded changes.")
    blocks = []
    for line in lines:
        block = Reply().add("\n\n").add(line.when.strftime("%Y-%m-%d %H:%M UTC"), "i")
        block.add(f" · {line.actor} · ").add(line.action, "b")
        for change in line.changes[:8]:
            block.add(f"\n  {change.name or 'value'}: " if change.name or change.before else "\n  ")
            if change.before:
                block.add(short(change.before, LINE_LIMIT)).add(" → ")
            block.add(short(change.after, LINE_LIMIT) or "(removed)")
        blocks.append(block)
    budget = MESSAGE_LIMIT - head.visible_length() - 60
    kept: list[Reply] = []
    for block in reversed(blocks):
        if block.visible_length() > budget:
            break
        budget -= block.visible_length()
        kept.insert(0, block)
    if len(kept) < len(blocks):
        head.add(f"\n({len(blocks) - len(kept)} older changes not shown)", "i")
    for block in kept:
        head.parts.extend(block.parts)
    return head


def import_report(name: str, report: ImportReport) -> Reply:
    reply = Reply().add("Imported ", "b").add(name).add(f": {report}")
    for label, ids in (("new", report.created), ("updated", report.updated)):
        if ids:
            more = f" and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else ""
            reply.add(f"\n{label}: ").add(", ".join(ids[:MAX_IDS]) + more)
    return reply


def import_refused(problem: str) -> Reply:
    return Reply().add("Nothing was imported. ", "b").add(short(problem, 1500))


def moderators(owners: Sequence[str], mods: Sequence[Moderator]) -> Reply:
    reply = Reply().add("Owners: ", "b").add(", ".join(owners) or "none")
    reply.add("\n").add("Moderators:", "b")
    if not mods:
        return reply.add(" none")
    for mod in mods[:100]:
        reply.add(f"\n• {mod.user_id} ").add(short(mod.name, 80))
        reply.add(f" (added by {mod.added_by})", "i")
    return reply
