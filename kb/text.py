"""Cleaning social-media posts before matching: links, emoji, hashtags, footers, sentences."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

URL_RE = re.compile(r"(?:https?://|www\.|t\.me/)[^\s<>\"'«»]+", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<!\w)@\w{2,}")
HASHTAG_RE = re.compile(r"#(\w+)")
WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
REPEAT_RE = re.compile(r"([!?.])\1+")
# Where an emoji stood: a clause boundary ("…rein 😡 teilt das") until footers are dropped.
EMOJI_MARK = "\ue000"
CLAUSE_RE = re.compile(rf"\s*[,;:]\s+|\s+[—–-]\s+|\s*{EMOJI_MARK}[\s{EMOJI_MARK}]*")

# Chain-letter footers carry no claim but share words across unrelated hoaxes.
FOOTER_RE = re.compile(
    r"("
    r"forward (this )?to (everyone|all)|share (this )?(with|to) (everyone|all|your)|"
    r"please share|repost|spread the word|before (it|they) (get|gets) deleted|"
    r"перешли(те)? (всем|это)|разошли(те)? (всем|это)|поделитесь|распространите|репост|"
    r"пока не удалили|не молчите|пересылаю как (получил|получила|есть)|"
    r"перешліть|поширте|поширюйте|розішліть|поки не видалили|"
    r"барлығына (жіберіңіз|жіберіңдер|таратыңыз)|таратыңыз|бөлісіңіз|өшіріп тастағанша|"
    r"weiterleiten|teilt (das|es|diese)|bitte teilen|an alle weiter|bevor (es|das) gelöscht"
    r")",
    re.IGNORECASE,
)
# Words that debunk rather than spread: "this is fake", "the ministry denied". A post that uses
# them usually states the official version, not the rumour.
DENIAL_RE = re.compile(
    r"\b("
    r"fake|hoax|debunk\w*|false claim|not true|denied|deni(es|al)|fact.?check\w*|"
    r"фейк\w*|неправда|ложь|опроверг\w*|спростув\w*|не соответству\w*|не відповіда\w*|"
    r"дезинформаци\w*|дезінформаці\w*|жалған|жоққа шығар\w*|шындыққа жанаспайды|"
    r"falschmeldung\w*|falsch|dementi\w*|stimmt nicht|faktencheck\w*|"
    r"official\w*|официальн\w*|офіційн\w*|ресми|offiziell\w*"
    r")\b",
    re.IGNORECASE,
)
NUMBER_RE = re.compile(r"\d{1,3}(?:[ .,\u00a0\u202f]\d{3})+(?!\d)|\d+")
TRACKING_PARAMS = re.compile(r"^(utm_|fbclid|gclid|igshid|si$|s$|t$|ref$|ref_src)")


@dataclass(frozen=True, slots=True)
class CleanPost:
    """A post reduced to what the matcher compares."""

    text: str
    sentences: tuple[str, ...]
    urls: tuple[str, ...]
    words: tuple[str, ...]


def url_key(url: str) -> str:
    """A link without scheme, `www.`, tracking parameters or trailing slash, for exact matching."""
    raw = url.strip().rstrip(".,;:!?)»")
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    host = parts.netloc.lower().removeprefix("www.").removeprefix("mobile.")
    if host in ("twitter.com", "x.com", "fxtwitter.com", "vxtwitter.com"):
        host = "x.com"
    path = parts.path.rstrip("/")
    if host == "t.me" and path.startswith("/s/"):
        path = path[2:]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not TRACKING_PARAMS.match(k)])
    return f"{host}{path}" + (f"?{query}" if query else "")


def _strip_symbols(text: str) -> str:
    return "".join(_symbol_free(ch) for ch in text)


def _symbol_free(ch: str) -> str:
    # Emoji and pictographs are category So/Sk/Cs/Co; keep letters, digits, punctuation.
    # Each leaves a mark that _drop_footer reads as a clause boundary. The joiners and
    # variation selectors inside emoji sequences (Cf, U+FE0F) go without a trace, or "‼️"
    # leaves a stray mark behind.
    category = unicodedata.category(ch)
    if category in ("So", "Sk", "Cs", "Co", "Cn"):
        return f" {EMOJI_MARK} "
    if category == "Cf" or "\ufe00" <= ch <= "\ufe0f":
        return ""
    return ch


SHOUTED_RE = re.compile(r"\b[^\W\d_]{5,}\b")


def _decaps(sentence: str) -> str:
    """Shouting to ordinary case: e5 splits a word in capitals into many rare pieces.

    Words of four letters or fewer stay as they are: they are mostly acronyms (NATO, ЕНПФ).
    """
    letters = [c for c in sentence if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        return sentence.lower().capitalize()
    quieter = SHOUTED_RE.sub(
        lambda m: m.group(0).lower() if m.group(0).isupper() else m.group(0), sentence
    )
    return quieter[:1].upper() + quieter[1:] if sentence[:1].isupper() else quieter


def _drop_footer(sentence: str) -> str | None:
    """The sentence without its chain-letter footer; None when nothing else is left.

    Footers are short clauses ("…, send this to everyone"), so a short clause with one goes
    and the rest of the sentence stays.
    """
    if not FOOTER_RE.search(sentence):
        return sentence
    clauses = [c.strip() for c in CLAUSE_RE.split(sentence) if c.strip()]
    short = 14 if len(clauses) == 1 else 8
    kept = [c for c in clauses if not (FOOTER_RE.search(c) and len(WORD_RE.findall(c)) <= short)]
    return ", ".join(kept) if kept else None


def clean_post(text: str) -> CleanPost:
    """Normalise a post: links out, emoji out, hashtags to words, footers and CAPS tamed."""
    text = unicodedata.normalize("NFKC", text or "")
    urls = tuple(m.group(0) for m in URL_RE.finditer(text))
    body = URL_RE.sub(" ", text)
    body = MENTION_RE.sub(" ", body)
    body = HASHTAG_RE.sub(lambda m: m.group(1).replace("_", " "), body)
    body = _strip_symbols(body)
    body = REPEAT_RE.sub(r"\1", body)
    sentences = []
    for raw in SENTENCE_END.split(body):
        sentence = " ".join(raw.split())
        if not sentence or not WORD_RE.search(sentence):
            continue
        kept = _drop_footer(sentence)
        if kept is None or not WORD_RE.search(kept):
            continue
        sentences.append(_decaps(" ".join(kept.replace(EMOJI_MARK, " ").split())))
    joined = " ".join(sentences)
    words = tuple(w.lower() for w in WORD_RE.findall(joined))
    return CleanPost(text=joined, sentences=tuple(sentences), urls=urls, words=words)


def numbers_in(text: str) -> frozenset[str]:
    """Numbers as written, without thousands separators: "50 000" and "50,000" are one."""
    return frozenset(re.sub(r"\D", "", m).lstrip("0") or "0" for m in NUMBER_RE.findall(text))
