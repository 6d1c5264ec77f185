"""A job's artefacts, as gator show --json gives them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nodes", sa.Column("artefacts", sa.JSON))


def downgrade() -> None:
    op.drop_column("nodes", "artefacts")
