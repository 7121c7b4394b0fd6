"""trials.latency_stats: the whole latency measurement behind a trial's latency_ms (median, p95,
the rounds' medians and spread, device name, runtime, precision, batch, threads), as JSON

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("latency_stats", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("latency_stats")
