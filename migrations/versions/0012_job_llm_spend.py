"""Each ingestion job keeps what its LLM calls cost over all its attempts, so that an add's
token budget holds across retries; failed jobs are listed per tenant.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE ingest_jobs
            ADD COLUMN llm_calls integer NOT NULL DEFAULT 0,
            ADD COLUMN prompt_tokens integer NOT NULL DEFAULT 0,
            ADD COLUMN completion_tokens integer NOT NULL DEFAULT 0
        """
    )
    # Failed jobs are few and listed newest first, for an operator to retry.
    op.execute(
        "CREATE INDEX ingest_jobs_failed ON ingest_jobs (tenant_id, updated_at DESC, id) "
        "WHERE status = 'failed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ingest_jobs_failed")
    op.execute(
        """
        ALTER TABLE ingest_jobs
            DROP COLUMN llm_calls, DROP COLUMN prompt_tokens, DROP COLUMN completion_tokens
        """
    )
