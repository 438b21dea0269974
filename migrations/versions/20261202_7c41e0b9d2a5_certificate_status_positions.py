"""certificate status positions: each certificate's bit in a revocation status list

Revision ID: 7c41e0b9d2a5
Revises: 5e0d3c1f9a27
Create Date: 2026-12-02 01:00:00

Certificates issued before get positions drawn at random, without repeats, from the whole of
list 1 (131,072 positions), as new ones are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c41e0b9d2a5"
down_revision: str | None = "5e0d3c1f9a27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_LIST_SIZE = 131_072


def upgrade() -> None:
    op.add_column("certificate", sa.Column("status_list", sa.Integer(), nullable=True))
    op.add_column("certificate", sa.Column("status_index", sa.Integer(), nullable=True))
    # Pair the certificates, in random order, with a random sample of distinct positions.
    op.execute(
        """
        UPDATE certificate SET status_list = 1, status_index = drawn.position
        FROM (
            SELECT c.serial, p.position
            FROM (SELECT serial, row_number() OVER (ORDER BY random()) AS n FROM certificate) c
            JOIN (
                SELECT position, row_number() OVER (ORDER BY random()) AS n
                FROM generate_series(0, 131071) AS position
            ) p USING (n)
        ) drawn
        WHERE certificate.serial = drawn.serial
        """
    )
    op.alter_column("certificate", "status_list", nullable=False)
    op.alter_column("certificate", "status_index", nullable=False)
    op.create_check_constraint(
        op.f("ck_certificate_status_list_positive"), "certificate", "status_list >= 1"
    )
    op.create_check_constraint(
        op.f("ck_certificate_status_index_in_list"),
        "certificate",
        f"status_index >= 0 AND status_index < {STATUS_LIST_SIZE}",
    )
    op.create_unique_constraint(
        op.f("uq_certificate_status_list_status_index"),
        "certificate",
        ["status_list", "status_index"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("uq_certificate_status_list_status_index"), "certificate", type_="unique"
    )
    op.drop_constraint(op.f("ck_certificate_status_index_in_list"), "certificate", type_="check")
    op.drop_constraint(op.f("ck_certificate_status_list_positive"), "certificate", type_="check")
    op.drop_column("certificate", "status_index")
    op.drop_column("certificate", "status_list")
