"""review queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 01:59:46.433726
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "queueitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("entry_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("resolved_entry_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("queueitem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queueitem_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_queueitem_text_key"), ["text_key"], unique=False)
        batch_op.create_index(
            "uq_queue_open",
            ["text_key", "reason"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "queueasker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["queueitem.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "platform", "chat_id", "user_id"),
    )
    with op.batch_alter_table("queueasker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queueasker_item_id"), ["item_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("queueasker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queueasker_item_id"))

    op.drop_table("queueasker")
    with op.batch_alter_table("queueitem", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_queue_open",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_queueitem_text_key"))
        batch_op.drop_index(batch_op.f("ix_queueitem_status"))

    op.drop_table("queueitem")
