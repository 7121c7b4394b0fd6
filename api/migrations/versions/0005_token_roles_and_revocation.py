"""api_tokens.role (member or admin) and api_tokens.revoked_at (a revoked token is refused)

The role is per token rather than per team: a team can hold an admin token for whoever runs the
server and member tokens for its jobs and CI, and an admin token is revoked without touching the
team's others. Tokens of the team named ``default`` existing before this revision were made by
``ensure_default_token`` (SCALER_TOKEN, or the token ``scaler serve`` printed at first start): they
become admin tokens, as that function now makes them. Downgrading deletes revoked tokens, since
the older schema cannot tell that they are revoked.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="member"))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE api_tokens SET role = 'admin' WHERE team_id IN (SELECT id FROM teams WHERE name = 'default')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM api_tokens WHERE revoked_at IS NOT NULL")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("role")
