"""Replies as Telegram HTML and as plain text, from one layout, escaped and within limits."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from handlers.i18n import message, verdict_label
from kb.interchange import EntryIn

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


@dataclass
class Reply:
    """Segments of a reply; each knows how to show itself in HTML and in plain text."""

    parts: list[tuple[str, str, str]] = field(default_factory=list)  # (style, text, href)

    def add(self, text: str, style: str = "", href: str = "") -> Reply:
        self.parts.append((style, text, href))
        return self

    def html(self) -> str:
        out = []
        for style, text, href in self.parts:
            body = html.escape(text, quote=False)
            if style == "a":
                out.append(f'<a href="{html.escape(href, quote=True)}">{body}</a>')
            elif style in ("b", "i"):
                out.append(f"<{style}>{body}</{style}>")
            else:
                out.append(body)
        return "".join(out)

    def plain(self) -> str:
        return "".join(
            f"{text} <{href}>" if style == "a" and text != href else text
            for style, text, href in self.parts
        )

    def visible_length(self) -> int:
        # Telegram counts UTF-16 code units of the text after entities are parsed.
        return sum(len(text.encode("utf-16-le")) // 2 for _, text, _ in self.parts)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)].rsplit(" ", 1)[0]
    return cut + "…"


def localized(entry: EntryIn, lang: str) -> tuple[str, str]:
    """The entry's claim and summary in the reader's language when the KB has them."""
    if lang != entry.lang and lang in entry.translations:
        tr = entry.translations[lang]
        return tr.claim, tr.summary
    return entry.claim, entry.summary


def rebuttal(
    entry: EntryIn,
    lang: str,
    *,
    origin: tuple[str, str] | None = None,
    limit: int = MESSAGE_LIMIT,
) -> Reply:
    """Verdict, claim, summary and sources; `origin` is (channel title, link) of a forward."""
    claim, summary = localized(entry, lang)

    def build(claim: str, summary: str, sources: int) -> Reply:
        reply = Reply().add(verdict_label(entry.verdict.value, lang), "b").add("\n")
        reply.add(message("claim", lang) + ": ", "i").add(claim).add("\n\n").add(summary)
        if origin is not None:
            title, link = origin
            reply.add("\n\n" + message("forwarded_from", lang) + ": ")
            reply.add(title or link, "a", link) if link else reply.add(title)
        if entry.sources[:sources]:
            reply.add("\n\n").add(message("sources", lang) + ":", "b")
            for source in entry.sources[:sources]:
                reply.add("\n• ").add(
                    source.title or source.publisher or source.url, "a", source.url
                )
                detail = ", ".join(x for x in (source.publisher, source.date) if x)
                if detail and source.title:
                    reply.add(f" ({detail})")
        return reply

    sources = min(len(entry.sources), 5)
    reply = build(claim, summary, sources)
    # Shrink the longest free text first, then drop sources beyond the first.
    for claim_limit, summary_limit, keep in ((300, 1500, sources), (200, 600, 1), (120, 250, 1)):
        if reply.visible_length() <= limit:
            break
        reply = build(_shorten(claim, claim_limit), _shorten(summary, summary_limit), keep)
    return reply


def no_match(lang: str) -> Reply:
    return Reply().add(message("no_match", lang))


def ask(entry: EntryIn, lang: str) -> Reply:
    claim, _ = localized(entry, lang)
    return Reply().add(message("ask", lang), "b").add("\n\n").add(_shorten(claim, 600))
