"""Alembic environment: runs on the connection kb.db.migrate hands it."""

from alembic import context
from sqlmodel import SQLModel

import kb.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through kb.db.migrate (it passes the connection)")
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=True,  # SQLite can only ALTER by copying tables
)
with context.begin_transaction():
    context.run_migrations()
