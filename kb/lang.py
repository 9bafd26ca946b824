"""Which of our languages a text is in."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

SUPPORTED = ("en", "ru", "kk", "uk", "de")

_KAZAKH = re.compile(r"[әғқңөұүһӘҒҚҢӨҰҮҺ]")
_UKRAINIAN = re.compile(r"[їєґЇЄҐ]")
_CYRILLIC = re.compile(r"[а-яА-ЯёЁіІ]")
_LATIN = re.compile(r"[a-zA-ZäöüßÄÖÜ]")


@cache
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    # Low-accuracy mode uses trigram models only: 15 MB instead of 100 MB resident, and the
    # letters checked below already settle most Kazakh and Ukrainian posts.
    return (
        LanguageDetectorBuilder.from_languages(
            Language.ENGLISH,
            Language.RUSSIAN,
            Language.KAZAKH,
            Language.UKRAINIAN,
            Language.GERMAN,
        )
        .with_low_accuracy_mode()
        .build()
    )


_CODES = {"ENGLISH": "en", "RUSSIAN": "ru", "KAZAKH": "kk", "UKRAINIAN": "uk", "GERMAN": "de"}


def detect_language(text: str, default: str = "") -> str:
    """One of en, ru, kk, uk, de, or `default` when the text has too few letters to tell."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3:
        return default
    if letters < 12 and default:
        return default  # a word or two: the user's own language setting is the better guess
    # Letters only one language uses settle most Cyrillic posts without the model.
    if _KAZAKH.search(text) and len(_KAZAKH.findall(text)) >= 2:
        return "kk"
    if _UKRAINIAN.search(text):
        return "uk"
    if len(_CYRILLIC.findall(text)) > len(_LATIN.findall(text)):
        found = _detector().detect_language_of(text)
        code = _CODES.get(found.name) if found is not None else None
        return code if code in ("ru", "uk", "kk") else "ru"
    found = _detector().detect_language_of(text)
    code = _CODES.get(found.name) if found is not None else None
    return code if code in ("en", "de") else (default or "en")
