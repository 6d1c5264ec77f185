"""The first schema: runs and their nodes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out rather than taken from schema.py: a migration must stay what it was.
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("spec_text", sa.Text),
        sa.Column("spec_file", sa.Text),
        sa.Column("spec_hash", sa.String(64)),
        sa.Column("spec_name", sa.Text),
        sa.Column("user", sa.Text),
        sa.Column("host", sa.Text),
        sa.Column("argv", sa.JSON),
        sa.Column("scheduler", sa.Text),
        sa.Column("seed", sa.BigInteger),
        sa.Column("tracking", sa.Text),
        sa.Column("started", sa.Float),
        sa.Column("stopped", sa.Float),
        sa.Column("listed_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16)),
        sa.Column("jobs", sa.JSON),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("ix_runs_listed", "runs", ["listed_at", "id"])
    op.create_index("ix_runs_spec", "runs", ["spec_name", "listed_at"])
    op.create_index("ix_runs_user", "runs", ["user", "listed_at"])
    op.create_index("ix_runs_result", "runs", ["result", "listed_at"])
    op.create_index("ix_runs_stopped", "runs", ["stopped"])
    op.create_table(
        "nodes",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("parent", sa.Text),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("node_id", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("exit_code", sa.BigInteger),
        sa.Column("started", sa.Float),
        sa.Column("stopped", sa.Float),
        sa.Column("duration", sa.Float),
        sa.Column("peak_memory", sa.Float),
        sa.Column("messages", sa.JSON),
        sa.Column("jobs", sa.JSON),
        sa.Column("metrics", sa.JSON),
        sa.Column("tracking", sa.Text),
        sa.Column("log", sa.Text),
        sa.Column("native_id", sa.Text),
        sa.Column("host", sa.Text),
        sa.Column("seed", sa.BigInteger),
        sa.Column("first_errors", sa.JSON),
    )
    op.create_index("ix_nodes_parent", "nodes", ["run_id", "parent"])
    op.create_index("ix_nodes_result", "nodes", ["run_id", "result"])


def downgrade() -> None:
    op.drop_table("nodes")
    op.drop_table("runs")
