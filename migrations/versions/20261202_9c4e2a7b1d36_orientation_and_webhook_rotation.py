"""orientation sessions and attendees; webhook secret rotation

Revision ID: 9c4e2a7b1d36
Revises: a3c9e41f7b20
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c4e2a7b1d36"
down_revision: str | None = "a3c9e41f7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orientation_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("venue", sa.String(length=300), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_orientation_session_ends_after_start")
        ),
        sa.CheckConstraint(
            "mode IN ('online', 'in_person')", name=op.f("ck_orientation_session_mode_known")
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_orientation_session_capacity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orientation_session")),
    )
    op.create_index(
        "ix_orientation_session_starts", "orientation_session", ["starts_at", "id"], unique=False
    )
    op.create_table(
        "orientation_attendee",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.Column("attendance_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidate.id"],
            name=op.f("fk_orientation_attendee_candidate_id_candidate"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["orientation_session.id"],
            name=op.f("fk_orientation_attendee_session_id_orientation_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "candidate_id", name=op.f("pk_orientation_attendee")),
    )
    op.create_index(
        "ix_orientation_attendee_candidate", "orientation_attendee", ["candidate_id"], unique=False
    )
    op.create_index(
        "ix_orientation_attendee_session_registered",
        "orientation_attendee",
        ["session_id", "registered_at"],
        unique=False,
    )
    op.add_column(
        "webhook_subscription",
        sa.Column("previous_secret", sa.String(length=200), nullable=True),
    )
    op.add_column(
        "webhook_subscription",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("webhook_subscription", "previous_secret_expires_at")
    op.drop_column("webhook_subscription", "previous_secret")
    op.drop_index("ix_orientation_attendee_session_registered", table_name="orientation_attendee")
    op.drop_index("ix_orientation_attendee_candidate", table_name="orientation_attendee")
    op.drop_table("orientation_attendee")
    op.drop_index("ix_orientation_session_starts", table_name="orientation_session")
    op.drop_table("orientation_session")
