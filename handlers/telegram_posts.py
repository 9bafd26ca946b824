"""What the bot checks in a Telegram message: its words, links, media and where it came from."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from telegram import Message, MessageEntity, MessageOriginChannel, User

from handlers.i18n import LANGS

_WORD = re.compile(r"[^\W_]+")
MIN_WORDS = 3  # fewer words with no link or media is a greeting, not a post to check


@dataclass(frozen=True)
class Post:
    """One post to check, as the knowledge base needs it."""

    text: str
    chat_id: int
    message_id: int
    user_id: int | None
    urls: tuple[str, ...] = ()  # links in the post and to the channel post it forwards
    media: tuple[str, ...] = ()  # Telegram file_unique_ids of attached photos and videos
    link: str = ""  # the message's own t.me link (public groups): moderators may list it
    origin: tuple[str, str] | None = None  # (channel title, link to the original post)
    lang_hint: str = ""  # the sender's Telegram language, when it is one of ours
    album: str | None = None  # media_group_id: the photos of one album are one post
    forwarded: bool = False

    @property
    def url(self) -> str:
        return self.origin[1] if self.origin else ""

    @property
    def match_urls(self) -> tuple[str, ...]:
        """Every link an entry's appearances may name for this post."""
        return (*self.urls, self.link) if self.link else self.urls

    @property
    def worth_checking(self) -> bool:
        """Enough words to state a claim, or a link or media that may match exactly."""
        return bool(self.urls or self.media) or len(_WORD.findall(self.text)) >= MIN_WORDS


def user_language(user: User | None) -> str:
    """The user's Telegram interface language if it is one of ours, else ""."""
    code = (user.language_code or "") if user else ""
    code = code.split("-")[0].lower()
    return code if code in LANGS else ""


def channel_origin(message: Message) -> tuple[str, str] | None:
    """(title, link) of the channel post this message forwards, if it forwards one."""
    origin = message.forward_origin
    if not isinstance(origin, MessageOriginChannel):
        return None
    chat = origin.chat
    # Private channels have no username; their t.me/c/ links open for members only.
    where = chat.username or f"c/{str(chat.id).removeprefix('-100')}"
    return chat.title or chat.username or "", f"https://t.me/{where}/{origin.message_id}"


def _links(message: Message) -> list[str]:
    kinds: list[str | None] = [MessageEntity.URL, MessageEntity.TEXT_LINK]
    found = message.parse_entities(kinds) | message.parse_caption_entities(kinds)
    return [
        e.url if e.type == MessageEntity.TEXT_LINK and e.url else text for e, text in found.items()
    ]


def media_ids(message: Message) -> list[str]:
    # Every size of a photo has its own file_unique_id; moderators may have attached any.
    ids = [size.file_unique_id for size in message.photo]
    for item in (message.video, message.animation, message.video_note):
        if item is not None:
            ids.append(item.file_unique_id)
    return ids


def _without_bot(text: str, username: str) -> str:
    """The words of a group message addressed to the bot, without the @mention or /command."""
    if username:
        text = re.sub(rf"(?i)@{re.escape(username)}\b", " ", text)
    text = re.sub(r"^\s*/\w+(@\w+)?", " ", text)
    return " ".join(text.split())


def read_post(message: Message, *, bot_username: str = "", asker: User | None = None) -> Post:
    """The post in `message`; `bot_username` strips the bot's mention from a request's words.

    `asker` is who asked (it differs from the author when someone asks about a message in a
    group); the reply's language hint comes from the asker.
    """
    text = message.text or message.caption or ""
    if bot_username:
        text = _without_bot(text, bot_username)
    origin = channel_origin(message)
    links = [*_links(message)]
    if origin is not None:
        links.append(origin[1])
    who = asker or message.from_user
    return Post(
        text=text,
        chat_id=message.chat_id,
        message_id=message.message_id,
        user_id=who.id if who else None,
        urls=tuple(dict.fromkeys(links)),
        media=tuple(media_ids(message)),
        link=message.link or "",
        origin=origin,
        lang_hint=user_language(who),
        album=message.media_group_id,
        forwarded=message.forward_origin is not None,
    )


def merge_albums(posts: Sequence[Post]) -> list[Post]:
    """One post per album (its caption and all its media), other posts as they are."""
    merged: list[Post] = []
    albums: dict[str, int] = {}
    for post in posts:
        if post.album is None or post.album not in albums:
            if post.album is not None:
                albums[post.album] = len(merged)
            merged.append(post)
            continue
        i = albums[post.album]
        first = merged[i]
        merged[i] = replace(
            first,
            text="\n".join(t for t in (first.text, post.text) if t),
            urls=tuple(dict.fromkeys(first.urls + post.urls)),
            media=first.media + post.media,
            origin=first.origin or post.origin,
        )
    return merged


def mentions(message: Message, username: str) -> bool:
    """Whether the message @-mentions the bot (privacy mode still delivers such messages)."""
    if not username:
        return False
    wanted = f"@{username}".lower()
    kinds: list[str | None] = [MessageEntity.MENTION]
    found = message.parse_entities(kinds) | message.parse_caption_entities(kinds)
    return any(text.lower() == wanted for text in found.values())
