"""The X platform for `rumorbot run`: a tweepy client on our session, and the mention worker."""

from __future__ import annotations

import asyncio
import logging

from pydantic import SecretStr
from tweepy.asynchronous import AsyncClient

from bot.config import Settings
from bot.x_http import build_x_session
from bot.x_worker import XAccessError, XWorker
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


async def run_x(settings: Settings, kb: KnowledgeBase, stop: asyncio.Event) -> None:
    """Answer mentions on X until `stop`; return early, after one log line, when X refuses us."""
    # At DEBUG, tweepy logs every request's headers and oauthlib what it signs: both show the
    # consumer key and the access token.
    for name in ("tweepy", "oauthlib"):
        if logging.getLogger(name).getEffectiveLevel() < logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)
    try:
        session = build_x_session(settings.x_api_base_url)
    except ValueError as exc:
        log.error("X worker not started: bad X_API_BASE_URL: %s", exc)
        return
    async with session:
        client = AsyncClient(
            bearer_token=_secret(settings.x_bearer_token),
            consumer_key=_secret(settings.x_api_key),
            consumer_secret=_secret(settings.x_api_secret),
            access_token=_secret(settings.x_access_token),
            access_token_secret=_secret(settings.x_access_token_secret),
            # Not wait_on_rate_limit: tweepy 4.17 crashes on a 429 for user-context calls;
            # the worker waits for the reset itself.
        )
        # tweepy 4.17's AsyncClient takes no session argument; it never closes one it did
        # not create, so `async with session` above does.
        client.session = session
        worker = XWorker(
            client,
            kb,
            stop,
            poll_interval=settings.x_poll_interval,
            reply_links=settings.x_reply_links,
        )
        try:
            account = await worker.identify()
            if account is None:
                return
            log.info(
                "X: answering mentions of @%s every %g s", account.username, worker.poll_interval
            )
            await worker.run()
        except XAccessError as exc:
            log.error("%s", exc)
        except Exception:
            log.exception("X worker crashed; other platforms keep running")
