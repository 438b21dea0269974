"""candidate search indexes: the list's `q` by employee id, e-mail or family-name prefix

Revision ID: 1a76cb4d1da5
Revises: ffda674b7d8f
Create Date: 2026-11-23 02:55:23.967429
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1a76cb4d1da5"
down_revision: str | None = "ffda674b7d8f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_candidate_external_id", "candidate", ["external_id"], unique=False)
    op.create_index(
        "ix_candidate_email_lower", "candidate", [sa.literal_column("lower(email)")], unique=False
    )
    op.create_index(
        "ix_candidate_family_name_lower",
        "candidate",
        [sa.literal_column("lower(family_name) text_pattern_ops")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_candidate_family_name_lower", table_name="candidate")
    op.drop_index("ix_candidate_email_lower", table_name="candidate")
    op.drop_index("ix_candidate_external_id", table_name="candidate")
