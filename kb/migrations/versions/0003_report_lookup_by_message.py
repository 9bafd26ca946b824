"""report lookup by message

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 02:36:55.611448
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_platform_message", ["platform", "message_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_platform_message")
