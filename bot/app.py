"""`rumorbot run`: start every platform that has credentials, in one asyncio process."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from bot.config import Settings
from bot.open_kb import open_kb
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

# A platform runs until `stop` is set; it returns early (after logging why) when it cannot go on,
# and the other platforms keep running.
Platform = Callable[[Settings, KnowledgeBase, asyncio.Event], Awaitable[None]]


def platforms(settings: Settings) -> dict[str, Platform]:
    found: dict[str, Platform] = {}
    if settings.telegram_bot_token is not None:
        from bot.telegram_app import run_telegram

        found["telegram"] = run_telegram
    if settings.x_configured:
        from bot.x_app import run_x

        found["x"] = run_x
    return found


async def run(settings: Settings) -> int:
    chosen = platforms(settings)
    if not chosen:
        print(
            "rumorbot: nothing to run: set TELEGRAM_BOT_TOKEN (from @BotFather) and/or "
            "X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET "
            '(in the environment or .env); `rumorbot check "…"` works without them',
            file=sys.stderr,
        )
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_kb(settings) as kb:
        try:
            if await kb.seed_if_empty():
                log.info("the KB was empty: loaded the bundled seed KB")
            matcher = await kb.matcher()  # embed and index before the first update arrives
            log.info("KB ready: %d published entries; starting %s", len(matcher), ", ".join(chosen))
            await asyncio.gather(*(start(settings, kb, stop) for start in chosen.values()))
            if not stop.is_set():
                log.error("every platform stopped on its own; see the errors above")
                return 1
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0
