"""Telegram replies: rebuttals with feedback buttons, questions, combined answers to batches.

Built on handlers/render.py, so every piece of user and KB text is escaped there, and every
reply here stays within Telegram's 4,096 characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import render
from handlers.i18n_telegram import text
from handlers.render import MESSAGE_LIMIT, Reply
from kb.chats import ChatSettings
from kb.interchange import EntryIn
from kb.matcher import Decision
from kb.service import CheckOutcome

HELPFUL, NOT_THIS, YES, NO = "fb:h", "fb:n", "ask:y", "ask:n"
FEEDBACK_BUTTONS = r"^fb:[hn]:\d+$"  # CallbackQueryHandler patterns
ASK_BUTTONS = r"^ask:[yn]:\d+$"
_BUTTON = re.compile(r"^(fb:[hn]|ask:[yn]):(\d+)$")
MIN_SECTION = 700  # a rebuttal shorter than this loses its summary; answer fewer instead
SEPARATOR = "\n\n"


def button_data(action: str, report_id: int) -> str:
    return f"{action}:{report_id}"


def read_button(data: str | None) -> tuple[str, int] | None:
    """(action, report id) of a button this bot made, else None."""
    found = _BUTTON.match(data or "")
    return (found.group(1), int(found.group(2))) if found else None


def _label(key: str, lang: str, number: int | None) -> str:
    return f"{number} · {text(key, lang)}" if number is not None else text(key, lang)


def feedback_row(
    report_id: int, lang: str, number: int | None = None
) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            _label("helpful", lang, number), callback_data=button_data(HELPFUL, report_id)
        ),
        InlineKeyboardButton(
            _label("not_this", lang, number), callback_data=button_data(NOT_THIS, report_id)
        ),
    ]


def ask_row(report_id: int, lang: str, number: int | None = None) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            _label("yes", lang, number), callback_data=button_data(YES, report_id)
        ),
        InlineKeyboardButton(_label("no", lang, number), callback_data=button_data(NO, report_id)),
    ]


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup(rows) if rows else None


def without_report(
    markup: InlineKeyboardMarkup | None, report_id: int
) -> InlineKeyboardMarkup | None:
    """The keyboard minus the row of buttons about `report_id` (answered buttons go away)."""
    if markup is None:
        return None
    rows = [
        row
        for row in markup.inline_keyboard
        if not any(
            (found := read_button(str(b.callback_data))) and found[1] == report_id for b in row
        )
    ]
    return keyboard(rows)


@dataclass(frozen=True)
class Checked:
    """A post the KB checked, and the channel it was forwarded from."""

    outcome: CheckOutcome
    origin: tuple[str, str] | None = None


@dataclass(frozen=True)
class Answer:
    reply: Reply
    markup: InlineKeyboardMarkup | None = None

    def html(self) -> str:
        return self.reply.html()


def _section(
    kind: str, entry: EntryIn, lang: str, origin: tuple[str, str] | None, limit: int
) -> Reply:
    if kind == "ask":
        return render.ask(entry, lang)
    return render.rebuttal(entry, lang, origin=origin, limit=limit)


def _report_id(outcome: CheckOutcome) -> int:
    if outcome.report_id is None:
        raise ValueError("buttons need the report the post was recorded as")
    return outcome.report_id


def answer(checked: Sequence[Checked], lang: str, *, may_ask: bool = True) -> Answer:
    """The reply to one post, or one combined reply to a batch of posts.

    `may_ask=False` (groups, channels): an unsure match is answered like no match at all.
    """
    sections: list[tuple[str, EntryIn, int, tuple[str, str] | None]] = []
    seen: set[str] = set()
    unmatched = 0
    for item in checked:
        outcome, entry = item.outcome, item.outcome.entry
        decision = outcome.result.decision
        if entry is None or decision is Decision.NONE or (decision is Decision.ASK and not may_ask):
            unmatched += 1
        elif entry.id not in seen:
            seen.add(entry.id)
            kind = "answer" if decision is Decision.ANSWER else "ask"
            sections.append((kind, entry, _report_id(outcome), item.origin))
    if len(checked) == 1:
        if not sections:
            return Answer(render.no_match(lang))
        kind, entry, report_id, origin = sections[0]
        row = feedback_row(report_id, lang) if kind == "answer" else ask_row(report_id, lang)
        return Answer(_section(kind, entry, lang, origin, MESSAGE_LIMIT), keyboard([row]))
    return _combined(len(checked), sections, unmatched, lang)


def _combined(
    posts: int,
    sections: list[tuple[str, EntryIn, int, tuple[str, str] | None]],
    unmatched: int,
    lang: str,
) -> Answer:
    fit = len(sections)
    while True:
        reply = Reply().add(text("batch_header", lang, n=posts), "b")
        rows = []
        budget = MESSAGE_LIMIT - 400 * (1 + (unmatched > 0) + (fit < len(sections)))
        per = budget // max(fit, 1) - 10
        for number, (kind, entry, report_id, origin) in enumerate(sections[:fit], 1):
            label = number if len(sections) > 1 else None
            reply.add(SEPARATOR)
            if label is not None:
                reply.add(f"{number}. ", "b")
            reply.parts += _section(kind, entry, lang, origin, per).parts
            make = feedback_row if kind == "answer" else ask_row
            rows.append(make(report_id, lang, label))
        if unmatched:
            reply.add(SEPARATOR).add(text("batch_unmatched", lang, n=unmatched))
        if fit < len(sections):
            reply.add(SEPARATOR).add(text("batch_more", lang, n=len(sections) - fit), "i")
        if reply.visible_length() <= MESSAGE_LIMIT or fit == 0:
            return Answer(reply, keyboard(rows))
        fit = min(fit - 1, max(0, MESSAGE_LIMIT // MIN_SECTION - 1))


def help_text(lang: str, bot_username: str) -> Reply:
    bot = f"@{bot_username}" if bot_username else "the bot"
    return Reply().add(text("start", lang), "b").add("\n\n").add(text("help", lang, bot=bot))


def about(lang: str, published: int, updated: datetime | None) -> Reply:
    date = updated.date().isoformat() if updated else text("never", lang)
    return Reply().add(text("about", lang, count=published, date=date))


def notice(key: str, lang: str, **values: object) -> Reply:
    """A one-line interface message."""
    return Reply().add(text(key, lang, **values))


def autoreply_status(settings: ChatSettings, default_threshold: float, lang: str) -> Reply:
    state = text("on" if settings.autoreply else "off", lang)
    threshold = settings.threshold or default_threshold
    return notice("autoreply_status", lang, state=state, threshold=threshold)
