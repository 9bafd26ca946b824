"""Telegram replies are valid Telegram HTML, within the limits, whatever the KB and posts hold."""

from __future__ import annotations

import string

import pytest

from handlers.i18n import LANGS
from handlers.i18n_telegram import COMMANDS, STRINGS
from handlers.render_telegram import (
    Checked,
    answer,
    button_data,
    feedback_row,
    help_text,
    keyboard,
    read_button,
    without_report,
)
from kb.interchange import EntryIn
from kb.matcher import Decision, MatchResult
from kb.service import CheckOutcome
from tests.telegram_api import parse_html, utf16_len

HOSTILE = "<script>alert('x')</script> & <b>bold</b> &amp; <a href=\"javascript:x\"> 😀"


def entry(n: int, size: int = 1) -> EntryIn:
    return EntryIn.model_validate(
        {
            "id": f"evil-{n}",
            "claim": HOSTILE * size,
            "verdict": "misleading",
            "summary": (HOSTILE + " summary ") * size,
            "lang": "en",
            "sources": [{"url": f'https://example.org/{n}?a=1&b="2"<x>', "title": HOSTILE}] * 5,
        }
    )


def outcome(decision: Decision, item: EntryIn | None, report_id: int) -> CheckOutcome:
    entry_id = item.id if item else None
    result = MatchResult(decision, entry_id, 0.99 if item else 0.1)
    return CheckOutcome(result, item, "en", report_id)


def test_one_answer_is_a_rebuttal_with_feedback_buttons() -> None:
    reply = answer(
        [Checked(outcome(Decision.ANSWER, entry(1), 7), ("<Chan & co>", "https://t.me/c/1/2"))],
        "en",
    )

    visible, entities = parse_html(reply.html())
    assert visible.startswith("⚠️ Misleading\nClaim: <script>")
    assert "Forwarded from: <Chan & co>" in visible
    assert {"type": "text_link", "url": "https://t.me/c/1/2"} in [
        {k: e[k] for k in ("type", "url")} for e in entities if e["type"] == "text_link"
    ]
    assert reply.markup is not None
    assert [b.callback_data for b in reply.markup.inline_keyboard[0]] == ["fb:h:7", "fb:n:7"]


def test_an_unsure_match_asks_in_private_and_not_in_groups() -> None:
    unsure = [Checked(outcome(Decision.ASK, entry(1), 9))]

    private, group = answer(unsure, "de"), answer(unsure, "de", may_ask=False)

    assert private.reply.plain().startswith("Meinen Sie diese Behauptung?")
    assert private.markup is not None
    assert [b.callback_data for b in private.markup.inline_keyboard[0]] == ["ask:y:9", "ask:n:9"]
    assert group.reply.plain().startswith("Das haben wir noch nicht")
    assert group.markup is None


def test_a_batch_of_long_hostile_answers_fits_one_valid_message() -> None:
    batch = [Checked(outcome(Decision.ANSWER, entry(n, size=30), n)) for n in range(1, 11)]
    batch += [Checked(outcome(Decision.NONE, None, 99))] * 2

    reply = answer(batch, "ru")

    visible, _ = parse_html(reply.html())  # raises on anything Telegram would refuse
    assert utf16_len(visible) <= 4096
    assert visible.startswith("Проверено постов: 12")
    assert "Пока нет в нашей базе: 2." in visible
    assert "Ответы, которые не поместились в это сообщение:" in visible
    assert reply.markup is not None
    shown = visible.count("Утверждение: ")
    assert 1 <= shown < 10 and len(reply.markup.inline_keyboard) == shown


def test_a_batch_names_each_rumour_once() -> None:
    same = entry(1)
    batch = [Checked(outcome(Decision.ANSWER, same, n)) for n in (1, 2, 3)]

    reply = answer(batch, "en")

    assert reply.reply.plain().count("Claim: ") == 1
    assert reply.markup is not None
    assert [b.text for b in reply.markup.inline_keyboard[0]] == ["👍 Helpful", "👎 Not this"]


def test_buttons_carry_only_what_the_bot_made() -> None:
    assert read_button(button_data("fb:n", 123)) == ("fb:n", 123)
    assert len(button_data("ask:y", 10**18).encode()) <= 64  # Telegram's callback_data limit
    for forged in (None, "", "fb:x:1", "fb:h:", "fb:h:1; drop", "ask:y:-1"):
        assert read_button(forged) is None


def test_a_pressed_row_leaves_the_others() -> None:
    markup = keyboard([feedback_row(1, "en", 1), feedback_row(2, "en", 2)])

    left = without_report(markup, 1)

    assert left is not None
    assert [b.callback_data for b in left.inline_keyboard[0]] == ["fb:h:2", "fb:n:2"]
    assert without_report(left, 2) is None


def test_help_escapes_the_bot_name() -> None:
    visible, _ = parse_html(help_text("uk", "bot<&>").html())
    assert "@bot<&>" in visible


@pytest.mark.parametrize("table", [STRINGS, COMMANDS], ids=["strings", "commands"])
def test_every_interface_string_exists_in_every_language(table: dict[str, dict[str, str]]) -> None:
    for key, texts in table.items():
        assert set(LANGS) <= set(texts), key
        fields = {
            lang: {f for _, f, _, _ in string.Formatter().parse(t) if f}
            for lang, t in texts.items()
        }
        assert len({frozenset(f) for f in fields.values()}) == 1, key  # same placeholders
