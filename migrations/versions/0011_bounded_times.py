"""Stored times lie between 1000-01-01 and 9000-01-01 (UTC), as the service now requires.

Before, a created_at of 0001-01-01T00:00:00Z was stored as -infinity and an expires_at at
the end of year 9999 as infinity (asyncpg maps Python's first and last instants to them), and
such rows were read back without a timezone. They are brought into the range: times before
it become its first instant, times after it its last, and an expiry after it means never.
The bounds are written out here as they were when this ran (service.models holds the live
ones).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

EARLIEST = "'1000-01-01 00:00:00+00'::timestamptz"
LAST = "'8999-12-31 23:59:59.999999+00'::timestamptz"


def _clamped(column: str) -> str:
    return f"greatest(least({column}, {LAST}), {EARLIEST})"


def upgrade() -> None:
    # Row-level security is forced on memories: this work spans every tenant.
    op.execute("SELECT set_config('memory.all_tenants', 'on', true)")
    op.execute(
        f"""
        UPDATE memories
        SET created_at = {_clamped("created_at")}, updated_at = {_clamped("updated_at")}
        WHERE created_at NOT BETWEEN {EARLIEST} AND {LAST}
           OR updated_at NOT BETWEEN {EARLIEST} AND {LAST}
        """
    )
    op.execute(f"UPDATE memories SET expires_at = NULL WHERE expires_at > {LAST}")


def downgrade() -> None:
    """Nothing to undo: the times moved stay valid."""
