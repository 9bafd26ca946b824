"""Interface strings in our users' languages."""

from __future__ import annotations

LANGS = ("en", "ru", "kk", "uk", "de")

VERDICTS: dict[str, dict[str, str]] = {
    "false": {
        "en": "❌ False",
        "ru": "❌ Неправда",
        "kk": "❌ Жалған",
        "uk": "❌ Неправда",
        "de": "❌ Falsch",
    },
    "misleading": {
        "en": "⚠️ Misleading",
        "ru": "⚠️ Вводит в заблуждение",
        "kk": "⚠️ Адастырады",
        "uk": "⚠️ Вводить в оману",
        "de": "⚠️ Irreführend",
    },
    "unproven": {
        "en": "❔ Unproven",
        "ru": "❔ Не доказано",
        "kk": "❔ Дәлелденбеген",
        "uk": "❔ Не доведено",
        "de": "❔ Unbelegt",
    },
    "partly_true": {
        "en": "◐ Partly true",
        "ru": "◐ Отчасти правда",
        "kk": "◐ Ішінара рас",
        "uk": "◐ Частково правда",
        "de": "◐ Teilweise richtig",
    },
    "true": {
        "en": "✅ True",
        "ru": "✅ Правда",
        "kk": "✅ Рас",
        "uk": "✅ Правда",
        "de": "✅ Richtig",
    },
}

MESSAGES: dict[str, dict[str, str]] = {
    "claim": {
        "en": "Claim",
        "ru": "Утверждение",
        "kk": "Мәлімдеме",
        "uk": "Твердження",
        "de": "Behauptung",
    },
    "sources": {
        "en": "Sources",
        "ru": "Источники",
        "kk": "Дереккөздер",
        "uk": "Джерела",
        "de": "Quellen",
    },
    "forwarded_from": {
        "en": "Forwarded from",
        "ru": "Переслано из",
        "kk": "Қайдан жіберілді",
        "uk": "Переслано з",
        "de": "Weitergeleitet von",
    },
    "no_match": {
        "en": "We have not found this in our knowledge base yet. "
        "We have passed it to our fact-checkers and will tell you when it is checked.",
        "ru": "Мы пока не нашли этого в нашей базе. "
        "Мы передали сообщение фактчекерам и сообщим, когда оно будет проверено.",
        "kk": "Бұл хабар біздің базада әзірге жоқ. "
        "Біз оны фактчекерлерге жібердік, тексерілген соң хабарлаймыз.",
        "uk": "Ми поки не знайшли цього в нашій базі. "
        "Ми передали повідомлення фактчекерам і повідомимо, коли його перевірять.",
        "de": "Das haben wir noch nicht in unserer Wissensdatenbank. "
        "Wir haben es an unser Faktencheck-Team weitergegeben und melden uns, "
        "sobald es geprüft ist.",
    },
    "ask": {
        "en": "Is this the claim you mean?",
        "ru": "Вы имеете в виду это утверждение?",
        "kk": "Сіз осы мәлімдемені айтып тұрсыз ба?",
        "uk": "Ви маєте на увазі це твердження?",
        "de": "Meinen Sie diese Behauptung?",
    },
    "empty": {
        "en": "Send me the text of a post, or forward it here, and I will check it.",
        "ru": "Пришлите текст поста или перешлите его сюда, и я его проверю.",
        "kk": "Жазбаның мәтінін жіберіңіз немесе осында бағыттаңыз, мен оны тексеремін.",
        "uk": "Надішліть текст допису або перешліть його сюди, і я його перевірю.",
        "de": "Schicken Sie mir den Text eines Beitrags oder leiten Sie ihn weiter, "
        "dann prüfe ich ihn.",
    },
}


def pick(table: dict[str, str], lang: str) -> str:
    return table.get(lang) or table["en"]


def verdict_label(verdict: str, lang: str) -> str:
    return pick(VERDICTS.get(verdict, VERDICTS["unproven"]), lang)


def message(key: str, lang: str) -> str:
    return pick(MESSAGES[key], lang)
