"""The X worker: poll the bot's mentions, answer each one at most once, within X's rules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from bot.x_mentions import fetch_mentions, lookup_mentions
from bot.x_state import XState
from handlers import render_x
from handlers.x import Mention, answer_mention, reason_to_ignore, thread_user_ids, wants_opt_out
from kb import queue, store
from kb.interchange import EntryIn
from kb.models import QueueAsker, utcnow
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)
T = TypeVar("T")

# X's mentions endpoint allows 10 requests per 15 minutes per user on the Basic tier: one poll
# every 90 s. Pro and pay-per-use allow 180 per 15 minutes (one every 5 s).
BASIC_TIER_POLL_INTERVAL = 90.0
# Against floods: one author gets at most this many answers in any hour; the rest are skipped
# (and not queued). Basic allows the bot 100 posts a day in all.
ANSWERS_PER_AUTHOR = 5
ALLOWANCE_WINDOW = timedelta(hours=1)
# A first start (no since_id stored) answers recent mentions only, not months of backlog.
FIRST_RUN_LOOKBACK = timedelta(hours=1)
REQUEST_TIMEOUT = 30.0  # a hung connection must not hold up shutdown for aiohttp's 5 minutes
MAX_BACKOFF = 15 * 60.0  # X's rate-limit window
POST_ATTEMPTS = 3
# Retried with backoff: X's 5xx, broken connections, timeouts, and statuses we do not expect.
TRANSIENT = (tweepy.HTTPException, aiohttp.ClientError, TimeoutError)


class XAccessError(Exception):
    """X refuses our keys or our access tier: polling again cannot help."""


class PostRefused(Exception):
    """X will not take this one reply (duplicate text, deleted post, replies restricted)."""


@dataclass(frozen=True)
class BotAccount:
    id: str
    username: str


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking at once on shutdown; True when the worker should stop."""
    if seconds > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stop.wait()
    return stop.is_set()


def seconds_until_reset(exc: tweepy.TooManyRequests) -> float:
    """Until the latest exhausted window resets: X adds 24-hour caps to the 15-minute one."""
    headers = exc.response.headers
    resets: list[int] = [int(exc.reset_time)] if exc.reset_time is not None else []
    for cap in ("x-app-limit-24hour", "x-user-limit-24hour"):
        if headers.get(f"{cap}-remaining") == "0" and f"{cap}-reset" in headers:
            resets.append(int(headers[f"{cap}-reset"]))
    if not resets:
        return MAX_BACKOFF
    return max(1.0, max(resets) - time.time() + 1)  # +1: X resets at the end of that second


async def _problem_type(exc: tweepy.HTTPException) -> str:
    try:
        body = await exc.response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return ""
    return str(body.get("type", "")) if isinstance(body, dict) else ""


def access_error(exc: tweepy.HTTPException, doing: str) -> XAccessError:
    """One line for the operator: what X said, and what to fix."""
    status = exc.response.status
    said = "; ".join(exc.api_messages)[:300] or str(exc.response.reason)
    if status == 401:
        fix = (
            "X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN or X_ACCESS_TOKEN_SECRET is wrong or was "
            "revoked (regenerate them in the X developer portal)"
        )
    else:
        fix = (
            "the app's X API access cannot do this: reading mentions needs at least the Basic "
            "tier (or pay-per-use credit), replying needs the app's permissions set to "
            '"Read and write" (regenerate the access token after changing them), and the app '
            "must belong to a Project"
        )
    return XAccessError(
        f"X worker stopped: X answered {status} to {doing} ({said}); {fix}. "
        "Other platforms keep running."
    )


class XWorker:
    """Answers the mentions of one X account until `stop` is set."""

    def __init__(
        self,
        client: AsyncClient,
        kb: KnowledgeBase,
        stop: asyncio.Event,
        *,
        poll_interval: float = BASIC_TIER_POLL_INTERVAL,
        reply_links: bool = True,
        answers_per_author: int = ANSWERS_PER_AUTHOR,
    ) -> None:
        self.client = client
        self.kb = kb
        self.stop = stop
        self.poll_interval = poll_interval
        self.reply_links = reply_links
        self.answers_per_author = answers_per_author
        self.state = XState(kb.sessions)
        self.account: BotAccount | None = None

    async def run(self) -> None:
        """Poll until `stop`; raises XAccessError when X refuses our keys or access tier."""
        while not self.stop.is_set():
            await self.poll()
            if await pause(self.stop, self.poll_interval):
                return

    async def identify(self) -> BotAccount | None:
        """Who we are on X (None on shutdown); our own posts and handle depend on it."""
        if self.account is None:
            me = await self._request("reading the bot's account (GET /2/users/me)", self._get_me)
            if me is not None:
                self.account = BotAccount(str(me.data.id), str(me.data.username))
        return self.account

    async def _get_me(self) -> Any:
        return await self.client.get_me(user_auth=True)

    async def poll(self) -> int:
        """Fetch the mentions after `since_id` and handle them oldest first; how many were new."""
        account = await self.identify()
        if account is None:
            return 0
        since_id = await self.state.since_id()
        start = None if since_id else utcnow() - FIRST_RUN_LOOKBACK
        mentions = await self._request(
            "reading mentions (GET /2/users/:id/mentions)",
            lambda: fetch_mentions(self.client, account.id, since_id=since_id, start_time=start),
        )
        for mention in mentions or ():
            if self.stop.is_set():
                break
            try:
                await self.handle(mention, account)
            except XAccessError:
                raise
            except Exception:
                # One bad mention must not stop the others: log it and move past it.
                log.exception("X: could not handle mention %s", mention.post.id)
            await self.state.handled(mention.post.id)
        await self.follow_up(account)
        return len(mentions or ())

    async def follow_up(self, account: BotAccount) -> int:
        """Answer, under their mention, people told "not in our knowledge base yet" whose post
        moderators have since answered (notify-later); each once. How many were answered."""
        async with self.kb.sessions() as session:
            waiting = await queue.entries_awaiting_notice(session, "x")
        told = 0
        for entry_id in waiting:
            async with self.kb.sessions() as session:
                entry = await store.get_entry(session, entry_id)
                # Marked told and committed before posting: another worker finds nobody left.
                askers = await queue.claim_notices(session, entry_id, "x")
                await session.commit()
            if entry is not None and not self.stop.is_set():
                told += await self._tell(entry, askers, account)
        return told

    async def _tell(self, entry: EntryIn, askers: list[QueueAsker], account: BotAccount) -> int:
        wanted = [a for a in askers if not await self.state.opted_out(a.user_id)]
        if not wanted:
            return 0
        # The mentions are read again for whom they @-mention: the follow-up goes under each
        # mention like the first answer, and like it must not notify anyone but the asker.
        mentions = await self._request(
            "reading the askers' mentions again (GET /2/tweets)",
            lambda: lookup_mentions(self.client, [a.message_id for a in wanted]),
        )
        told = 0
        for asker in wanted:
            if mentions is None or self.stop.is_set():
                break
            mention = mentions.get(asker.message_id)
            if mention is None:
                log.info("X: mention %s is deleted or hidden: not following up", asker.message_id)
                continue
            text = render_x.rebuttal(entry, asker.lang or "en", links=self.reply_links)
            if await self.reply(mention, text, account) is not None:
                told += 1
        return told

    async def handle(self, mention: Mention, account: BotAccount) -> None:
        """Answer one mention, unless X's automation rules or our own say not to."""
        post = mention.post
        if post.author_id != account.id and wants_opt_out(mention):
            await self.state.opt_out(post.author_id)
            log.info("X: author %s opted out (mention %s)", post.author_id, post.id)
            return
        reason = reason_to_ignore(mention, account.id)
        if reason is not None:
            log.info("X: not answering mention %s: %s", post.id, reason)
            return
        if await self.state.opted_out(post.author_id):
            log.info("X: not answering mention %s: its author opted out", post.id)
            return
        if await self.state.answered(post.id):
            log.info("X: mention %s was answered before", post.id)
            return
        if await self.state.asks_within(post.author_id, ALLOWANCE_WINDOW) >= (
            self.answers_per_author
        ):
            log.info(
                "X: not answering mention %s: author %s had %d answers this hour",
                post.id,
                post.author_id,
                self.answers_per_author,
            )
            return
        text = await answer_mention(self.kb, mention, links=self.reply_links)
        await self.reply(mention, text, account)

    async def reply(self, mention: Mention, text: str, account: BotAccount) -> str | None:
        """Post `text` in the thread, under the mention; the new post's id, or None."""
        return await self.post_reply(mention.post.id, text, thread_user_ids(mention, account.id))

    async def post_reply(self, to: str, text: str, exclude: list[str]) -> str | None:
        """Post `text` under post `to`, notifying none of `exclude`; the new post's id, or None."""

        async def post() -> Any:
            return await self.client.create_tweet(
                text=text,
                in_reply_to_tweet_id=to,
                # Without this X would also notify everyone the asker's post @-mentions.
                exclude_reply_user_ids=exclude or None,
                user_auth=True,
            )

        try:
            sent = await self._request(
                "posting a reply (POST /2/tweets)", post, attempts=POST_ATTEMPTS, per_post=True
            )
        except PostRefused as exc:
            log.info("X: reply to mention %s refused: %s", to, exc)
            return None
        except tweepy.BadRequest as exc:
            log.error("X: reply to mention %s rejected as invalid: %s", to, exc)
            return None
        if sent is None:
            if not self.stop.is_set():
                log.warning("X: gave up replying to mention %s", to)
            return None
        reply_id = str(sent.data["id"])
        log.info("X: answered mention %s with %s", to, reply_id)
        return reply_id

    async def _request(
        self,
        doing: str,
        call: Callable[[], Awaitable[T]],
        *,
        attempts: int | None = None,
        per_post: bool = False,
    ) -> T | None:
        """`call()`, waiting out rate limits and retrying X's hiccups; None on shutdown.

        401 and 403 raise XAccessError, except (with `per_post`) a 403 about one post.
        """
        failures = 0
        while not self.stop.is_set():
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    return await call()
            except tweepy.TooManyRequests as exc:
                delay = seconds_until_reset(exc)
                log.warning(
                    "X: rate limit hit while %s; waiting %.0f s for the reset", doing, delay
                )
            except tweepy.Forbidden as exc:
                # X words refusals of one post as plain problems ("about:blank"); refusals of
                # the app carry a problem type such as client-forbidden or oauth1-permissions.
                if per_post and await _problem_type(exc) in ("", "about:blank"):
                    raise PostRefused("; ".join(exc.api_messages) or "403") from exc
                raise access_error(exc, doing) from exc
            except tweepy.Unauthorized as exc:
                raise access_error(exc, doing) from exc
            except TRANSIENT as exc:
                if per_post and isinstance(exc, tweepy.BadRequest):
                    raise  # X rejects our text: sending it again cannot help
                failures += 1
                if attempts is not None and failures >= attempts:
                    log.warning("X: %s failed %d times: %s", doing, failures, exc)
                    return None
                delay = min(self.poll_interval * 2**failures, MAX_BACKOFF)
                log.warning("X: %s failed (%s); retrying in %.0f s", doing, exc, delay)
            if await pause(self.stop, delay):
                return None
        return None
