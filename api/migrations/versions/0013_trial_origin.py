"""trials.origin / trials.source: where a trial's result comes from — "searched" (the job's search
proposed and trained it: every trial recorded before), "imported" (measured elsewhere and posted to
``POST /v1/jobs/{id}/trials/import``) or "warm_start" (an earlier job's measured trial reused) — and,
for a result the job did not train, the text saying where it was measured (NULL otherwise).
Downgrading drops both columns; an imported or warm-started row then reads as a trial of the job.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=16), nullable=False, server_default="searched"))
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("source")
        batch.drop_column("origin")
