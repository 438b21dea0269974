"""idempotency claim owners: each claim names its process, alive while its heartbeat is fresh

Revision ID: a3c9e41f7b20
Revises: 7c41e0b9d2a5
Create Date: 2026-12-02 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3c9e41f7b20"
down_revision: str | None = "7c41e0b9d2a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_owner",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_owner")),
    )
    # Claims made before this revision have no owner: the old 60-second rule frees them.
    op.add_column("idempotency_record", sa.Column("owner", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("idempotency_record", "owner")
    op.drop_table("idempotency_owner")
