"""Telegram's flood limits on everything the bot sends.

AIORateLimiter paces the overall rate and each group and retries a RetryAfter; Telegram also
asks for about one message a second into a private chat, which AIORateLimiter leaves out, so
this adds that.

aiolimiter is a leaky bucket: with capacity C refilled over T seconds, any W seconds may see
C + C·W/T sends. AIORateLimiter's defaults (30 per 1 s, 20 per 60 s) therefore allow 60 sends
in a second and 40 in a group's minute; the capacities below keep every window within
Telegram's limits of 30 a second and 20 a minute per group.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter, BaseRateLimiter

JSONDict = dict[str, Any]
Result = bool | JSONDict | list[JSONDict]


class FloodLimits(BaseRateLimiter[int]):
    def __init__(self, max_retries: int, private_rate: float = 1.0, private_burst: int = 3) -> None:
        self._inner = AIORateLimiter(
            overall_max_rate=5,  # 5 + 5·1/0.2 = 30 in any second
            overall_time_period=0.2,
            group_max_rate=8,  # 8 + 8·60/40 = 20 in any minute
            group_time_period=40,
            max_retries=max_retries,
        )
        self._rate, self._burst = private_rate, private_burst
        self._private: dict[int, AsyncLimiter] = {}

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    def _limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._private) > 1024:
            # Forget chats whose bucket is full again: they have been quiet for a while.
            self._private = {
                k: v for k, v in self._private.items() if not v.has_capacity(v.max_rate)
            }
        limiter = self._private.get(chat_id)
        if limiter is None:
            limiter = self._private[chat_id] = AsyncLimiter(self._burst, self._burst / self._rate)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        forward = (callback, args, kwargs, endpoint, data, rate_limit_args)
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0:  # positive ids are private chats
            async with self._limiter(chat_id):
                return await self._inner.process_request(*forward)
        return await self._inner.process_request(*forward)
