"""Telegram views of the review queue, /stats and the follow-up askers receive.

Moderators read English; the follow-up goes out in the asker's language. Every piece of
user and KB text goes through handlers/render.py's Reply, which escapes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import render
from handlers.i18n import pick
from handlers.render import MESSAGE_LIMIT, Reply
from handlers.render_entries import short
from kb.interchange import EntryIn
from kb.review import Attached, Blocked, QueueGroup, ReviewItem, Suggestion
from kb.stats import Stats

ATTACH, NEW, DISMISS, BLOCK, PAGE = "rq:at", "rq:new", "rq:dis", "rq:blk", "rq:pg"
QUEUE_BUTTONS = r"^rq:(at|dis|blk|pg):"  # rq:new belongs to /new's conversation
_BUTTON = re.compile(r"^rq:(at|dis|blk|pg):(\d{1,12})(?::(.+))?$")
CALLBACK_LIMIT = 64  # bytes of callback_data Telegram keeps

USAGE = {
    "queue": "Usage: /queue [PAGE]: the posts waiting for an answer, most asked first.",
    "attach": "Usage: /attach ITEM ENTRY_ID: answer queue item ITEM (and its group) with an "
    "entry; its posts become the entry's phrasings.",
    "dismiss": "Usage: /dismiss ITEM: close queue item ITEM (and its group) without an answer.",
    "block": "Usage: /block USER_ID (x:USER_ID for X), or reply /block to a message forwarded "
    "from the user: their posts are still answered but never queued.",
    "unblock": "Usage: /unblock USER_ID (x:USER_ID for X), or reply /unblock to a message "
    "forwarded from the user.",
    "stats": "Usage: /stats",
}
REASONS = {"no_match": "not found", "wrong_match": "“not this”", "declined": "declined"}

FOLLOWUP = {
    "en": "You asked us about this post. Our fact-checkers have looked into it:",
    "ru": "Вы спрашивали нас об этом посте. Наши фактчекеры его проверили:",
    "kk": "Сіз бізден осы жазба туралы сұрадыңыз. Фактчекерлеріміз оны тексерді:",
    "uk": "Ви питали нас про цей допис. Наші фактчекери його перевірили:",
    "de": "Sie haben uns nach diesem Beitrag gefragt. Unser Faktencheck-Team hat ihn geprüft:",
}


def read_button(data: str | None) -> tuple[str, int, str] | None:
    """(action, number, entry id or "") of a queue button, else None."""
    found = _BUTTON.match(data or "")
    if found is None:
        return None
    return f"rq:{found.group(1)}", int(found.group(2)), found.group(3) or ""


def _item_line(item: ReviewItem) -> str:
    reason = REASONS.get(item.reason, item.reason)
    if item.entry_id and item.reason != "no_match":
        reason += f" (offered {item.entry_id})"
    return f"#{item.id} · {item.count}× · {reason}"


def _senders(group: QueueGroup) -> str:
    people = group.senders
    if len(people) == 1:
        platform, user_id = people[0]
        return f"from user {user_id}" + ("" if platform == "telegram" else f" on {platform}")
    return f"from {len(people)} people"


def queue_header(groups: int, items: int, posts: int, page: int, pages: int) -> Reply:
    if not items:
        return Reply().add("The review queue is empty.", "b")
    reply = Reply().add("Review queue", "b")
    reply.add(f": {items} open items ({posts} posts) in {groups} groups")
    return reply.add(f", page {page} of {pages}." if pages > 1 else ".")


def queue_group(group: QueueGroup, suggestions: Sequence[Suggestion]) -> Reply:
    """One group of similar posts: the lead post, its siblings, the matcher's suggestions."""
    lead = group.lead
    reply = Reply().add(_item_line(lead), "b").add(f" · {_senders(group)}\n")
    reply.add(short(lead.text, 1200))
    if len(group.items) > 1:
        reply.add("\n\n").add(f"Grouped with {len(group.items) - 1}:", "i")
        for item in group.items[1:6]:
            reply.add(f"\n• {_item_line(item)}: ").add(short(item.text, 150))
        if len(group.items) > 6:
            reply.add(f"\n• … and {len(group.items) - 6} more")
    if suggestions:
        reply.add("\n\n").add("Closest entries:", "i")
        for s in suggestions:
            reply.add(f"\n• {s.entry_id} ({s.score:.0%}): ").add(short(s.claim, 150))
    reply.add("\n\n").add(f"/attach {lead.id} ENTRY_ID", "i")
    return reply


def queue_keyboard(group: QueueGroup, suggestions: Sequence[Suggestion]) -> InlineKeyboardMarkup:
    lead = group.lead.id
    rows = []
    for s in suggestions:
        data = f"{ATTACH}:{lead}:{s.entry_id}"
        if len(data.encode()) <= CALLBACK_LIMIT:  # a longer id is left to /attach
            rows.append([InlineKeyboardButton(f"Attach → {s.entry_id}", callback_data=data)])
    actions = [
        InlineKeyboardButton("New entry", callback_data=f"{NEW}:{lead}"),
        InlineKeyboardButton("Dismiss", callback_data=f"{DISMISS}:{lead}"),
    ]
    if len({s for s in group.lead.senders if s[1]}) == 1:  # kb.review.block_sender's rule
        actions.append(InlineKeyboardButton("Block sender", callback_data=f"{BLOCK}:{lead}"))
    return InlineKeyboardMarkup([*rows, actions])


def page_keyboard(page: int, pages: int) -> InlineKeyboardMarkup | None:
    buttons = []
    if page > 1:
        buttons.append(InlineKeyboardButton("◀ Previous", callback_data=f"{PAGE}:{page - 1}"))
    if page < pages:
        buttons.append(InlineKeyboardButton("Next ▶", callback_data=f"{PAGE}:{page + 1}"))
    return InlineKeyboardMarkup([buttons]) if buttons else None


def attached(result: Attached, telling: int) -> Reply:
    items = ", ".join(f"#{i}" for i in result.items)
    reply = Reply().add(f"Attached {items} to ").add(result.entry_id, "b")
    reply.add(f": {result.variants} new phrasing{'s' if result.variants != 1 else ''}.")
    if result.counter_examples:
        reply.add(" Counter-example recorded for: ").add(", ".join(result.counter_examples))
        reply.add(".")
    if result.published:
        reply.add(f" Telling {telling} {'person' if telling == 1 else 'people'} who asked.")
    else:
        reply.add(" The entry is not published: askers hear back when it is.")
    return reply


def dismissed(items: Sequence[int]) -> Reply:
    return Reply().add("Dismissed " + ", ".join(f"#{i}" for i in items) + ".")


def blocked(result: Blocked) -> Reply:
    who = result.user_id if result.platform == "telegram" else f"{result.platform}:{result.user_id}"
    reply = Reply().add(f"Blocked {who}." if result.newly else f"{who} was already blocked.")
    if result.dismissed:
        reply.add(" Dismissed their items " + ", ".join(f"#{i}" for i in result.dismissed) + ".")
    return reply


def stats(figures: Stats) -> Reply:
    reply = Reply().add(f"Last {len(figures.days)} days", "b")
    reply.add(f"\nChecks: {figures.checks}, answered {figures.answered} ")
    reply.add(f"({figures.match_rate:.0%}), asked {figures.asked}")
    for day, checks in figures.days:
        reply.add(f"\n{day.isoformat()}: {checks}")
    if figures.top:
        reply.add("\n\n").add("Top rumours", "b")
        for n, rumour in enumerate(figures.top, 1):
            reply.add(f"\n{n}. {rumour.entry_id} ({rumour.answers}): ")
            reply.add(short(rumour.claim, 120))
    reply.add("\n\n").add("Review queue", "b")
    reply.add(f": {figures.queue_items} open items ({figures.queue_posts} posts)")
    reply.add("\n").add("Feedback", "b").add(f": 👍 {figures.helpful} · 👎 {figures.not_this}")
    return reply


def followup(entry: EntryIn, lang: str) -> Reply:
    """What an asker receives once their queued post is answered."""
    header = pick(FOLLOWUP, lang)
    reply = Reply().add(header, "i").add("\n\n")
    budget = MESSAGE_LIMIT - reply.visible_length()
    reply.parts += render.rebuttal(entry, lang, limit=budget).parts
    return reply


def notice(text: str) -> Reply:
    return Reply().add(text)
