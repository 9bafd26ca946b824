"""Replies are escaped, localised and never longer than Telegram accepts."""

from __future__ import annotations

from html.parser import HTMLParser

from handlers import render
from kb.interchange import EntryIn

HOSTILE = "<script>alert('x')</script> & <b>bold</b> &amp; <a href=\"javascript:x\">"


def hostile_entry(size: int = 1) -> EntryIn:
    return EntryIn.model_validate(
        {
            "id": "evil",
            "claim": HOSTILE * size,
            "verdict": "false",
            "summary": (HOSTILE + " summary ") * size,
            "lang": "en",
            "translations": {
                "ru": {"claim": "Утверждение " + HOSTILE, "summary": "Итог " + HOSTILE}
            },
            "sources": [
                {
                    "url": 'https://example.org/?a=1&b="2"<x>',
                    "title": HOSTILE,
                    "publisher": "<Pub & Co>",
                    "date": "2024-01-01",
                }
            ]
            * 3,
        }
    )


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text += data


def test_every_field_is_escaped() -> None:
    html = render.rebuttal(hostile_entry(), "en").html()
    parsed = TagCollector()
    parsed.feed(html)
    assert set(parsed.tags) <= {"b", "i", "a"}
    assert "script" not in parsed.tags
    assert parsed.hrefs == ['https://example.org/?a=1&b="2"<x>'] * 3
    assert HOSTILE in parsed.text


def test_plain_text_shows_links() -> None:
    plain = render.rebuttal(hostile_entry(), "en").plain()
    assert "https://example.org/?a=1" in plain and "❌ False" in plain


def test_translation_is_used_for_the_readers_language() -> None:
    html = render.rebuttal(hostile_entry(), "ru").html()
    assert "Утверждение &lt;script&gt;" in html and "Источники" in html
    assert "Behauptung" in render.rebuttal(hostile_entry(), "de").html()  # no de text: en body


def test_long_entries_are_cut_to_the_limit() -> None:
    reply = render.rebuttal(hostile_entry(size=200), "en")
    assert reply.visible_length() <= render.MESSAGE_LIMIT
    caption = render.rebuttal(hostile_entry(size=200), "en", limit=render.CAPTION_LIMIT)
    assert caption.visible_length() <= render.CAPTION_LIMIT
    assert "https://example.org" in caption.html()


def test_forward_origin_is_linked() -> None:
    html = render.rebuttal(
        hostile_entry(), "en", origin=("News <24>", "https://t.me/news/5")
    ).html()
    assert 'Forwarded from: <a href="https://t.me/news/5">News &lt;24&gt;</a>' in html
