"""A mention of the bot on X: which post it asks about, what the KB says, the reply text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import render_x
from handlers.i18n import LANGS
from kb.matcher import Decision
from kb.queue import Asker, enqueue
from kb.service import KnowledgeBase

# The bot answers nothing more from an author who sends just one of these words.
STOP_WORDS = frozenset({"stop", "stopp", "стоп", "тоқта", "токта"})
_HANDLE = re.compile(r"(?<![\w@])[@＠]\w{1,15}")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class XPost:
    """A post on X as the bot needs it."""

    id: str
    author_id: str
    text: str
    lang: str = ""  # X's guess; "und", "qme", "zxx" when it has none
    links: tuple[str, ...] = ()  # expanded links: the text only shows t.co ones
    username: str = ""  # the author's handle, when X sent it

    @property
    def url(self) -> str:
        return f"https://x.com/i/web/status/{self.id}"

    @property
    def addresses(self) -> tuple[str, ...]:
        """Links to this post as moderators may have filed it among an entry's appearances."""
        named = (f"https://x.com/{self.username}/status/{self.id}",) if self.username else ()
        return (self.url, *named)


@dataclass(frozen=True)
class Mention:
    """A post that mentions the bot, with the posts it replies to or quotes (when visible)."""

    post: XPost
    conversation_id: str = ""
    replied_to_id: str | None = None
    quoted_id: str | None = None
    replied_to: XPost | None = None  # None when deleted or protected
    quoted: XPost | None = None
    retweet: bool = False
    mentioned_ids: tuple[str, ...] = ()  # everyone the post @-mentions

    @property
    def own_text(self) -> str:
        """The mention's words without any @handle."""
        return " ".join(_HANDLE.sub(" ", self.post.text).split())


def reason_to_ignore(mention: Mention, bot_id: str) -> str | None:
    """Why the bot must not answer this mention at all, or None."""
    if mention.post.author_id == bot_id:
        return "our own post"
    if mention.retweet:
        return "a repost"
    asked = post_to_check(mention)
    if asked is None:
        if mention.quoted_id or mention.replied_to_id:
            return "the post it asks about is deleted or not visible"
        return "nothing to check"
    if asked.author_id == bot_id:
        # A reply to one of our answers is talk, not a question; answering it could start a
        # loop with another bot.
        return "a reply to our own post"
    return None


def wants_opt_out(mention: Mention) -> bool:
    """The author said "stop" (in any of our languages) to the bot."""
    return " ".join(_WORD.findall(mention.own_text)).casefold() in STOP_WORDS


def post_to_check(mention: Mention) -> XPost | None:
    """The quoted post, else the replied-to post, else the mention's own words."""
    if mention.quoted_id:
        return mention.quoted
    if mention.replied_to_id:
        return mention.replied_to
    if not _WORD.search(mention.own_text):
        return None
    post = mention.post
    return XPost(post.id, post.author_id, mention.own_text, post.lang, post.links, post.username)


def thread_user_ids(mention: Mention, bot_id: str) -> list[str]:
    """Users X would add to our reply besides the asker; the reply is for the asker only."""
    return [i for i in mention.mentioned_ids if i not in (bot_id, mention.post.author_id)]


async def answer_mention(kb: KnowledgeBase, mention: Mention, *, links: bool = True) -> str:
    """Check the post the mention asks about and say what the KB knows, in the asker's language.

    Only a confident match is answered; anything else is queued for the moderators, who can
    reach the asker through the mention's id.
    """
    post = post_to_check(mention)
    if post is None:
        raise ValueError(f"mention {mention.post.id} asks about nothing")
    chat_id = mention.conversation_id or mention.post.id
    outcome = await kb.check(
        post.text,
        urls=(*post.addresses, *post.links),
        lang_hint=post.lang if post.lang in LANGS else "",
        platform="x",
        chat_id=chat_id,
        message_id=mention.post.id,
        user_id=mention.post.author_id,
        url=post.url,
    )
    asker_lang = mention.post.lang
    lang = asker_lang if asker_lang in LANGS else outcome.lang
    if outcome.result.decision is Decision.ANSWER and outcome.entry is not None:
        return render_x.rebuttal(outcome.entry, lang, links=links)
    if outcome.result.decision is Decision.ASK:
        # check() queues only abstentions; on X there is no "is this the claim you mean?".
        asker = Asker("x", chat_id, mention.post.author_id, mention.post.id, lang)
        async with kb.sessions() as session:
            await enqueue(session, post.text, asker)
            await session.commit()
    return render_x.not_in_kb(lang)
