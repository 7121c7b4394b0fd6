"""trials.latency_predicted_ms: the device's latency model's prediction for the trial's network,
made before the network was built (a candidate whose prediction breaks max_latency_ms is rejected
as infeasible without being built, measured or trained)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("latency_predicted_ms", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("latency_predicted_ms")
