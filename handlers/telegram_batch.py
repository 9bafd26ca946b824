"""Posts forwarded together (a burst of forwards, an album) collected for one combined answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Flush = Callable[[list[T]], Awaitable[None]]
StartTask = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


@dataclass
class _Open(Generic[T]):
    items: list[T] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class Batches(Generic[T]):
    """Per key (a chat), items that arrive within `window` seconds of each other.

    The batch is flushed `window` seconds after its last item, `max_wait` seconds after its
    first, or as soon as it holds `max_items`, whichever comes first.
    """

    def __init__(self, window: float, max_wait: float, max_items: int) -> None:
        self.window, self.max_wait, self.max_items = window, max_wait, max_items
        self._open: dict[int, _Open[T]] = {}
        self._closing = asyncio.Event()

    def add(self, key: int, item: T, flush: Flush[T], start: StartTask) -> None:
        """Add `item`; the first item of a batch starts (via `start`) the task that flushes it.

        `start` is the application's create_task, so a failing flush reaches the error handler.
        """
        batch = self._open.get(key)
        if batch is None or len(batch.items) >= self.max_items:
            batch = self._open[key] = _Open()
            start(self._collect(key, batch, flush))
        batch.items.append(item)
        batch.arrived.set()

    async def _collect(self, key: int, batch: _Open[T], flush: Flush[T]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while len(batch.items) < self.max_items and not self._closing.is_set():
            batch.arrived.clear()
            quiet = min(self.window, deadline - loop.time())
            if quiet <= 0:
                break
            waits = [asyncio.ensure_future(e.wait()) for e in (batch.arrived, self._closing)]
            done, pending = await asyncio.wait(waits, timeout=quiet, return_when="FIRST_COMPLETED")
            for waiter in pending:
                waiter.cancel()
            if not done:  # nothing arrived for `window` seconds
                break
        if self._open.get(key) is batch:
            del self._open[key]
        await flush(batch.items)

    def close(self) -> None:
        """Flush every open batch now (the bot is stopping)."""
        self._closing.set()

    def __len__(self) -> int:
        return len(self._open)
