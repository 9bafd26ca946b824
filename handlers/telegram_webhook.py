"""Webhook mode: Telegram POSTs each update to our aiohttp server, which checks the secret and
puts the update on the application's queue (the same queue polling fills)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Bot, Update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  (a header name, not a secret)


def webhook_app(bot: Bot, queue: asyncio.Queue[object], path: str, secret: str) -> web.Application:
    """An aiohttp application that accepts updates at `path` carrying `secret`, nothing else."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning(
                "refused a webhook request without the right secret from %s", request.remote
            )
            return web.Response(status=403, text="wrong or missing secret token")
        try:
            data: Any = await request.json()
            update = Update.de_json(data, bot)
        except (json.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError):
            log.warning("refused a webhook request that is not a Telegram update")
            return web.Response(status=400, text="not a Telegram update")
        await queue.put(update)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(path, receive)
    return app


async def start_webhook_server(app: web.Application, listen: str, port: int) -> web.AppRunner:
    """Serve `app` on listen:port; the caller cleans the runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, listen, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
