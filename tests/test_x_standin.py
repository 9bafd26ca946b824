"""The real tweepy AsyncClient against the local X API v2 stand-in.

Nothing in tweepy is mocked: requests are built, OAuth 1.0a-signed and parsed
by tweepy 4.17, travel over real HTTP through bot.x_http's session, and the
stand-in verifies the signatures against the original api.twitter.com URL.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import tweepy
from tweepy.asynchronous import AsyncClient, AsyncPaginator
from yarl import URL

from bot.x_http import build_x_session, rebase_x_url
from tests.x_accounts import (
    ACCESS_TOKEN,
    ACCESS_TOKEN_SECRET,
    ALICE,
    BEARER,
    BOB,
    BOT_ID,
    BOT_NAME,
    CAROL,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    new_fake,
)
from tests.x_api import FakeX, running_fake_x

pytestmark = pytest.mark.asyncio

MENTION_EXPANSIONS = ["referenced_tweets.id", "author_id", "in_reply_to_user_id"]
MENTION_FIELDS = [
    "created_at",
    "conversation_id",
    "referenced_tweets",
    "author_id",
    "in_reply_to_user_id",
    "lang",
    "entities",
]


def _user_client(session: aiohttp.ClientSession, **kwargs: Any) -> AsyncClient:
    client = AsyncClient(
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        access_token=ACCESS_TOKEN,
        access_token_secret=ACCESS_TOKEN_SECRET,
        **kwargs,
    )
    # tweepy 4.17's AsyncClient.__init__ has no `session` parameter; the
    # attribute is the supported hook (tweepy leaves closing it to us).
    client.session = session
    return client


@pytest_asyncio.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    async with running_fake_x(new_fake()) as fake:
        yield fake


@pytest_asyncio.fixture
async def session(fake_x: FakeX) -> AsyncIterator[aiohttp.ClientSession]:
    async with build_x_session(fake_x.base_url) as s:
        yield s


@pytest_asyncio.fixture
async def client(session: aiohttp.ClientSession) -> AsyncClient:
    return _user_client(session)


def _seed_thread(fake: FakeX) -> dict[str, str]:
    """A rumour by alice, a reply asking the bot, and a quote tagging it."""
    ids: dict[str, str] = {}
    ids["rumour"] = fake.post(ALICE, "They're putting chips in the water supply!")
    ids["unrelated"] = fake.post(CAROL, "lovely weather")
    ids["ask"] = fake.post(BOB, f"@{BOT_NAME} is this true?", reply_to=ids["rumour"])
    ids["quote"] = fake.post(CAROL, f"@{BOT_NAME} check this", quote_of=ids["rumour"])
    return ids


# ---------------------------------------------------------------- plumbing


async def test_asyncclient_has_no_session_kwarg() -> None:
    with pytest.raises(TypeError, match="session"):
        AsyncClient(consumer_key=CONSUMER_KEY, session=None)


async def test_rebase_keeps_path_and_query_and_ignores_other_hosts() -> None:
    signed = URL("https://api.twitter.com/2/users/1/mentions?a=b%3Ac&x=1%2C2", encoded=True)
    assert str(rebase_x_url(signed, URL("http://127.0.0.1:8080"))) == (
        "http://127.0.0.1:8080/2/users/1/mentions?a=b%3Ac&x=1%2C2"
    )
    assert str(rebase_x_url(signed, URL("http://stub:9/x/"))) == (
        "http://stub:9/x/2/users/1/mentions?a=b%3Ac&x=1%2C2"
    )
    other = URL("https://upload.example.com/1.1/media")
    assert rebase_x_url(other, URL("http://127.0.0.1:8080")) is other


@pytest.mark.parametrize("bad", ["127.0.0.1:8080", "ftp://h", "http://h/?q=1", "/relative"])
async def test_build_x_session_rejects_bad_base_url(bad: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        build_x_session(bad)


async def test_get_me_is_signed_for_the_original_url(client: AsyncClient, fake_x: FakeX) -> None:
    resp = await client.get_me(user_auth=True, user_fields=["created_at"])

    assert isinstance(resp, tweepy.Response)
    assert isinstance(resp.data, tweepy.User)
    assert resp.data.id == int(BOT_ID)  # tweepy turns ids into int
    assert resp.data.username == BOT_NAME
    assert resp.data.created_at is not None
    call = fake_x.calls[-1]
    assert (call.method, call.path, call.auth_scheme, call.status) == (
        "GET",
        "/2/users/me",
        "OAuth",
        200,
    )
    assert call.query == {"user.fields": "created_at"}


async def test_wrong_secret_is_rejected(session: aiohttp.ClientSession) -> None:
    client = AsyncClient(
        consumer_key=CONSUMER_KEY,
        consumer_secret="not-the-secret",
        access_token=ACCESS_TOKEN,
        access_token_secret=ACCESS_TOKEN_SECRET,
    )
    client.session = session
    with pytest.raises(tweepy.Unauthorized):
        await client.get_me(user_auth=True)


async def test_forgetting_user_auth_sends_bearer_none(client: AsyncClient, fake_x: FakeX) -> None:
    # get_users_mentions defaults to user_auth=False; with only OAuth 1.0a
    # keys tweepy then sends "Authorization: Bearer None".
    with pytest.raises(tweepy.Unauthorized):
        await client.get_users_mentions(BOT_ID)
    assert fake_x.calls[-1].auth_scheme == "Bearer"


# ---------------------------------------------------------------- mentions


async def test_mentions_with_includes(client: AsyncClient, fake_x: FakeX) -> None:
    before = fake_x.post(BOB, f"@{BOT_NAME} old question")
    ids = _seed_thread(fake_x)

    resp = await client.get_users_mentions(
        BOT_ID,
        since_id=before,
        expansions=MENTION_EXPANSIONS,
        tweet_fields=MENTION_FIELDS,
        user_auth=True,
    )

    # Newest first; since_id is exclusive; non-mentions are absent.
    assert [t.id for t in resp.data] == [int(ids["quote"]), int(ids["ask"])]
    quote, ask = resp.data
    assert isinstance(ask, tweepy.Tweet)
    assert ask.text == f"@alice @{BOT_NAME} is this true?"  # X prefixes the replied-to author
    assert ask.author_id == int(BOB)
    assert ask.in_reply_to_user_id == int(ALICE)
    assert ask.conversation_id == int(ids["rumour"])
    assert [(r.type, r.id) for r in ask.referenced_tweets] == [("replied_to", int(ids["rumour"]))]
    assert ask.lang == "en"
    assert ask.created_at is not None and ask.created_at.tzinfo is not None
    assert {m["username"] for m in ask.entities["mentions"]} == {"alice", BOT_NAME}
    assert [(r.type, r.id) for r in quote.referenced_tweets] == [("quoted", int(ids["rumour"]))]
    assert quote.in_reply_to_user_id is None

    # includes: the referenced tweet (parsed to Tweet) and users (parsed to User).
    assert [t.id for t in resp.includes["tweets"]] == [int(ids["rumour"])]
    assert resp.includes["tweets"][0].text.startswith("They're putting chips")
    assert {u.username for u in resp.includes["users"]} == {"carol", "bob", "alice"}
    # meta stays a raw dict of strings.
    assert resp.meta == {
        "result_count": 2,
        "newest_id": ids["quote"],
        "oldest_id": ids["ask"],
    }
    assert resp.errors == []


async def test_no_new_mentions_gives_none_data(client: AsyncClient, fake_x: FakeX) -> None:
    ids = _seed_thread(fake_x)
    resp = await client.get_users_mentions(BOT_ID, since_id=ids["quote"], user_auth=True)
    assert resp.data is None  # not [] -- callers must guard
    assert resp.includes == {}
    assert resp.meta == {"result_count": 0}


async def test_mentions_default_fields_are_minimal(client: AsyncClient, fake_x: FakeX) -> None:
    _seed_thread(fake_x)
    resp = await client.get_users_mentions(BOT_ID, user_auth=True)
    tweet = resp.data[0]
    # Without tweet_fields X only sends id, text, edit_history_tweet_ids.
    assert set(tweet.data) == {"id", "text", "edit_history_tweet_ids"}
    assert tweet.author_id is None and tweet.created_at is None


async def test_mentions_pagination(client: AsyncClient, fake_x: FakeX) -> None:
    posted = [fake_x.post(BOB, f"@{BOT_NAME} question {i}") for i in range(12)]
    newest_first = [int(i) for i in reversed(posted)]

    first = await client.get_users_mentions(BOT_ID, max_results=5, user_auth=True)
    assert [t.id for t in first.data] == newest_first[:5]
    assert "previous_token" not in first.meta
    second = await client.get_users_mentions(
        BOT_ID, max_results=5, pagination_token=first.meta["next_token"], user_auth=True
    )
    assert [t.id for t in second.data] == newest_first[5:10]
    back = await client.get_users_mentions(
        BOT_ID, max_results=5, pagination_token=second.meta["previous_token"], user_auth=True
    )
    assert [t.id for t in back.data] == newest_first[:5]

    seen = [
        tweet.id
        async for tweet in AsyncPaginator(
            client.get_users_mentions, BOT_ID, max_results=5, user_auth=True
        ).flatten()
    ]
    assert seen == newest_first
    pages = [
        p
        async for p in AsyncPaginator(
            client.get_users_mentions, BOT_ID, max_results=5, user_auth=True
        )
    ]
    assert [p.meta["result_count"] for p in pages] == [5, 5, 2]
    assert "next_token" not in pages[-1].meta


async def test_invalid_max_results_is_bad_request(client: AsyncClient) -> None:
    with pytest.raises(tweepy.BadRequest) as err:
        await client.get_users_mentions(BOT_ID, max_results=3, user_auth=True)
    assert "between 5 and 100" in err.value.api_messages[0]


# ---------------------------------------------------------------- lookup


async def test_tweet_lookup_and_not_found_is_not_an_exception(
    client: AsyncClient, fake_x: FakeX
) -> None:
    ids = _seed_thread(fake_x)
    one = await client.get_tweet(
        ids["ask"], expansions=["referenced_tweets.id"], tweet_fields=["author_id"], user_auth=True
    )
    assert one.data.id == int(ids["ask"])
    assert one.includes["tweets"][0].id == int(ids["rumour"])

    fake_x.delete(ids["rumour"])
    many = await client.get_tweets(
        [ids["ask"], ids["rumour"]], expansions=["referenced_tweets.id"], user_auth=True
    )
    assert [t.id for t in many.data] == [int(ids["ask"])]
    assert "tweets" not in many.includes
    assert {(e["parameter"], e["resource_id"]) for e in many.errors} == {
        ("referenced_tweets.id", ids["rumour"]),
        ("ids", ids["rumour"]),
    }
    gone = await client.get_tweet(ids["rumour"], user_auth=True)
    assert gone.data is None
    assert gone.errors[0]["title"] == "Not Found Error"


# ---------------------------------------------------------------- posting


async def test_create_reply_shows_up_in_standin(client: AsyncClient, fake_x: FakeX) -> None:
    ids = _seed_thread(fake_x)
    resp = await client.create_tweet(
        text="No: municipal water is tested daily. Source: ...", in_reply_to_tweet_id=ids["ask"]
    )
    # create_tweet has no data_type: data is the raw dict with a str id.
    new_id = resp.data["id"]
    assert isinstance(new_id, str)
    # X auto-prefixes the thread's participants (bob, and alice whom bob's
    # tweet leads with); the bot itself is left out.
    assert resp.data["text"] == "@bob @alice No: municipal water is tested daily. Source: ..."

    (reply,) = fake_x.replies_to(ids["ask"])
    assert reply.id == new_id
    assert reply.author_id == BOT_ID
    assert reply.in_reply_to_user_id == BOB
    assert reply.conversation_id == ids["rumour"]
    assert [t.id for t in fake_x.posted_by_bot] == [new_id]
    assert fake_x.calls[-1].json == {
        "reply": {"in_reply_to_tweet_id": ids["ask"]},
        "text": "No: municipal water is tested daily. Source: ...",
    }
    assert fake_x.calls[-1].status == 201

    # The bot's own reply does not mention itself, so it is not a mention.
    mentions = await client.get_users_mentions(BOT_ID, since_id=ids["quote"], user_auth=True)
    assert mentions.data is None


async def test_duplicate_and_deleted_parent_are_forbidden(
    client: AsyncClient, fake_x: FakeX
) -> None:
    ids = _seed_thread(fake_x)
    await client.create_tweet(text="Debunked.", in_reply_to_tweet_id=ids["ask"])
    with pytest.raises(tweepy.Forbidden, match="duplicate content"):
        await client.create_tweet(text="Debunked.", in_reply_to_tweet_id=ids["ask"])
    fake_x.delete(ids["quote"])
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        await client.create_tweet(text="Also debunked.", in_reply_to_tweet_id=ids["quote"])
    assert len(fake_x.posted_by_bot) == 1


async def test_overlong_text_is_bad_request(client: AsyncClient) -> None:
    with pytest.raises(tweepy.BadRequest, match="too long"):
        await client.create_tweet(text="x" * 281)
    await client.create_tweet(text="я" * 280)  # Cyrillic weighs 1 per char


# ---------------------------------------------------------------- errors


async def test_429_raises_too_many_requests_with_reset(client: AsyncClient, fake_x: FakeX) -> None:
    fake_x.fail_next("/2/users/", reset_in=600)
    before = int(time.time())
    with pytest.raises(tweepy.TooManyRequests) as err:
        await client.get_users_mentions(BOT_ID, user_auth=True)
    headers = err.value.response.headers
    assert headers["x-rate-limit-remaining"] == "0"
    assert before + 600 <= int(headers["x-rate-limit-reset"]) <= int(time.time()) + 600
    assert err.value.reset_time == int(headers["x-rate-limit-reset"])
    assert err.value.api_messages == ["Too Many Requests"]
    # One-shot: the next call goes through.
    ok = await client.get_users_mentions(BOT_ID, user_auth=True)
    assert ok.meta["result_count"] == 0


async def test_configured_rate_limit_is_enforced(session: aiohttp.ClientSession) -> None:
    async with running_fake_x(new_fake(rate_limits={"GET /2/users/me": 2})) as fake:
        async with build_x_session(fake.base_url) as s:
            client = _user_client(s)
            await client.get_me(user_auth=True)
            await client.get_me(user_auth=True)
            with pytest.raises(tweepy.TooManyRequests) as err:
                await client.get_me(user_auth=True)
    assert err.value.response.headers["x-rate-limit-limit"] == "2"


async def test_403_raises_forbidden_until_cleared(client: AsyncClient, fake_x: FakeX) -> None:
    fake_x.forbid()
    with pytest.raises(tweepy.Forbidden) as err:
        await client.get_users_mentions(BOT_ID, user_auth=True)
    assert err.value.response.status == 403
    assert "attached to a Project" in err.value.api_messages[0]
    with pytest.raises(tweepy.Forbidden):
        await client.create_tweet(text="hello")
    fake_x.unforbid()
    await client.create_tweet(text="hello")


async def test_wait_on_rate_limit_crashes_for_user_auth(
    session: aiohttp.ClientSession, fake_x: FakeX
) -> None:
    """tweepy 4.17 AsyncBaseClient.request() sets its local ``params = None``
    after signing (user_auth=True), then on 429 with wait_on_rate_limit it
    sleeps until reset and recurses with that None, which crashes in
    ``sorted(params.items())`` before any retry is sent."""
    client = _user_client(session, wait_on_rate_limit=True)
    # A reset already in the past makes tweepy's sleep_time <= 0: no sleep.
    fake_x.fail_next("/2/users/", reset_in=-5)
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'items'"):
        await client.get_users_mentions(BOT_ID, user_auth=True)
    assert [c.status for c in fake_x.calls if c.path.endswith("/mentions")] == [429]


async def test_wait_on_rate_limit_works_for_bearer(
    session: aiohttp.ClientSession, fake_x: FakeX
) -> None:
    client = AsyncClient(bearer_token=BEARER, wait_on_rate_limit=True)
    client.session = session
    fake_x.post(BOB, f"@{BOT_NAME} hi")
    fake_x.fail_next("/2/users/", reset_in=-5)
    resp = await client.get_users_mentions(BOT_ID, max_results=5)
    assert resp.meta["result_count"] == 1
    calls = [c for c in fake_x.calls if c.path.endswith("/mentions")]
    assert [(c.status, c.auth_scheme) for c in calls] == [(429, "Bearer"), (200, "Bearer")]
    assert calls[1].query == {"max_results": "5"}


async def test_non_json_5xx_escapes_as_aiohttp_error(client: AsyncClient, fake_x: FakeX) -> None:
    # tweepy calls response.json() on every non-2xx before mapping the status,
    # so an HTML error page surfaces as aiohttp's ContentTypeError, not as
    # tweepy.TwitterServerError; a JSON 5xx maps as expected.
    fake_x.fail_next("/2/users/", 503, body="<html>Over capacity</html>")
    with pytest.raises(aiohttp.ContentTypeError):
        await client.get_users_mentions(BOT_ID, user_auth=True)
    fake_x.fail_next("/2/users/", 503)
    with pytest.raises(tweepy.TwitterServerError, match="503 Service Unavailable"):
        await client.get_users_mentions(BOT_ID, user_auth=True)


async def test_missing_authorization_is_401_and_unknown_route_404(
    session: aiohttp.ClientSession, fake_x: FakeX
) -> None:
    async with session.get("https://api.twitter.com/2/users/me") as resp:
        assert resp.status == 401
        assert (await resp.json())["title"] == "Unauthorized"
    headers = {"Authorization": f"Bearer {BEARER}"}
    async with session.get("https://api.x.com/2/nope", headers=headers) as resp:
        assert resp.status == 404
        assert resp.content_type == "application/json"
    assert [(c.path, c.status) for c in fake_x.calls] == [("/2/users/me", 401), ("/2/nope", 404)]
