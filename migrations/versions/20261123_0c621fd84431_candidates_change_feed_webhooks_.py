"""candidates, change feed, webhooks, idempotency

Revision ID: 0c621fd84431
Revises: dfd538158207
Create Date: 2026-11-23 02:08:39.311418
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0c621fd84431"
down_revision: str | None = "dfd538158207"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Autogenerate does not see sequences: the change feed's positions come from this one.
    op.execute(sa.schema.CreateSequence(sa.Sequence("candidate_event_position_seq")))
    op.create_table(
        "candidate_event",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("agency_code", sa.String(length=32), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_candidate_event")),
        sa.UniqueConstraint("id", name=op.f("uq_candidate_event_id")),
    )
    op.create_index(
        "ix_candidate_event_agency_position",
        "candidate_event",
        ["agency_code", "position"],
        unique=False,
    )
    op.create_index(
        op.f("ix_candidate_event_candidate_id"), "candidate_event", ["candidate_id"], unique=False
    )
    op.create_table(
        "idempotency_record",
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "key", name=op.f("pk_idempotency_record")),
    )
    op.create_index(
        op.f("ix_idempotency_record_expires_at"), "idempotency_record", ["expires_at"], unique=False
    )
    op.create_table(
        "candidate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_code", sa.String(length=32), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("position_title", sa.String(length=300), nullable=True),
        sa.Column("salary_grade", sa.SmallInteger(), nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=True),
        sa.Column("track", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("supplemental_deadline", sa.Date(), nullable=True),
        sa.Column("reenrollment_tracks", sa.ARRAY(sa.String(length=16)), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("track IN ('rpl', 'training')", name=op.f("ck_candidate_track_known")),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name=op.f("ck_candidate_priority_range")),
        sa.CheckConstraint(
            "salary_grade BETWEEN 1 AND 33", name=op.f("ck_candidate_salary_grade_range")
        ),
        sa.ForeignKeyConstraint(
            ["agency_code"], ["agency.code"], name=op.f("fk_candidate_agency_code_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate")),
        sa.UniqueConstraint(
            "agency_code", "external_id", name=op.f("uq_candidate_agency_code_external_id")
        ),
    )
    op.create_index(
        "ix_candidate_agency_created",
        "candidate",
        ["agency_code", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_candidate_created", "candidate", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_candidate_status_created", "candidate", ["status", "created_at", "id"], unique=False
    )
    op.create_index("ix_candidate_updated", "candidate", ["updated_at", "id"], unique=False)
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_code", sa.String(length=32), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("delivered_position", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_code"],
            ["agency.code"],
            name=op.f("fk_webhook_subscription_agency_code_agency"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    op.create_index(
        op.f("ix_webhook_subscription_agency_code"),
        "webhook_subscription",
        ["agency_code"],
        unique=False,
    )
    op.create_table(
        "candidate_transition",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidate.id"],
            name=op.f("fk_candidate_transition_candidate_id_candidate"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_transition")),
    )
    op.create_index(
        "ix_candidate_transition_candidate",
        "candidate_transition",
        ["candidate_id", "id"],
        unique=False,
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_position", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    op.create_index(
        "ix_webhook_delivery_subscription",
        "webhook_delivery",
        ["subscription_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_subscription", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index("ix_candidate_transition_candidate", table_name="candidate_transition")
    op.drop_table("candidate_transition")
    op.drop_index(op.f("ix_webhook_subscription_agency_code"), table_name="webhook_subscription")
    op.drop_table("webhook_subscription")
    op.drop_index("ix_candidate_updated", table_name="candidate")
    op.drop_index("ix_candidate_status_created", table_name="candidate")
    op.drop_index("ix_candidate_created", table_name="candidate")
    op.drop_index("ix_candidate_agency_created", table_name="candidate")
    op.drop_table("candidate")
    op.drop_index(op.f("ix_idempotency_record_expires_at"), table_name="idempotency_record")
    op.drop_table("idempotency_record")
    op.drop_index(op.f("ix_candidate_event_candidate_id"), table_name="candidate_event")
    op.drop_index("ix_candidate_event_agency_position", table_name="candidate_event")
    op.drop_table("candidate_event")
    op.execute(sa.schema.DropSequence(sa.Sequence("candidate_event_position_seq")))
