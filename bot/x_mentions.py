"""Reading the bot's mentions from X's API v2 into `Mention`s, oldest first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from handlers.x import Mention, XPost

PAGE_SIZE = 100  # X's maximum: the fewer pages, the fewer requests against the rate limit
LOOKUP_SIZE = 100  # posts per GET /2/tweets, X's maximum
# The posts a mention replies to or quotes come back in `includes`, with their authors.
EXPANSIONS = ["referenced_tweets.id", "referenced_tweets.id.author_id", "author_id"]
TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "entities",
    "lang",
    "note_tweet",  # the full text of a post longer than 280 characters
    "referenced_tweets",
]
USER_FIELDS = ["username"]

JSON = Mapping[str, Any]


def _post(data: JSON, usernames: Mapping[str, str]) -> XPost:
    author = str(data.get("author_id", ""))
    note = data.get("note_tweet") or {}
    entities = note.get("entities") or data.get("entities") or {}
    links = tuple(
        str(u.get("unwound_url") or u.get("expanded_url"))
        for u in entities.get("urls", ())
        if u.get("unwound_url") or u.get("expanded_url")
    )
    return XPost(
        id=str(data["id"]),
        author_id=author,
        text=str(note.get("text") or data.get("text", "")),
        lang=str(data.get("lang", "")),
        links=links,
        username=usernames.get(author, ""),
    )


def _mention(data: JSON, included: Mapping[str, XPost], usernames: Mapping[str, str]) -> Mention:
    refs = {str(r.get("type")): str(r.get("id")) for r in data.get("referenced_tweets") or ()}
    replied_to, quoted = refs.get("replied_to"), refs.get("quoted")
    mentions = (data.get("entities") or {}).get("mentions", ())
    return Mention(
        post=_post(data, usernames),
        conversation_id=str(data.get("conversation_id", "")),
        replied_to_id=replied_to,
        quoted_id=quoted,
        replied_to=included.get(replied_to) if replied_to else None,
        quoted=included.get(quoted) if quoted else None,
        retweet="retweeted" in refs,
        mentioned_ids=tuple(str(m["id"]) for m in mentions if "id" in m),
    )


def mentions_from_page(
    data: Iterable[JSON], tweets: Iterable[JSON] = (), users: Iterable[JSON] = ()
) -> list[Mention]:
    """One page of X's answer (raw `data`, `includes.tweets`, `includes.users`) as mentions."""
    usernames = {str(u["id"]): str(u.get("username", "")) for u in users}
    included = {str(t["id"]): _post(t, usernames) for t in tweets}
    return [_mention(d, included, usernames) for d in data]


async def fetch_mentions(
    client: Any, bot_id: str, *, since_id: str | None, start_time: datetime | None = None
) -> list[Mention]:
    """Every mention newer than `since_id` (or `start_time`), oldest first, all pages read.

    All pages come first: handling only the newest page would move `since_id` past mentions
    on the pages not read yet.
    """
    found: dict[str, Mention] = {}
    token: str | None = None
    while True:
        page = await client.get_users_mentions(
            bot_id,
            since_id=since_id,
            start_time=None if since_id else start_time,
            max_results=PAGE_SIZE,
            pagination_token=token,
            expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS,
            user_fields=USER_FIELDS,
            user_auth=True,  # tweepy's default (app-only) cannot read a user's mentions
        )
        includes = page.includes or {}
        for mention in mentions_from_page(
            (t.data for t in page.data or ()),  # data is None when nothing is new
            (t.data for t in includes.get("tweets", ())),
            (u.data for u in includes.get("users", ())),
        ):
            found[mention.post.id] = mention
        token = (page.meta or {}).get("next_token")
        if not token:
            return sorted(found.values(), key=lambda m: int(m.post.id))


async def lookup_mentions(client: Any, ids: Iterable[str]) -> dict[str, Mention]:
    """The visible ones of posts `ids` as mentions, by id: a deleted post is left out.

    Only what a reply needs: the author and whom the post @-mentions.
    """
    wanted = sorted({i for i in ids if i.isdigit()}, key=int)  # X refuses the lot for one bad id
    found: dict[str, Mention] = {}
    for start in range(0, len(wanted), LOOKUP_SIZE):
        page = await client.get_tweets(
            wanted[start : start + LOOKUP_SIZE],
            tweet_fields=["author_id", "entities"],
            user_auth=True,
        )
        for mention in mentions_from_page(t.data for t in page.data or ()):
            found[mention.post.id] = mention
    return found
