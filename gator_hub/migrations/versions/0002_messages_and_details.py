"""Job messages and job details kept in the hub, for runs whose tracking
directory the hub cannot read (docs/hub.md, "Messages").

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_messages_severity", "messages", ["run_id", "path", "severity"])
    op.create_table(
        "details",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("attrs", sa.JSON),
        sa.Column("samples", sa.JSON),
    )
    op.add_column("runs", sa.Column("readable", sa.Boolean))


def downgrade() -> None:
    op.drop_column("runs", "readable")
    op.drop_table("details")
    op.drop_index("ix_messages_severity", "messages")
    op.drop_table("messages")
