"""latency_measurements: the stable latency measurements of networks on devices (issue 25), one
per cache key (``workers.latency_cache.measurement_key``), which later jobs on the same device
reuse instead of timing the network again. Downgrading drops them (they are only a cache).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latency_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("runtime", sa.String(length=32), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_latency_measurements_device", "latency_measurements", ["device"])


def downgrade() -> None:
    op.drop_index("ix_latency_measurements_device", table_name="latency_measurements")
    op.drop_table("latency_measurements")
