"""Idempotency keys: the first answer to a request, replayed to its retries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # status NULL: the first request is still running (until locked_until, when a retry may
    # take over: the process that ran it may have died).
    op.execute(
        """
        CREATE TABLE idempotency_keys (
            tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            key           text NOT NULL,
            fingerprint   bytea NOT NULL,
            status        integer,
            content_type  text,
            body          bytea,
            locked_until  timestamptz NOT NULL,
            expires_at    timestamptz NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, key)
        )
        """
    )
    op.execute("CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)")


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_keys")
