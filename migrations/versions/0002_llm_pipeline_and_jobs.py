"""LLM pipeline: who decided each change, and the asynchronous ingestion queue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE memory_history ADD COLUMN llm_model text")
    op.execute("ALTER TABLE memory_history ADD COLUMN prompt_version text")
    op.execute(
        """
        CREATE TABLE ingest_jobs (
            id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            status          text NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'done', 'failed')),
            request         jsonb NOT NULL,
            result          jsonb,
            last_error      text,
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            lease_expires_at timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # Workers look for runnable jobs: queued and due, or running with an expired lease.
    op.execute(
        "CREATE INDEX ingest_jobs_runnable ON ingest_jobs (next_attempt_at) "
        "WHERE status IN ('queued', 'running')"
    )
    op.execute("CREATE INDEX ingest_jobs_by_tenant ON ingest_jobs (tenant_id, created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE ingest_jobs")
    op.execute("ALTER TABLE memory_history DROP COLUMN prompt_version")
    op.execute("ALTER TABLE memory_history DROP COLUMN llm_model")
