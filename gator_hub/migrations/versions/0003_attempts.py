"""A retried job's earlier attempts, as gator show --json gives them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nodes", sa.Column("attempts", sa.JSON))


def downgrade() -> None:
    op.drop_column("nodes", "attempts")
