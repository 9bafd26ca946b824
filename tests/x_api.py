"""Local stand-in for the slice of the X API v2 that rumor-responder uses.

Real HTTP on 127.0.0.1 so that tests exercise the real tweepy AsyncClient
(URL building, OAuth 1.0a signing, error mapping, Response parsing). Shapes
follow X's documented wire format, including the parts tweepy is picky about:
``created_at`` must carry milliseconds (tweepy's ``parse_datetime`` needs
``.%f``), error bodies must be JSON (tweepy calls ``response.json()`` on every
non-2xx), and "not found" on lookups is a 200 with an ``errors`` array, not a
404, exactly like X.

Deliberate simplifications: no media, polls, places, retweets, likes;
``entities`` only carries ``mentions`` (and only for known users, as X only
links handles that resolve); ``lang`` is whatever the seeding call says
(default "en"); tweets posted through the API get "en"; X's own mentions
timeline cap (800) and since_id age limits are not modelled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final

from aiohttp import web
from oauthlib.oauth1 import Client as OAuth1Client  # type: ignore[import-untyped]
from oauthlib.oauth1.rfc5849 import signature as oauth_sig  # type: ignore[import-untyped]

__all__ = [
    "Call",
    "FakeX",
    "StoredTweet",
    "StoredUser",
    "running_fake_x",
]

JSONDict = dict[str, Any]
_log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROBLEMS: Final = "https://api.twitter.com/2/problems/"
# X returns problem documents as plain JSON (observed header:
# "application/json; charset=utf-8"), which is also what aiohttp's
# ClientResponse.json() in tweepy's error path accepts.
JSON_CONTENT_TYPE: Final = "application/json"

TWEET_FIELDS: Final = frozenset(
    {
        "attachments", "author_id", "card_uri", "context_annotations", "conversation_id",
        "created_at", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
        "in_reply_to_user_id", "lang", "non_public_metrics", "note_tweet", "organic_metrics",
        "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
        "reply_settings", "scopes", "source", "text", "withheld",
    }
)  # fmt: skip
USER_FIELDS: Final = frozenset(
    {
        "affiliation", "connection_status", "created_at", "description", "entities", "id",
        "location", "most_recent_tweet_id", "name", "pinned_tweet_id", "profile_banner_url",
        "profile_image_url", "protected", "public_metrics", "receives_your_dm",
        "subscription_type", "url", "username", "verified", "verified_type", "withheld",
    }
)  # fmt: skip
TWEET_EXPANSIONS: Final = frozenset(
    {
        "attachments.media_keys", "attachments.poll_ids", "author_id", "edit_history_tweet_ids",
        "entities.mentions.username", "geo.place_id", "in_reply_to_user_id",
        "referenced_tweets.id", "referenced_tweets.id.author_id",
    }
)  # fmt: skip
USER_EXPANSIONS: Final = frozenset(
    {"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"}
)
_RENDER_PARAMS: Final = frozenset(
    {"expansions", "tweet.fields", "user.fields", "media.fields", "place.fields", "poll.fields"}
)
MENTIONS_PARAMS: Final = _RENDER_PARAMS | {
    "end_time", "max_results", "pagination_token", "since_id", "start_time", "until_id",
}  # fmt: skip
LOOKUP_PARAMS: Final = _RENDER_PARAMS
ME_PARAMS: Final = frozenset({"expansions", "tweet.fields", "user.fields"})

# Per-15-minute user-context limits in X's published table for the paid tiers;
# the Free/Basic tiers are far lower, so tests that care pass rate_limits=.
DEFAULT_RATE_LIMITS: Final[Mapping[str, int]] = {
    "GET /2/users/me": 75,
    "GET /2/users/{id}/mentions": 180,
    "GET /2/tweets/{id}": 900,
    "GET /2/tweets": 900,
    "POST /2/tweets": 200,
}
RATE_WINDOW_SECONDS: Final = 15 * 60
USER_CONTEXT_ONLY: Final = frozenset({"GET /2/users/me", "POST /2/tweets"})

_TWEPOCH_MS: Final = 1288834974657
_ID_RE: Final = re.compile(r"[0-9]{1,19}")
# X handles: 1-15 of [A-Za-z0-9_], not preceded by a word char or '@'
# (so e-mail addresses and '@@x' are not mentions).
_MENTION_RE: Final = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
_LEADING_MENTIONS_RE: Final = re.compile(r"^(?:@[A-Za-z0-9_]{1,15}\s+)+")
_URL_RE: Final = re.compile(r"https?://\S+")
# twitter-text v3 weighting: these code point ranges weigh 1, everything else
# (CJK, emoji) 2, every URL 23, limit 280.
_LIGHT_RANGES: Final = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
MAX_WEIGHTED_LENGTH: Final = 280


def _weighted_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    total = 23 * len(_URL_RE.findall(text))
    for ch in _URL_RE.sub("", text):
        cp = ord(ch)
        total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2
    return total


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class StoredUser:
    id: str
    username: str
    name: str
    created_at: float
    description: str = ""


@dataclass
class StoredTweet:
    id: str
    author_id: str
    text: str
    created_at: float
    conversation_id: str
    lang: str
    in_reply_to_user_id: str | None = None
    # (type, id) with type "replied_to" or "quoted", in X's order.
    referenced_tweets: list[tuple[str, str]] = field(default_factory=list)
    # Frozen at creation like X: a user created later does not become linked.
    mentions: list[JSONDict] = field(default_factory=list)
    deleted: bool = False

    @property
    def in_reply_to_tweet_id(self) -> str | None:
        return next((i for kind, i in self.referenced_tweets if kind == "replied_to"), None)

    @property
    def quoted_tweet_id(self) -> str | None:
        return next((i for kind, i in self.referenced_tweets if kind == "quoted"), None)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    time: float
    status: int
    auth_scheme: str | None  # "OAuth", "Bearer" or None
    json: Any = None


@dataclass
class _Fault:
    path_prefix: str
    method: str | None
    status: int
    headers: dict[str, str]
    body: JSONDict | str
    remaining: int


class _Problem(Exception):
    """An X error reply; raised anywhere inside request handling."""

    def __init__(
        self, status: int, body: JSONDict | str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        if isinstance(self.body, str):
            # Edge proxies in front of X answer some 5xx with HTML, not JSON.
            return web.Response(
                status=self.status, text=self.body, content_type="text/html", headers=self.headers
            )
        return _json_response(self.status, self.body, self.headers)


def _about_blank(status: int, title: str, detail: str) -> JSONDict:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _invalid(param: str, value: str, message: str) -> _Problem:
    return _Problem(
        400,
        {
            "errors": [{"parameters": {param: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEMS + "invalid-request",
        },
    )


def _not_found(resource_type: str, parameter: str, value: str) -> JSONDict:
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


CLIENT_NOT_ENROLLED: Final[JSONDict] = {
    "client_id": "29360516",
    "detail": (
        "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
        "tokens from a Twitter developer App that is attached to a Project. You can create a "
        "project via the developer portal."
    ),
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": PROBLEMS + "client-forbidden",
}


def _json_response(
    status: int, body: JSONDict, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=JSON_CONTENT_TYPE,
        charset="utf-8",
        headers=headers,
    )


class FakeX:
    """In-memory X with an aiohttp.web front end. Not thread-safe; one loop."""

    def __init__(
        self,
        *,
        bot_user_id: str = "1500000000000000001",
        bot_username: str = "rumor_responder",
        bot_name: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        bearer_token: str | None = None,
        rate_limits: Mapping[str, int] | None = None,
        signed_origin: str = "https://api.twitter.com",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Credentials left as None are not checked.

        With both secrets set, every OAuth 1.0a request must carry a valid
        HMAC-SHA1 signature for ``signed_origin`` + path + query, which proves
        the client-side URL rewrite kept exactly what tweepy signed. Bearer
        auth is accepted only when it equals ``bearer_token`` (so tweepy's
        "Bearer None", sent when user_auth=True is forgotten, is a 401).
        """
        self._clock = clock
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._access_token = access_token
        self._access_token_secret = access_token_secret
        self._bearer_token = bearer_token
        self._signed_origin = signed_origin.rstrip("/")
        self._limits = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self._windows: dict[str, tuple[int, int]] = {}  # route -> (reset epoch, used)
        self._users: dict[str, StoredUser] = {}
        self._by_username: dict[str, StoredUser] = {}
        self._tweets: dict[str, StoredTweet] = {}
        self._last_id = 0
        self._page_tokens: dict[str, tuple[str, int]] = {}
        self._faults: list[_Fault] = []
        self._forbidden: tuple[int, JSONDict] | None = None
        self._posted_by_bot: list[str] = []
        self.calls: list[Call] = []
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.bot = self.add_user(bot_user_id, bot_username, bot_name)

    # ------------------------------------------------------------------ state

    def add_user(
        self, id: str, username: str, name: str | None = None, *, description: str = ""
    ) -> StoredUser:
        if not _ID_RE.fullmatch(id):
            raise ValueError(f"user id must be numeric: {id!r}")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", username):
            raise ValueError(f"not a valid X username: {username!r}")
        user = StoredUser(id, username, name or username, self._clock(), description)
        self._users[id] = user
        self._by_username[username.lower()] = user
        return user

    def user(self, user_id: str) -> StoredUser:
        return self._users[user_id]

    def post(
        self,
        author_id: str,
        text: str,
        reply_to: str | None = None,
        quote_of: str | None = None,
        mentions: Iterable[str] | None = None,
        *,
        lang: str = "en",
        exclude_reply_user_ids: Iterable[str] = (),
    ) -> str:
        """Seed a tweet as if ``author_id`` had posted it; returns its id.

        Like X's auto-populated reply metadata, a reply gets the replied-to
        author and that tweet's leading @handles prefixed (minus the author
        and ``exclude_reply_user_ids``). ``mentions`` are extra usernames to
        prefix. Mention entities are then computed from the final text.
        """
        if author_id not in self._users:
            raise KeyError(f"unknown author {author_id}; add_user() first")
        for ref in (reply_to, quote_of):
            if ref is not None and self._visible(ref) is None:
                raise KeyError(f"no such tweet {ref}")
        return self._create(
            author_id,
            text,
            reply_to=reply_to,
            quote_of=quote_of,
            extra_mentions=list(mentions or ()),
            exclude=set(exclude_reply_user_ids),
            lang=lang,
        ).id

    def delete(self, tweet_id: str) -> None:
        self._tweets[tweet_id].deleted = True

    def tweet(self, tweet_id: str) -> StoredTweet:
        return self._tweets[tweet_id]

    def replies_to(self, tweet_id: str) -> list[StoredTweet]:
        """Live direct replies, oldest first."""
        return sorted(
            (
                t
                for t in self._tweets.values()
                if not t.deleted and t.in_reply_to_tweet_id == tweet_id
            ),
            key=lambda t: int(t.id),
        )

    @property
    def posted_by_bot(self) -> list[StoredTweet]:
        """Tweets created through ``POST /2/tweets`` (i.e. by the code under test)."""
        return [self._tweets[i] for i in self._posted_by_bot]

    # ------------------------------------------------------------- injection

    def fail_next(
        self,
        path_prefix: str,
        status: int = 429,
        *,
        reset_in: int = 900,
        method: str | None = None,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: JSONDict | str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with ``status``.

        For 429 the rate-limit headers say the window resets ``reset_in``
        seconds from now (may be negative to simulate a stale reset).
        ``headers`` adds or overrides, e.g. X's ``x-app-limit-24hour-*`` set.
        A ``str`` body is sent as text/html, like an edge proxy's error page.
        """
        extra: dict[str, str] = {}
        if status == 429:
            extra = {
                "x-rate-limit-limit": str(
                    self._limits.get(self._route_for(method or "GET", path_prefix), 180)
                ),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(self._clock()) + reset_in),
            }
        extra.update(headers or {})
        if body is None:
            body = (
                _about_blank(429, "Too Many Requests", "Too Many Requests")
                if status == 429
                else _about_blank(status, _reason(status), _reason(status))
            )
        self._faults.append(
            _Fault(path_prefix, method.upper() if method else None, status, extra, body, times)
        )

    def forbid(self, status: int = 403, *, body: JSONDict | None = None) -> None:
        """Make every authenticated call fail with ``status`` until ``unforbid()``.

        The default body is X's "client-not-enrolled" problem, which is what an
        app without the right access level gets.
        """
        self._forbidden = (status, dict(body if body is not None else CLIENT_NOT_ENROLLED))

    def unforbid(self) -> None:
        self._forbidden = None

    def clear_faults(self) -> None:
        self._faults.clear()
        self._forbidden = None

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeX is not running; use running_fake_x() or await start()")
        return self._base_url

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/2/users/me", self._get_me)
        app.router.add_get("/2/users/{id}/mentions", self._get_mentions)
        app.router.add_get("/2/tweets/{id}", self._get_tweet)
        app.router.add_get("/2/tweets", self._get_tweets)
        app.router.add_post("/2/tweets", self._create_tweet)
        return app

    async def start(self) -> str:
        if self._runner is not None:
            return self.base_url
        runner = web.AppRunner(self.make_app(), access_log=None)
        await runner.setup()
        # Binding our own socket to port 0 gives a free port without racing
        # another process between "find port" and "listen".
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self._base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self._base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    async def __aenter__(self) -> FakeX:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ internals

    def _next_id(self) -> str:
        # Snowflake layout (ms since Twitter epoch << 22) keeps ids numeric,
        # time-ordered and in X's magnitude, so int() comparisons behave as on X.
        candidate = (int(self._clock() * 1000) - _TWEPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def _visible(self, tweet_id: str) -> StoredTweet | None:
        t = self._tweets.get(tweet_id)
        return None if t is None or t.deleted else t

    def _create(
        self,
        author_id: str,
        text: str,
        *,
        reply_to: str | None,
        quote_of: str | None,
        extra_mentions: list[str],
        exclude: set[str],
        lang: str,
    ) -> StoredTweet:
        prefix: list[str] = []
        parent = self._tweets[reply_to] if reply_to else None
        if parent is not None:
            thread = [parent.author_id] + [
                self._by_username[h.lower()].id
                for h in _leading_handles(parent.text)
                if h.lower() in self._by_username
            ]
            prefix = [
                self._users[u].username for u in thread if u != author_id and u not in exclude
            ]
        prefix += extra_mentions
        already = {h.lower() for h in _leading_handles(text)}
        seen: set[str] = set()
        lead = []
        for handle in prefix:
            if handle.lower() not in already and handle.lower() not in seen:
                seen.add(handle.lower())
                lead.append("@" + handle)
        full_text = " ".join([*lead, text]) if lead else text
        tweet_id = self._next_id()
        refs: list[tuple[str, str]] = []
        if quote_of:
            refs.append(("quoted", quote_of))
        if parent is not None:
            refs.append(("replied_to", parent.id))
        tweet = StoredTweet(
            id=tweet_id,
            author_id=author_id,
            text=full_text,
            created_at=self._clock(),
            conversation_id=parent.conversation_id if parent else tweet_id,
            lang=lang,
            in_reply_to_user_id=parent.author_id if parent else None,
            referenced_tweets=refs,
            mentions=self._mention_entities(full_text),
        )
        self._tweets[tweet_id] = tweet
        return tweet

    def _mention_entities(self, text: str) -> list[JSONDict]:
        out = []
        for m in _MENTION_RE.finditer(text):
            user = self._by_username.get(m.group(1).lower())
            if user is not None:
                out.append(
                    {"start": m.start(), "end": m.end(), "username": user.username, "id": user.id}
                )
        return out

    @staticmethod
    def _route_for(method: str, path: str) -> str:
        """Best-effort route key for a path prefix (only used for header values)."""
        method = method.upper()
        if path.startswith("/2/users/") and path.endswith("/mentions"):
            return "GET /2/users/{id}/mentions"
        if path.startswith("/2/users/me"):
            return "GET /2/users/me"
        if path.startswith("/2/tweets/"):
            return "GET /2/tweets/{id}"
        return f"{method} /2/tweets"

    # -------------------------------------------------------------- middleware

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = self._clock()
        resource = request.match_info.route.resource
        route = f"{request.method} {resource.canonical}" if resource is not None else None
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        auth_header = request.headers.get("Authorization")
        scheme = auth_header.split(" ", 1)[0] if auth_header else None
        rate_headers: dict[str, str] = {}
        try:
            self._authenticate(request, auth_header, route)
            self._apply_faults(request)
            if route is not None:
                rate_headers = self._spend_rate_limit(route)
            response = await handler(request)
        except _Problem as problem:
            response = problem.response()
        except web.HTTPException as exc:  # router 404/405
            response = _json_response(exc.status, _about_blank(exc.status, exc.reason, exc.reason))
        except Exception as exc:
            # A stand-in bug must surface as a readable TwitterServerError in
            # the test, not as tweepy choking on aiohttp's text/plain 500.
            _log.exception("FakeX handler crashed")
            response = _json_response(
                500, _about_blank(500, "Internal Server Error", f"FakeX bug: {exc!r}")
            )
        for k, v in rate_headers.items():
            response.headers.setdefault(k, v)
        self.calls.append(
            Call(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                time=arrived,
                status=response.status,
                auth_scheme=scheme,
                json=body,
            )
        )
        return response

    def _authenticate(self, request: web.Request, header: str | None, route: str | None) -> None:
        unauthorized = _Problem(401, _about_blank(401, "Unauthorized", "Unauthorized"))
        if not header:
            raise unauthorized
        scheme, _, credentials = header.partition(" ")
        if scheme == "Bearer":
            if route in USER_CONTEXT_ONLY:
                raise _Problem(
                    403,
                    {
                        "title": "Unsupported Authentication",
                        "detail": (
                            "Authenticating with OAuth 2.0 Application-Only is forbidden for "
                            "this endpoint.  Supported authentication types are "
                            "[OAuth 1.0a User Context, OAuth 2.0 User Context]."
                        ),
                        "type": PROBLEMS + "unsupported-authentication",
                        "status": 403,
                    },
                )
            if self._bearer_token is None or credentials != self._bearer_token:
                raise unauthorized
            return
        if scheme != "OAuth" or not self._oauth_ok(request, header):
            raise unauthorized

    def _oauth_ok(self, request: web.Request, header: str) -> bool:
        params = dict(
            oauth_sig.collect_parameters(
                headers={"Authorization": header}, exclude_oauth_signature=False
            )
        )
        required = {"oauth_consumer_key", "oauth_nonce", "oauth_signature",
                    "oauth_signature_method", "oauth_timestamp", "oauth_token"}  # fmt: skip
        if not required <= params.keys():
            return False
        if self._consumer_key is not None and params["oauth_consumer_key"] != self._consumer_key:
            return False
        if self._access_token is not None and params["oauth_token"] != self._access_token:
            return False
        if self._consumer_secret is None or self._access_token_secret is None:
            return True
        if params["oauth_signature_method"] != "HMAC-SHA1":
            return False
        # JSON bodies are not part of the OAuth 1.0a base string, form bodies
        # would be, but nothing here accepts form bodies.
        collected = oauth_sig.collect_parameters(
            uri_query=request.rel_url.raw_query_string, headers={"Authorization": header}
        )
        base = oauth_sig.signature_base_string(
            request.method,
            oauth_sig.base_string_uri(self._signed_origin + request.rel_url.raw_path),
            oauth_sig.normalize_parameters(collected),
        )
        signer = OAuth1Client(
            params["oauth_consumer_key"],
            client_secret=self._consumer_secret,
            resource_owner_secret=self._access_token_secret,
        )
        expected = oauth_sig.sign_hmac_sha1_with_client(base, signer)
        return bool(oauth_sig.safe_string_equals(expected, params["oauth_signature"]))

    def _apply_faults(self, request: web.Request) -> None:
        if self._forbidden is not None:
            status, body = self._forbidden
            raise _Problem(status, body)
        for fault in self._faults:
            if request.path.startswith(fault.path_prefix) and fault.method in (
                None,
                request.method,
            ):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise _Problem(fault.status, fault.body, fault.headers)

    def _spend_rate_limit(self, route: str) -> dict[str, str]:
        limit = self._limits.get(route)
        if limit is None:
            return {}
        now = int(self._clock())
        reset, used = self._windows.get(route, (now + RATE_WINDOW_SECONDS, 0))
        if now >= reset:
            reset, used = now + RATE_WINDOW_SECONDS, 0
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-reset": str(reset),
        }
        if used >= limit:
            headers["x-rate-limit-remaining"] = "0"
            raise _Problem(
                429, _about_blank(429, "Too Many Requests", "Too Many Requests"), headers
            )
        used += 1
        self._windows[route] = (reset, used)
        headers["x-rate-limit-remaining"] = str(limit - used)
        return headers

    # ------------------------------------------------------------- parameters

    @staticmethod
    def _params(request: web.Request, allowed: frozenset[str]) -> dict[str, str]:
        for name in request.query:
            if name not in allowed:
                raise _invalid(
                    name,
                    request.query[name],
                    f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]",
                )
        return dict(request.query)

    @staticmethod
    def _csv(q: Mapping[str, str], name: str, allowed: frozenset[str]) -> set[str]:
        values = {v for v in q.get(name, "").split(",") if v}
        for v in sorted(values - allowed):
            raise _invalid(
                name, v,
                f"The `{name}` query parameter value [{v}] is not one of "
                f"[{','.join(sorted(allowed))}]",
            )  # fmt: skip
        return values

    @staticmethod
    def _id_param(q: Mapping[str, str], name: str) -> int | None:
        value = q.get(name)
        if value is None:
            return None
        if not _ID_RE.fullmatch(value):
            raise _invalid(
                name, value, f"The `{name}` query parameter value [{value}] is not valid"
            )
        return int(value)

    @staticmethod
    def _time_param(q: Mapping[str, str], name: str) -> float | None:
        value = q.get(name)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(
                name, value, f"The `{name}` query parameter value [{value}] is not valid"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()

    # -------------------------------------------------------------- rendering

    def _user_json(self, user: StoredUser, fields: set[str]) -> JSONDict:
        out: JSONDict = {"id": user.id, "name": user.name, "username": user.username}
        if "created_at" in fields:
            out["created_at"] = _iso(user.created_at)
        if "description" in fields:
            out["description"] = user.description
        if "protected" in fields:
            out["protected"] = False
        if "verified" in fields:
            out["verified"] = False
        return out

    def _tweet_json(self, t: StoredTweet, fields: set[str]) -> JSONDict:
        out: JSONDict = {"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]}
        if "author_id" in fields:
            out["author_id"] = t.author_id
        if "created_at" in fields:
            out["created_at"] = _iso(t.created_at)
        if "conversation_id" in fields:
            out["conversation_id"] = t.conversation_id
        if "in_reply_to_user_id" in fields and t.in_reply_to_user_id is not None:
            out["in_reply_to_user_id"] = t.in_reply_to_user_id
        if "referenced_tweets" in fields and t.referenced_tweets:
            out["referenced_tweets"] = [{"type": k, "id": i} for k, i in t.referenced_tweets]
        if "lang" in fields:
            out["lang"] = t.lang
        if "entities" in fields and t.mentions:
            out["entities"] = {"mentions": [dict(m) for m in t.mentions]}
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = False
        if "reply_settings" in fields:
            out["reply_settings"] = "everyone"
        if "public_metrics" in fields:
            live = [x for x in self._tweets.values() if not x.deleted]
            out["public_metrics"] = {
                "retweet_count": 0,
                "reply_count": sum(x.in_reply_to_tweet_id == t.id for x in live),
                "like_count": 0,
                "quote_count": sum(x.quoted_tweet_id == t.id for x in live),
                "bookmark_count": 0,
                "impression_count": 0,
            }
        return out

    def _render(
        self, tweets: list[StoredTweet], q: Mapping[str, str]
    ) -> tuple[list[JSONDict], JSONDict, list[JSONDict]]:
        """X's data/includes/errors triple for ``tweets`` under ``q``'s fields."""
        tweet_fields = self._csv(q, "tweet.fields", TWEET_FIELDS)
        user_fields = self._csv(q, "user.fields", USER_FIELDS)
        expansions = self._csv(q, "expansions", TWEET_EXPANSIONS)
        errors: list[JSONDict] = []
        ref_tweets: list[StoredTweet] = []
        if expansions & {"referenced_tweets.id", "referenced_tweets.id.author_id"}:
            for t in tweets:
                for _, ref_id in t.referenced_tweets:
                    ref = self._visible(ref_id)
                    if ref is None:
                        errors.append(_not_found("tweet", "referenced_tweets.id", ref_id))
                    elif ref not in ref_tweets and ref not in tweets:
                        ref_tweets.append(ref)
        user_ids: list[str] = []
        if "author_id" in expansions:
            user_ids += [t.author_id for t in tweets]
        if "entities.mentions.username" in expansions:
            user_ids += [m["id"] for t in tweets for m in t.mentions]
        if "in_reply_to_user_id" in expansions:
            user_ids += [t.in_reply_to_user_id for t in tweets if t.in_reply_to_user_id]
        if "referenced_tweets.id.author_id" in expansions:
            user_ids += [t.author_id for t in ref_tweets]
        includes: JSONDict = {}
        users = [self._users[u] for u in dict.fromkeys(user_ids) if u in self._users]
        if users:
            includes["users"] = [self._user_json(u, user_fields) for u in users]
        if ref_tweets and "referenced_tweets.id" in expansions:
            includes["tweets"] = [self._tweet_json(t, tweet_fields) for t in ref_tweets]
        return [self._tweet_json(t, tweet_fields) for t in tweets], includes, errors

    def _token(self, direction: str, cursor: str) -> str:
        token = hashlib.sha256(f"{direction}:{cursor}".encode()).hexdigest()[:26]
        self._page_tokens[token] = (direction, int(cursor))
        return token

    # --------------------------------------------------------------- handlers

    async def _get_me(self, request: web.Request) -> web.Response:
        q = self._params(request, ME_PARAMS)
        self._csv(q, "expansions", USER_EXPANSIONS)
        self._csv(q, "tweet.fields", TWEET_FIELDS)
        return _json_response(
            200, {"data": self._user_json(self.bot, self._csv(q, "user.fields", USER_FIELDS))}
        )

    async def _get_mentions(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        q = self._params(request, MENTIONS_PARAMS)
        if not _ID_RE.fullmatch(user_id):
            raise _invalid(
                "id",
                user_id,
                f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$",
            )
        raw_max = q.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            raise _invalid(
                "max_results",
                raw_max,
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
            )
        max_results = int(raw_max)
        since_id, until_id = self._id_param(q, "since_id"), self._id_param(q, "until_id")
        start, end = self._time_param(q, "start_time"), self._time_param(q, "end_time")
        cursor: tuple[str, int] | None = None
        if "pagination_token" in q:
            cursor = self._page_tokens.get(q["pagination_token"])
            if cursor is None:
                raise _invalid(
                    "pagination_token",
                    q["pagination_token"],
                    f"The `pagination_token` query parameter value "
                    f"[{q['pagination_token']}] is not valid",
                )
        self._render([], q)  # validate field lists even when nothing matches
        if user_id not in self._users:
            return _json_response(200, {"errors": [_not_found("user", "id", user_id)]})

        def wanted(t: StoredTweet) -> bool:
            tid = int(t.id)
            return (
                not t.deleted
                and t.author_id != user_id
                and any(m["id"] == user_id for m in t.mentions)
                and (since_id is None or tid > since_id)
                and (until_id is None or tid < until_id)
                and (start is None or t.created_at >= start)
                and (end is None or t.created_at < end)
            )

        # Newest first, like X.
        matches = sorted(filter(wanted, self._tweets.values()), key=lambda t: -int(t.id))
        if cursor is None:
            page = matches[:max_results]
        elif cursor[0] == "next":
            page = [t for t in matches if int(t.id) < cursor[1]][:max_results]
        else:
            newer = [t for t in matches if int(t.id) > cursor[1]]
            page = newer[-max_results:]

        meta: JSONDict = {"result_count": len(page)}
        body: JSONDict = {}
        if page:
            data, includes, errors = self._render(page, q)
            body["data"] = data
            if includes:
                body["includes"] = includes
            if errors:
                body["errors"] = errors
            meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
            if int(matches[-1].id) < int(page[-1].id):
                meta["next_token"] = self._token("next", page[-1].id)
            if cursor is not None and int(matches[0].id) > int(page[0].id):
                meta["previous_token"] = self._token("prev", page[0].id)
        body["meta"] = meta
        return _json_response(200, body)

    async def _get_tweet(self, request: web.Request) -> web.Response:
        tweet_id = request.match_info["id"]
        q = self._params(request, LOOKUP_PARAMS)
        if not _ID_RE.fullmatch(tweet_id):
            raise _invalid(
                "id",
                tweet_id,
                f"The `id` query parameter value [{tweet_id}] does not match ^[0-9]{{1,19}}$",
            )
        tweet = self._visible(tweet_id)
        data, includes, errors = self._render([tweet] if tweet else [], q)
        body: JSONDict = {}
        if tweet is None:
            errors.append(_not_found("tweet", "id", tweet_id))
        else:
            body["data"] = data[0]
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return _json_response(200, body)

    async def _get_tweets(self, request: web.Request) -> web.Response:
        q = self._params(request, LOOKUP_PARAMS | {"ids"})
        raw = q.get("ids", "")
        ids = [i for i in raw.split(",") if i]
        if not 1 <= len(ids) <= 100 or not all(_ID_RE.fullmatch(i) for i in ids):
            raise _invalid("ids", raw, f"The `ids` query parameter value [{raw}] is not valid")
        found = [t for t in (self._visible(i) for i in ids) if t is not None]
        data, includes, errors = self._render(found, q)
        errors += [_not_found("tweet", "ids", i) for i in ids if self._visible(i) is None]
        body: JSONDict = {}
        if data:
            body["data"] = data
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return _json_response(200, body)

    async def _create_tweet(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            raise _Problem(
                400,
                {
                    "errors": [{"message": "Request body is not valid JSON"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": PROBLEMS + "invalid-request",
                },
            ) from None
        if not isinstance(payload, dict):
            raise _invalid("body", str(payload), "Request body must be a JSON object")
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _invalid("text", str(text), "$.text: must be a non-empty string")
        reply = payload.get("reply") or {}
        parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        quote_id = payload.get("quote_tweet_id")
        for name, value in (
            ("reply.in_reply_to_tweet_id", parent_id),
            ("quote_tweet_id", quote_id),
        ):
            if value is not None and not (isinstance(value, str) and _ID_RE.fullmatch(value)):
                raise _invalid(name, str(value), f"$.{name}: string found, pattern ^[0-9]{{1,19}}$")
        if parent_id is not None and self._visible(parent_id) is None:
            raise _Problem(
                403,
                _about_blank(
                    403,
                    "Forbidden",
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                ),
            )
        if quote_id is not None and self._visible(quote_id) is None:
            raise _invalid("quote_tweet_id", quote_id, "Quoted Tweet is deleted or not visible.")
        if _weighted_length(text) > MAX_WEIGHTED_LENGTH:
            raise _Problem(
                400,
                _about_blank(
                    400,
                    "Invalid Request",
                    "Your Tweet text is too long. For more information on how Twitter "
                    "determines text length see https://github.com/twitter/twitter-text.",
                ),
            )
        exclude = (
            set(reply.get("exclude_reply_user_ids") or ()) if isinstance(reply, dict) else set()
        )
        tweet = self._create(
            self.bot.id,
            text,
            reply_to=parent_id,
            quote_of=quote_id,
            extra_mentions=[],
            exclude=exclude,
            lang="en",
        )
        duplicate = any(
            t.author_id == tweet.author_id
            and t.text == tweet.text
            and t.id != tweet.id
            and not t.deleted
            for t in self._tweets.values()
        )
        if duplicate:
            del self._tweets[tweet.id]
            raise _Problem(
                403,
                _about_blank(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                ),
            )
        self._posted_by_bot.append(tweet.id)
        return _json_response(
            201,
            {"data": {"edit_history_tweet_ids": [tweet.id], "id": tweet.id, "text": tweet.text}},
        )


def _leading_handles(text: str) -> list[str]:
    lead = _LEADING_MENTIONS_RE.match(text)
    return [h[1:] for h in lead.group(0).split()] if lead else []


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@asynccontextmanager
async def running_fake_x(fake: FakeX | None = None) -> AsyncIterator[FakeX]:
    """Start ``fake`` (or a default FakeX) on 127.0.0.1:<free port>; stop on exit."""
    server = fake if fake is not None else FakeX()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
