"""What every Telegram handler can reach through its typed context: the KB and the bot's state."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from telegram import Message
from telegram.ext import Application, CallbackContext, ExtBot

from handlers.telegram_batch import Batches
from handlers.telegram_posts import Post
from kb.roles import Roles
from kb.service import KnowledgeBase


@dataclass(frozen=True)
class Tuning:
    """The bot's behaviour knobs; tests and benchmarks shorten the waits."""

    batch_window: float = 1.5  # forwards this close together are answered together
    batch_max_wait: float = 4.0
    batch_max_posts: int = 10
    flood_posts: int = 10  # a user may send this many posts per flood_period ...
    flood_period: float = 60.0  # ... then gets one friendly message and is ignored a while
    # Auto-replies need a higher bar than the matcher's own: chatter is not a question.
    autoreply_threshold: float = 0.97
    autoreply_cooldown: float = 1800.0  # seconds between auto-replies about one entry in one chat
    # Handlers wait inside the flood limiter; enough slots that a busy group holds up nobody.
    concurrent_updates: int = 64
    rate_limiter: bool = True
    max_retries: int = 3  # RetryAfter retries of each request (AIORateLimiter's default is 0)
    private_chat_rate: float = 1.0  # messages per second into one private chat ...
    private_chat_burst: int = 3  # ... after a short burst, as Telegram asks


class Allowance:
    """Per-user token buckets: `posts` per `period`, refilled continuously."""

    def __init__(
        self, posts: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.posts, self.period, self._clock = posts, period, clock
        self._buckets: dict[int, tuple[float, float, bool]] = {}  # tokens, time, warned

    def take(self, user_id: int) -> str:
        """Return "ok" to go on, "warn" the first time a user runs out, "drop" after that."""
        now = self._clock()
        tokens, then, warned = self._buckets.get(user_id, (float(self.posts), now, False))
        tokens = min(float(self.posts), tokens + (now - then) * self.posts / self.period)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now, False)
            return "ok"
        self._buckets[user_id] = (tokens, now, True)
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        return "drop" if warned else "warn"

    def _forget_idle(self, now: float) -> None:
        # A bucket that has refilled completely holds nothing worth keeping.
        self._buckets = {u: b for u, b in self._buckets.items() if now - b[1] < self.period}


class RecentAnswers:
    """Group messages the bot answered, (chat, message) -> its reply; the oldest are forgotten."""

    def __init__(self, size: int = 5000) -> None:
        self._size = size
        self._answers: OrderedDict[tuple[int, int], int] = OrderedDict()

    def get(self, chat_id: int, message_id: int) -> int | None:
        return self._answers.get((chat_id, message_id))

    def add(self, chat_id: int, message_id: int, reply_id: int) -> None:
        self._answers[(chat_id, message_id)] = reply_id
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


class ChatLocks:
    """One lock per chat, alive only while somebody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, chat_id: int) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        return lock


class Services:
    """The application's bot_data: the KB and the bot's in-memory state, typed."""

    def __init__(
        self,
        kb: KnowledgeBase,
        tuning: Tuning,
        owners: frozenset[int] = frozenset(),
        moderator_chat: int | None = None,
    ) -> None:
        self.kb = kb
        self.tuning = tuning
        # TELEGRAM_OWNER_IDS: manage moderators, and may switch auto-reply in any chat.
        self.roles = Roles.of(owners)
        self.moderator_chat = moderator_chat  # TELEGRAM_MODERATOR_CHAT_ID
        self.allowance = Allowance(tuning.flood_posts, tuning.flood_period)
        self.batches: Batches[tuple[Message, Post]] = Batches(
            tuning.batch_window, tuning.batch_max_wait, tuning.batch_max_posts
        )
        self.answered = RecentAnswers()
        self.chat_locks = ChatLocks()


def services_type(
    kb: KnowledgeBase,
    tuning: Tuning,
    owners: frozenset[int] = frozenset(),
    moderator_chat: int | None = None,
) -> type[Services]:
    """A Services class PTB can build with no arguments (ContextTypes calls bot_data())."""

    class BoundServices(Services):
        def __init__(self) -> None:
            super().__init__(kb, tuning, owners, moderator_chat)

    return BoundServices


# ExtBot[Any]: the bot's rate-limiter arguments differ with and without the rate limiter.
Context: TypeAlias = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], Services]
TelegramApp: TypeAlias = Application[
    ExtBot[Any], Context, dict[Any, Any], dict[Any, Any], Services, None
]
