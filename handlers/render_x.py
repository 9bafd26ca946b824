"""Replies on X: plain text that fits X's 280 weighted characters, where a link counts as 23."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

from handlers.i18n import pick, verdict_label
from handlers.render import localized
from kb.interchange import EntryIn, SourceIn

POST_LIMIT = 280
URL_WEIGHT = 23
NAME_LIMIT = 100  # a source named instead of linked must leave room for the summary
ELLIPSIS = "…"

# twitter-text v3 weighting: code points in these ranges weigh 1 (Latin, Cyrillic, most
# scripts, general punctuation); everything else (CJK, emoji, "…") weighs 2.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# X turns "Zakon.kz" into a link and "@name" into a mention anywhere in a post. In KB prose
# neither is wanted: a stray link weighs 23 and, under pay-per-use pricing, makes the reply a
# (dearer) post with a URL; a stray mention notifies a stranger. A one-dot leader looks like a
# full stop but is not part of any domain.
_DOMAIN_DOT = re.compile(r"(?<=[\w-])\.(?=[^\W\d_]{2,})")
_AT_SIGN = re.compile(r"[@＠](?=\w)")

SOURCE: dict[str, str] = {
    "en": "Source",
    "ru": "Источник",
    "kk": "Дереккөз",
    "uk": "Джерело",
    "de": "Quelle",
}
NOT_IN_KB: dict[str, str] = {
    "en": "This is not in our knowledge base yet. We have passed it to our fact-checkers.",
    "ru": "Этого пока нет в нашей базе. Мы передали пост фактчекерам.",
    "kk": "Бұл біздің базада әзірге жоқ. Жазбаны фактчекерлерге жібердік.",
    "uk": "Цього поки немає в нашій базі. Ми передали допис фактчекерам.",
    "de": "Das steht noch nicht in unserer Datenbank. Wir haben es an unser Faktencheck-Team "
    "weitergegeben.",
}


def _char_weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2


def weighted_length(text: str) -> int:
    """The length X checks against 280: every link 23, CJK and emoji 2, other characters 1."""
    text = unicodedata.normalize("NFC", text)
    links = len(_URL.findall(text))
    return URL_WEIGHT * links + sum(_char_weight(ch) for ch in _URL.sub("", text))


def defuse(text: str) -> str:
    """KB prose as X shows it without inventing links or mentions."""
    return _AT_SIGN.sub("", _DOMAIN_DOT.sub("\u2024", text))


def shorten(text: str, budget: int) -> str:
    """Cut `text` at a word boundary so that it, plus an ellipsis, weighs at most `budget`."""
    if weighted_length(text) <= budget:
        return text
    room = budget - _char_weight(ELLIPSIS)
    used, cut = 0, text
    for end, ch in enumerate(text):
        used += _char_weight(ch)
        if used > room:
            cut = text[:end]
            break
    # Keep a whole last word unless that would throw away most of the text.
    if " " in cut and cut.rfind(" ") > len(cut) // 2:
        cut = cut[: cut.rfind(" ")]
    cut = cut.rstrip(" ,;:-–—([\n")
    return cut + ELLIPSIS if cut else ""


def _link(url: str) -> str:
    # twitter-text ends a link at the first character that may not appear in a URL; percent
    # encoding keeps a non-ASCII path inside the one link that weighs 23.
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


def _name(source: SourceIn) -> str:
    publisher, title = source.publisher.strip(), source.title.strip()
    if publisher and title:
        name = f"{publisher}: «{title}»"
    else:
        name = publisher or title or (urlsplit(source.url).hostname or "")
    return shorten(defuse(name), NAME_LIMIT)


def rebuttal(entry: EntryIn, lang: str, *, links: bool = True) -> str:
    """Verdict, the summary cut to fit, and the first source: linked, or named if not `links`."""
    _, summary = localized(entry, lang)
    head = verdict_label(entry.verdict.value, lang)
    tail = ""
    if entry.sources:
        first = entry.sources[0]
        tail = f"\n{pick(SOURCE, lang)}: " + (_link(first.url) if links else _name(first))
    summary = defuse(" ".join(summary.split()))
    budget = POST_LIMIT - weighted_length(f"{head}\n{tail}")
    text = f"{head}\n{shorten(summary, budget)}{tail}"
    # Defused prose can still hold text that the simple URL rule above counts as a link;
    # shrink until the whole post fits rather than trust the budget.
    while weighted_length(text) > POST_LIMIT and budget > 0:
        budget -= weighted_length(text) - POST_LIMIT
        text = f"{head}\n{shorten(summary, budget)}{tail}"
    return text


def not_in_kb(lang: str) -> str:
    """The short answer when the KB has no confident match; the post went to the moderators."""
    return pick(NOT_IN_KB, lang)
