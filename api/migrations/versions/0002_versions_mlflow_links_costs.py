"""job versions (ETags), MLflow links, per-trial wall time and device-hours

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
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("mlflow_experiment_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("mlflow_run_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("seconds", sa.Float(), server_default="0", nullable=False))
        batch.add_column(sa.Column("device_hours", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("device_hours")
        batch.drop_column("seconds")
        batch.drop_column("mlflow_run_id")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("version")
        batch.drop_column("mlflow_experiment_id")
