"""Feedback on memories: whether a recalled memory was useful, kept for tuning and audits.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to memories: feedback outlives a deleted memory, like its history does.
    op.execute(
        """
        CREATE TABLE memory_feedback (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            memory_id  uuid NOT NULL,
            feedback   text CHECK (feedback IN ('POSITIVE', 'NEGATIVE', 'VERY_NEGATIVE')),
            reason     text,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX memory_feedback_memory ON memory_feedback (tenant_id, memory_id)")


def downgrade() -> None:
    op.execute("DROP TABLE memory_feedback")
