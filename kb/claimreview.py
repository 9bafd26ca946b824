"""schema.org ClaimReview JSON-LD: what fact-checkers publish and Google Fact Check Tools serves."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from kb.errors import BadImportFile
from kb.interchange import EntryIn
from kb.models import Verdict

# Ratings are free text in the publisher's language; these stems cover the common ones.
_RATING_WORDS: list[tuple[Verdict, tuple[str, ...]]] = [
    (
        Verdict.PARTLY_TRUE,
        (
            "partly",
            "partially",
            "half",
            "mixture",
            "mostly",
            "teilweise",
            "частично",
            "частково",
            "ішінара",
            "напівправда",
            "полуправда",
        ),
    ),
    (
        Verdict.MISLEADING,
        (
            "mislead",
            "manipul",
            "out of context",
            "missing context",
            "irreführ",
            "irrefuhr",
            "fehlender kontext",
            "вводящ",
            "манипул",
            "маніпул",
            "перекруч",
            "контекст",
            "жаңылыс",
            "адастыр",
        ),
    ),
    (
        Verdict.UNPROVEN,
        (
            "unproven",
            "unverified",
            "unsupported",
            "no evidence",
            "unbelegt",
            "unbewiesen",
            "не доказ",
            "не підтвердж",
            "недоказ",
            "бездоказ",
            "дәлелденбеген",
            "расталмаған",
        ),
    ),
    (
        Verdict.FALSE,
        (
            "false",
            "fake",
            "pants on fire",
            "incorrect",
            "wrong",
            "hoax",
            "scam",
            "falsch",
            "frei erfunden",
            "неправда",
            "фейк",
            "ложь",
            "ложн",
            "неверн",
            "брехня",
            "хибн",
            "неправдив",
            "жалған",
            "өтірік",
            "шындыққа жанаспайды",
        ),
    ),
    (
        Verdict.TRUE,
        (
            "true",
            "correct",
            "accurate",
            "richtig",
            "wahr",
            "правда",
            "верно",
            "достовер",
            "шындық",
            "рас",
        ),
    ),
]

_VERDICT_SCORE = {
    Verdict.FALSE: 1,
    Verdict.MISLEADING: 2,
    Verdict.UNPROVEN: 3,
    Verdict.PARTLY_TRUE: 4,
    Verdict.TRUE: 5,
}


def is_claimreview(text: str) -> bool:
    """True when a file looks like ClaimReview JSON-LD rather than our own format."""
    head = text.lstrip()[:1]
    return head in "[{" and ('"ClaimReview"' in text or '"claimReview"' in text)


def verdict_from_rating(rating: dict[str, Any]) -> Verdict | None:
    """Map a reviewRating (textual first, then the numeric scale) to our verdicts."""
    label = str(rating.get("alternateName") or rating.get("textualRating") or "").lower()
    for verdict, words in _RATING_WORDS:
        if any(w in label for w in words):
            return verdict
    try:
        value = float(rating["ratingValue"])
        best = float(rating.get("bestRating", 5))
        worst = float(rating.get("worstRating", 1))
    except (KeyError, TypeError, ValueError):
        return None
    if best == worst:
        return None
    share = (value - worst) / (best - worst)
    steps = [Verdict.FALSE, Verdict.MISLEADING, Verdict.UNPROVEN, Verdict.PARTLY_TRUE, Verdict.TRUE]
    return steps[min(4, max(0, round(share * 4)))]


def _reviews(data: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Yield (review, google_claim) pairs from JSON-LD or a Fact Check Tools response."""
    if isinstance(data, list):
        for item in data:
            yield from _reviews(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _reviews(data["@graph"])
        elif isinstance(data.get("claims"), list):
            for claim in data["claims"]:
                for review in claim.get("claimReview", []):
                    yield review, claim
        elif data.get("@type") == "ClaimReview" or "ClaimReview" in (data.get("@type") or []):
            yield data, None


def _name(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("site") or "")
    if isinstance(value, list) and value:
        return _name(value[0])
    return str(value or "")


def _slug(review: dict[str, Any], claim: str) -> str:
    if review.get("identifier"):
        return str(review["identifier"])
    url = str(review.get("url") or "")
    tail = re.sub(r"[^a-z0-9]+", "-", url.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")[:60]
    digest = hashlib.sha1((url or claim).encode(), usedforsecurity=False).hexdigest()[:8]
    return f"cr-{tail}-{digest}" if tail else f"cr-{digest}"


def _entry_from(review: dict[str, Any], claim: dict[str, Any] | None, where: str) -> dict[str, Any]:
    item = review.get("itemReviewed") or {}
    text = str(review.get("claimReviewed") or (claim or {}).get("text") or "").strip()
    rating = review.get("reviewRating") or {}
    if claim is not None and not rating:
        rating = {"alternateName": review.get("textualRating", "")}
    verdict = verdict_from_rating(rating)
    if verdict is None:
        label = rating.get("alternateName") or rating.get("ratingValue")
        raise BadImportFile(f"{where}, field 'reviewRating': cannot read the rating {label!r}")
    publisher = _name(review.get("author") or review.get("publisher"))
    sources = []
    if review.get("url"):
        sources.append(
            {
                "url": review["url"],
                "title": str(
                    review.get("name") or review.get("headline") or review.get("title") or ""
                ),
                "publisher": publisher,
                "date": str(review.get("datePublished") or review.get("reviewDate") or "")[:10],
            }
        )
    for cite in review.get("citation") or []:
        if isinstance(cite, dict) and cite.get("url"):
            sources.append(
                {
                    "url": cite["url"],
                    "title": str(cite.get("name") or ""),
                    "publisher": _name(cite.get("publisher")),
                    "date": str(cite.get("datePublished") or "")[:10],
                }
            )
    appearances = [
        a["url"] if isinstance(a, dict) else str(a)
        for key in ("appearance", "firstAppearance")
        for a in _as_list(item.get(key) if isinstance(item, dict) else None)
        if (isinstance(a, dict) and a.get("url")) or isinstance(a, str)
    ]
    summary = str(review.get("reviewBody") or review.get("description") or "").strip()
    if not summary:
        label = rating.get("alternateName") or verdict.value
        summary = f"{publisher or 'A fact-checker'} rated this claim: {label}."
    lang = str(review.get("inLanguage") or review.get("languageCode") or "")
    if not lang:
        from kb.lang import detect_language

        lang = detect_language(text, default="en")
    variants = _as_list(item.get("alternateName")) if isinstance(item, dict) else []
    return {
        "id": _slug(review, text),
        "claim": text,
        "variants": [str(v) for v in variants],
        "verdict": verdict.value,
        "summary": summary,
        "lang": lang.split("-")[0].lower(),
        "sources": sources,
        "appearances": list(dict.fromkeys(appearances)),
        "tags": [str(t) for t in _as_list(review.get("keywords"))],
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_claimreview(text: str, name: str = "input") -> list[EntryIn]:
    """Entries from ClaimReview JSON-LD; reviews sharing an identifier become translations."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadImportFile(f"{name} line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    merged: dict[str, dict[str, Any]] = {}
    for index, (review, claim) in enumerate(_reviews(data)):
        where = f"{name}: ClaimReview #{index + 1}"
        raw = _entry_from(review, claim, where)
        first = merged.get(raw["id"])
        if first is None:
            merged[raw["id"]] = raw
        elif raw["lang"] != first["lang"]:
            first.setdefault("translations", {})[raw["lang"]] = {
                "claim": raw["claim"],
                "summary": raw["summary"],
            }
    if not merged:
        raise BadImportFile(f"{name}: no ClaimReview objects found")
    entries = []
    for index, raw in enumerate(merged.values()):
        try:
            entries.append(EntryIn.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise BadImportFile(
                f"{name}: ClaimReview #{index + 1} ({raw['id']!r}), field {field!r}: {err['msg']}"
            ) from exc
    return entries


def _review(entry: EntryIn, claim: str, summary: str, lang: str) -> dict[str, Any]:
    first = entry.sources[0] if entry.sources else None
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "identifier": entry.id,
        "claimReviewed": claim,
        "reviewBody": summary,
        "inLanguage": lang,
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": _VERDICT_SCORE[entry.verdict],
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": entry.verdict.value.replace("_", " "),
        },
        "itemReviewed": {
            "@type": "Claim",
            "appearance": [{"@type": "CreativeWork", "url": u} for u in entry.appearances],
            "alternateName": entry.variants,
        },
    }
    if entry.tags:
        review["keywords"] = entry.tags
    if first is not None:
        review["url"] = first.url
        review["name"] = first.title
        review["author"] = {"@type": "Organization", "name": first.publisher}
        if first.date:
            review["datePublished"] = first.date
        review["citation"] = [
            {
                "@type": "CreativeWork",
                "url": s.url,
                "name": s.title,
                "publisher": {"@type": "Organization", "name": s.publisher},
                **({"datePublished": s.date} if s.date else {}),
            }
            for s in entry.sources[1:]
        ]
    return review


def dump_claimreview(entries: Sequence[EntryIn]) -> str:
    """One ClaimReview per entry and per translation, linked by `identifier`."""
    reviews = []
    for entry in entries:
        reviews.append(_review(entry, entry.claim, entry.summary, entry.lang))
        for lang, tr in entry.translations.items():
            reviews.append(_review(entry, tr.claim, tr.summary, lang))
    return json.dumps(reviews, ensure_ascii=False, indent=2) + "\n"
