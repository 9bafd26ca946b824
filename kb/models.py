"""Database tables of the knowledge base and of what the bot saw."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Verdict(StrEnum):
    FALSE = "false"
    MISLEADING = "misleading"
    UNPROVEN = "unproven"
    PARTLY_TRUE = "partly_true"
    TRUE = "true"


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Entry(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=120)
    claim: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    verdict: str = Field(max_length=20)
    lang: str = Field(max_length=8)
    status: str = Field(default=Status.PUBLISHED.value, max_length=12, index=True)
    tags: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    helpful_count: int = 0
    not_this_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Variant(SQLModel, table=True):
    """Another phrasing of an entry's rumour; `negative` marks a counter-example."""

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="entry.id", index=True, max_length=120)
    text: str = Field(sa_column=Column(Text, nullable=False))
    lang: str | None = Field(default=None, max_length=8)
    negative: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Translation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("entry_id", "lang"),)
    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="entry.id", index=True, max_length=120)
    lang: str = Field(max_length=8)
    claim: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="entry.id", index=True, max_length=120)
    position: int = 0
    url: str = Field(sa_column=Column(Text, nullable=False))
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    publisher: str = Field(default="", max_length=200)
    date: str = Field(default="", max_length=32)


class Appearance(SQLModel, table=True):
    """A link where the rumour itself was posted: a post carrying it matches exactly."""

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="entry.id", index=True, max_length=120)
    url: str = Field(sa_column=Column(Text, nullable=False))
    url_key: str = Field(index=True, max_length=500)


class Media(SQLModel, table=True):
    """A photo or video fingerprint (Telegram's file_unique_id) attached to an entry."""

    __table_args__ = (UniqueConstraint("platform", "file_unique_id"),)
    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="entry.id", index=True, max_length=120)
    platform: str = Field(default="telegram", max_length=16)
    file_unique_id: str = Field(max_length=200)


class Vector(SQLModel, table=True):
    """A stored embedding of one text the matcher compares posts with."""

    __table_args__ = (UniqueConstraint("model", "text_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(max_length=64)
    text_hash: str = Field(max_length=64)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Report(SQLModel, table=True):
    """One post somebody asked about, and what the bot decided."""

    # "was this X mention answered already?" is asked for every mention polled
    __table_args__ = (Index("ix_report_platform_message", "platform", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16, index=True)
    chat_id: str = Field(default="", max_length=64)
    message_id: str = Field(default="", max_length=64)
    user_id: str = Field(default="", max_length=64)
    url: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    text: str = Field(sa_column=Column(Text, nullable=False))
    lang: str = Field(default="", max_length=8)
    decision: str = Field(max_length=8, index=True)
    entry_id: str | None = Field(default=None, max_length=120, index=True)
    score: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=40)
    entry_id: str | None = Field(default=None, max_length=120, index=True)
    before: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    after: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Setting(SQLModel, table=True):
    """Small key/value state: the KB version counter, X's since_id, chat settings."""

    key: str = Field(primary_key=True, max_length=200)
    value: str = Field(sa_column=Column(Text, nullable=False))


class QueueItem(SQLModel, table=True):
    """A post the bot could not answer (or answered wrongly), waiting for a moderator.

    Identical posts (same cleaned text) from many users count up on one item.
    """

    # One open item per post and reason; resolved ones may repeat.
    __table_args__ = (
        Index(
            "uq_queue_open",
            "text_key",
            "reason",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_key: str = Field(max_length=64, index=True)
    reason: str = Field(max_length=16)  # no_match | wrong_match | declined
    entry_id: str | None = Field(default=None, max_length=120)  # the wrong match, if any
    count: int = 1
    status: str = Field(default="open", max_length=12, index=True)  # open | resolved | dismissed
    resolved_entry_id: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class QueueAsker(SQLModel, table=True):
    """Who sent a queued post, so they hear back once it is answered."""

    __table_args__ = (UniqueConstraint("item_id", "platform", "chat_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="queueitem.id", index=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    user_id: str = Field(default="", max_length=64)
    message_id: str = Field(default="", max_length=64)
    lang: str = Field(default="en", max_length=8)
    notified: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Moderator(SQLModel, table=True):
    """A Telegram user allowed to change the KB; owners (TELEGRAM_OWNER_IDS) add and remove them."""

    user_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200)
    added_by: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class BlockedUser(SQLModel, table=True):
    """A user whose posts are still answered from the KB but never queued for moderators."""

    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    blocked_by: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    """A moderator's unfinished /new or /translate in one chat (see kb/conversations.py).

    Here rather than in one worker's memory, so that any worker continues it.
    """

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    step: str = Field(max_length=32)
    data: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    updated_at: datetime = Field(default_factory=utcnow)  # the moderator's last step
