"""trials.initialised_from and trials.inherited_share: what a trial's weights started from (the
job's training.initial_weights as given, ``supernet``, or ``trial:<parent>`` for an evolve child)
and the share of its network's parameter values taken from there

Text, not a short string: a path given as training.initial_weights may be 4096 characters long.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("initialised_from", sa.Text(), nullable=True))
        batch.add_column(sa.Column("inherited_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("inherited_share")
        batch.drop_column("initialised_from")
