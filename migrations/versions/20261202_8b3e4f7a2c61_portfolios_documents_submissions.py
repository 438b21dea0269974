"""portfolios: evidence entries, documents (bytes in chunk rows), submitted snapshots; a round
names the snapshot it reviews

Revision ID: 8b3e4f7a2c61
Revises: 9c4e2a7b1d36
Create Date: 2026-12-02 00:33:33.245662
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8b3e4f7a2c61"
down_revision: str | None = "9c4e2a7b1d36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portfolio",
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("framework_version_id", sa.Uuid(), nullable=False),
        sa.Column("bytes_used", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidate.id"],
            name=op.f("fk_portfolio_candidate_id_candidate"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["framework_version_id"],
            ["framework_version.id"],
            name=op.f("fk_portfolio_framework_version_id_framework_version"),
        ),
        sa.PrimaryKeyConstraint("candidate_id", name=op.f("pk_portfolio")),
    )
    op.create_table(
        "portfolio_evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("competency", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("indicator_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["portfolio.candidate_id"],
            name=op.f("fk_portfolio_evidence_candidate_id_portfolio"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_evidence")),
    )
    op.create_index(
        "ix_portfolio_evidence_candidate",
        "portfolio_evidence",
        ["candidate_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "portfolio_submission",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("framework_version_id", sa.Uuid(), nullable=False),
        sa.Column("required_competencies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("entries", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("document_count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["portfolio.candidate_id"],
            name=op.f("fk_portfolio_submission_candidate_id_portfolio"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["framework_version_id"],
            ["framework_version.id"],
            name=op.f("fk_portfolio_submission_framework_version_id_framework_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_submission")),
        sa.UniqueConstraint(
            "candidate_id", "number", name=op.f("uq_portfolio_submission_candidate_id_number")
        ),
    )
    op.create_table(
        "portfolio_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["portfolio.candidate_id"],
            name=op.f("fk_portfolio_document_candidate_id_portfolio"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["portfolio_evidence.id"],
            name=op.f("fk_portfolio_document_evidence_id_portfolio_evidence"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_document")),
    )
    op.create_index(
        "ix_portfolio_document_evidence",
        "portfolio_document",
        ["evidence_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_portfolio_document_candidate", "portfolio_document", ["candidate_id"], unique=False
    )
    op.create_table(
        "portfolio_document_chunk",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["portfolio_document.id"],
            name=op.f("fk_portfolio_document_chunk_document_id_portfolio_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "seq", name=op.f("pk_portfolio_document_chunk")),
    )
    # Documents are mostly compressed already (PDF streams, PNG, JPEG, DOCX is a ZIP): stored
    # out of line without another compression attempt.
    op.execute("ALTER TABLE portfolio_document_chunk ALTER COLUMN data SET STORAGE EXTERNAL")
    op.add_column("assessment", sa.Column("portfolio_submission_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_assessment_portfolio_submission_id_portfolio_submission"),
        "assessment",
        "portfolio_submission",
        ["portfolio_submission_id"],
        ["id"],
    )
    op.create_index(
        "ix_assessment_portfolio_submission",
        "assessment",
        ["portfolio_submission_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_assessment_portfolio_submission", table_name="assessment")
    op.drop_constraint(
        op.f("fk_assessment_portfolio_submission_id_portfolio_submission"),
        "assessment",
        type_="foreignkey",
    )
    op.drop_column("assessment", "portfolio_submission_id")
    op.drop_table("portfolio_document_chunk")
    op.drop_index("ix_portfolio_document_candidate", table_name="portfolio_document")
    op.drop_index("ix_portfolio_document_evidence", table_name="portfolio_document")
    op.drop_table("portfolio_document")
    op.drop_table("portfolio_submission")
    op.drop_index("ix_portfolio_evidence_candidate", table_name="portfolio_evidence")
    op.drop_table("portfolio_evidence")
    op.drop_table("portfolio")
