"""family-name search order: `q` results page by (lower(family_name) in byte order, id)

Revision ID: 5e0d3c1f9a27
Revises: 1a76cb4d1da5
Create Date: 2026-11-23 04:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0d3c1f9a27"
down_revision: str | None = "1a76cb4d1da5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CONCURRENTLY, outside a transaction: a large candidate table stays writable meanwhile.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_candidate_family_name_key",
            "candidate",
            [sa.literal_column('(lower(family_name) COLLATE "C")'), "id"],
            unique=False,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_candidate_family_name_lower", table_name="candidate", postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_candidate_family_name_lower",
            "candidate",
            [sa.literal_column("lower(family_name) text_pattern_ops")],
            unique=False,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_candidate_family_name_key", table_name="candidate", postgresql_concurrently=True
        )
