"""Per-chat settings of the bot (auto-reply, its bar, its cooldowns) in the `Setting` table.

Each chat's settings are one JSON value under `<platform>:chat:<id>`, so no migration is needed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kb import store
from kb.models import Report

log = logging.getLogger(__name__)

MIN_THRESHOLD = 0.5  # below this an auto-reply would answer posts the matcher itself doubts
MAX_THRESHOLD = 1.0


@dataclass
class ChatSettings:
    autoreply: bool = False
    threshold: float | None = None  # None: the bot's default bar
    answered: dict[str, float] = field(default_factory=dict)  # entry id -> time of last answer


def _key(platform: str, chat_id: int | str) -> str:
    return f"{platform}:chat:{chat_id}"


async def _read(session: AsyncSession, key: str) -> ChatSettings:
    value = await store.get_setting(session, key)
    if not value:
        return ChatSettings()
    try:
        data = json.loads(value)
        return ChatSettings(
            autoreply=bool(data.get("autoreply", False)),
            threshold=data.get("threshold"),
            answered={str(k): float(v) for k, v in data.get("answered", {}).items()},
        )
    except (ValueError, TypeError, AttributeError):
        # A damaged value must not stop the bot: start over with auto-reply off.
        log.warning("chat settings %s are not valid JSON settings; using the defaults", key)
        return ChatSettings()


async def _write(session: AsyncSession, key: str, settings: ChatSettings) -> None:
    await store.set_setting(session, key, json.dumps(asdict(settings), sort_keys=True))


async def load(
    sessions: async_sessionmaker[AsyncSession], chat_id: int | str, platform: str = "tg"
) -> ChatSettings:
    """The chat's settings; defaults (auto-reply off) for a chat never configured."""
    async with sessions() as session:
        return await _read(session, _key(platform, chat_id))


async def set_autoreply(
    sessions: async_sessionmaker[AsyncSession],
    chat_id: int | str,
    on: bool,
    platform: str = "tg",
) -> ChatSettings:
    return await _update(sessions, _key(platform, chat_id), autoreply=on)


async def set_threshold(
    sessions: async_sessionmaker[AsyncSession],
    chat_id: int | str,
    threshold: float,
    platform: str = "tg",
) -> ChatSettings:
    """Raise or lower the chat's auto-reply bar; ValueError outside 0.5–1.0."""
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        raise ValueError(f"threshold must be between {MIN_THRESHOLD} and {MAX_THRESHOLD}")
    return await _update(sessions, _key(platform, chat_id), threshold=threshold)


async def _update(
    sessions: async_sessionmaker[AsyncSession], key: str, **changes: Any
) -> ChatSettings:
    async with sessions() as session:
        settings = replace(await _read(session, key), **changes)
        await _write(session, key, settings)
        await session.commit()
    return settings


async def claim_auto_reply(
    sessions: async_sessionmaker[AsyncSession],
    report: Report,
    *,
    now: float,
    cooldown: float,
    platform: str = "tg",
) -> int | None:
    """Record an auto-reply unless the chat got one for this entry within `cooldown` seconds.

    Returns the new report's id (for the feedback buttons), or None when the bot must stay
    silent: auto-reply was switched off meanwhile, or the entry is cooling down in this chat.
    Callers serialise claims per chat; this is a read-modify-write of one JSON value.
    """
    if report.entry_id is None:
        raise ValueError("an auto-reply answers an entry")
    async with sessions() as session:
        key = _key(platform, report.chat_id)
        settings = await _read(session, key)
        last = settings.answered.get(report.entry_id)
        if not settings.autoreply or (last is not None and now - last < cooldown):
            return None
        # Forget cooled-down entries so the value stays small in busy chats.
        settings.answered = {e: t for e, t in settings.answered.items() if now - t < cooldown}
        settings.answered[report.entry_id] = now
        await _write(session, key, settings)
        saved = await store.record_report(session, report)
        await session.commit()
        return saved.id
