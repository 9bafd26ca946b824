"""`rumorbot run`: start every platform that has credentials, in one asyncio process."""

from __future__ import annotations

import logging
import sys

from bot.config import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    if settings.telegram_bot_token is None and settings.x_api_key is None:
        print(
            "rumorbot: nothing to run: set TELEGRAM_BOT_TOKEN (from @BotFather) and/or the "
            "X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET variables "
            "(or put them in .env); `rumorbot check \"…\"` works without them",
            file=sys.stderr,
        )
        return 2
    raise NotImplementedError("platform workers arrive with the Telegram and X issues")
