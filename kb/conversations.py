"""Moderators' unfinished conversations (/new's draft, /translate's target), in the database.

One conversation per moderator per chat, so a moderator may write in a private chat and in the
moderators' group independently. It holds the step it waits at and that step's data as JSON. It
lives in the database, not in a worker's memory, so whichever worker receives the moderator's
next message continues it.

Saving is last-write-wins (one upsert statement). `finish` removes a conversation in one
statement and returns it only to the caller whose statement removed it, so a last step that
reaches two workers at once (a double-pressed "Publish") is carried out once. Plain functions
over a session; the caller commits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from kb.models import Conversation as Row
from kb.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversation:
    step: str
    data: dict[str, Any]
    updated_at: datetime  # the moderator's last step

    def idle(self, now: datetime | None = None) -> float:
        """Seconds since the moderator's last step."""
        return ((now or utcnow()) - self.updated_at).total_seconds()


def _read(row: Row) -> Conversation | None:
    try:
        data = json.loads(row.data)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # A damaged row must not stop the bot: the moderator starts again.
        log.warning("conversation of user %s in chat %s is not JSON", row.user_id, row.chat_id)
        return None
    return Conversation(row.step, data, row.updated_at)


async def get(session: AsyncSession, chat_id: int, user_id: int) -> Conversation | None:
    """The moderator's conversation in this chat, however long it has been idle."""
    row = await session.get(Row, (chat_id, user_id))
    return _read(row) if row is not None else None


async def save(
    session: AsyncSession, chat_id: int, user_id: int, step: str, data: dict[str, Any]
) -> None:
    """Start or move on the moderator's conversation in this chat (the last save wins)."""
    values = {
        "chat_id": chat_id,
        "user_id": user_id,
        "step": step,
        "data": json.dumps(data, ensure_ascii=False, sort_keys=True),
        "updated_at": utcnow(),
    }
    # One INSERT … ON CONFLICT statement, so two workers starting at once cannot collide.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Row).values(values)
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["chat_id", "user_id"],
            set_={k: v for k, v in values.items() if k not in ("chat_id", "user_id")},
        )
    )


async def finish(
    session: AsyncSession, chat_id: int, user_id: int, step: str | None = None
) -> Conversation | None:
    """End the conversation (only if it waits at `step`, when given) and return it.

    None when there was none, or when another caller ended or moved it meanwhile.
    """
    row = await session.get(Row, (chat_id, user_id))
    if row is None or (step is not None and row.step != step):
        return None
    found = _read(row)
    statement = delete(Row).where(
        col(Row.chat_id) == chat_id,
        col(Row.user_id) == user_id,
        col(Row.step) == row.step,
        col(Row.updated_at) == row.updated_at,
    )
    removed = await session.exec(statement)
    return found if removed.rowcount == 1 else None
