"""Reading X's mention payloads: which post is asked about, and which mentions are left alone.

The payloads are X's wire format (as documented and as the stand-in sends it), including parts
the stand-in does not model: reposts, long posts (`note_tweet`) and expanded links.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.x_mentions import mentions_from_page
from handlers.x import Mention, post_to_check, reason_to_ignore, thread_user_ids, wants_opt_out

BOT = "1500000000000000001"
ALICE, BOB = "2244994945", "783214"


def tweet(id: str, author: str, text: str, **fields: Any) -> dict[str, Any]:
    return {"id": id, "author_id": author, "text": text, "edit_history_tweet_ids": [id], **fields}


def one(
    data: dict[str, Any],
    tweets: Sequence[dict[str, Any]] = (),
    users: Sequence[dict[str, Any]] = (),
) -> Mention:
    (mention,) = mentions_from_page([data], tweets, users)
    return mention


RUMOUR = tweet("100", ALICE, "Kazakhstan sends tanks to Russia https://t.co/abc", lang="en")


def test_reply_asks_about_the_replied_to_post_with_its_author_and_links() -> None:
    rumour = {
        **RUMOUR,
        "entities": {"urls": [{"url": "https://t.co/abc", "expanded_url": "https://t.me/c/1"}]},
    }
    mention = one(
        tweet(
            "200",
            BOB,
            "@alice @rumor_responder is this true?",
            referenced_tweets=[{"type": "replied_to", "id": "100"}],
            conversation_id="100",
            entities={"mentions": [{"id": ALICE, "username": "alice"}, {"id": BOT}]},
        ),
        [rumour],
        [{"id": ALICE, "username": "alice"}],
    )

    post = post_to_check(mention)
    assert post is not None
    assert (post.id, post.author_id, post.text) == ("100", ALICE, RUMOUR["text"])
    assert post.links == ("https://t.me/c/1",)
    assert post.addresses == (
        "https://x.com/i/web/status/100",
        "https://x.com/alice/status/100",
    )
    assert mention.conversation_id == "100"
    assert reason_to_ignore(mention, BOT) is None
    assert thread_user_ids(mention, BOT) == [ALICE]


def test_quote_wins_over_reply() -> None:
    other = tweet("150", BOB, "unrelated")
    mention = one(
        tweet(
            "200",
            BOB,
            "@rumor_responder this?",
            referenced_tweets=[
                {"type": "quoted", "id": "100"},
                {"type": "replied_to", "id": "150"},
            ],
        ),
        [RUMOUR, other],
    )
    post = post_to_check(mention)
    assert post is not None and post.id == "100"


def test_bare_mention_is_its_own_text_without_handles() -> None:
    mention = one(tweet("200", BOB, "@rumor_responder @alice Kazakhstan sends tanks, true?"))
    post = post_to_check(mention)
    assert post is not None
    assert (post.id, post.text) == ("200", "Kazakhstan sends tanks, true?")


def test_long_post_is_read_from_note_tweet() -> None:
    long_text = "Kazakhstan sends tanks " * 30
    mention = one(tweet("200", BOB, long_text[:270] + "…", note_tweet={"text": long_text}))
    post = post_to_check(mention)
    assert post is not None and post.text == " ".join(long_text.split())


def test_repost_is_ignored() -> None:
    mention = one(
        tweet(
            "200",
            BOB,
            "RT @alice: @rumor_responder is this true?",
            referenced_tweets=[{"type": "retweeted", "id": "100"}],
        ),
        [RUMOUR],
    )
    assert mention.retweet
    assert reason_to_ignore(mention, BOT) == "a repost"


def test_own_post_is_ignored() -> None:
    mention = one(tweet("200", BOT, "@rumor_responder note to self"))
    assert reason_to_ignore(mention, BOT) == "our own post"


def test_reply_to_our_own_post_is_ignored() -> None:
    ours = tweet("150", BOT, "@bob ❌ False …")
    mention = one(
        tweet(
            "200",
            BOB,
            "@rumor_responder why?",
            referenced_tweets=[{"type": "replied_to", "id": "150"}],
        ),
        [ours],
    )
    assert reason_to_ignore(mention, BOT) == "a reply to our own post"


def test_reply_to_a_deleted_post_is_ignored() -> None:
    mention = one(
        tweet(
            "200",
            BOB,
            "@rumor_responder true?",
            referenced_tweets=[{"type": "replied_to", "id": "99"}],
        )
    )
    assert post_to_check(mention) is None
    assert reason_to_ignore(mention, BOT) == "the post it asks about is deleted or not visible"


def test_mention_with_only_handles_asks_nothing() -> None:
    mention = one(tweet("200", BOB, "@rumor_responder @alice"))
    assert reason_to_ignore(mention, BOT) == "nothing to check"


def test_stop_words_opt_out_but_sentences_with_stop_do_not() -> None:
    def says(text: str) -> bool:
        return wants_opt_out(one(tweet("200", BOB, f"@rumor_responder {text}")))

    assert all(says(w) for w in ("stop", "STOP", "Stop.", "стоп!", "Stopp", "тоқта", "СТОП"))
    assert not says("stop the war")
    assert not says("is this true?")
