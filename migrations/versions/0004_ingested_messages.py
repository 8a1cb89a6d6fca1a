"""What each user message already led to, so that a repeated message needs no LLM call.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ingested_messages (
            tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            scope_key     text NOT NULL,
            message_hash  bytea NOT NULL,
            memory_ids    uuid[] NOT NULL,
            memory_hashes bytea[] NOT NULL,
            ingested_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, scope_key, message_hash)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE ingested_messages")
