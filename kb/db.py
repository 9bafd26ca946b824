"""Database engine, sessions and schema migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS = Path(__file__).parent / "migrations"
POOL_TIMEOUT = 120  # seconds a transaction may queue for SQLite's one connection
BUSY_TIMEOUT = 10  # seconds a transaction waits for another process's SQLite write lock


class BadDatabaseUrl(ValueError):
    """DATABASE_URL names a database this project cannot use."""


def async_url(url: str) -> str:
    """Turn `sqlite:///x.db` or `postgresql://…` into the async driver's URL."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse text
        raise BadDatabaseUrl(f"DATABASE_URL is not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise BadDatabaseUrl(f"DATABASE_URL must start with sqlite:/// or postgresql://, not {backend}")


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    # We issue BEGIN ourselves (below); the driver's own deferred BEGIN would let two
    # writers both read, then fail to upgrade to a write lock ("database is locked").
    dbapi_conn.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL lets the bot read while an import writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT * 1000}")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for DATABASE_URL; the SQLite file's folder is created if missing."""
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        options = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Every transaction takes SQLite's write lock, so a process gains nothing from a
            # second connection, and with several they wait in SQLite's busy handler, which is
            # not first come first served: under a burst one report waited past busy_timeout
            # and its post went unanswered. One connection makes the process's transactions
            # queue in turn; busy_timeout is left for other processes on the same file.
            options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": POOL_TIMEOUT}
        engine = create_async_engine(full, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(full, pool_pre_ping=True)


def _begin_immediate(conn: Connection) -> None:
    # Take the write lock up front: concurrent writers then wait (busy_timeout) in turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema up to date (alembic `upgrade head`)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Engine + migrations + session factory for the lifetime of the block."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        yield sessionmaker(engine)
    finally:
        await engine.dispose()
