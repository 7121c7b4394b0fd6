"""trials.anchor_recall_before / anchor_recall_after: the anchor fit's best possible recall (the
share of the dataset's labels an anchor can match) of the network's own anchors and of those it
trained with; NULL where no fit ran (space.hyperparameters.anchors off, or a trial recorded before)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("anchor_recall_before", sa.Float(), nullable=True))
        batch.add_column(sa.Column("anchor_recall_after", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("anchor_recall_after")
        batch.drop_column("anchor_recall_before")
