"""Row-level security reads the tenant settings once per statement, not once per row.

The policies of migration 0007 call ``current_setting`` (twice) in the condition itself, so
Postgres evaluated them for every row a statement read: a search at a million memories reads
its scope's 1,000 rows twice (the count, then the ranking), 4,000 calls that cost about 2 ms
of a 13 ms statement (docs/benchmarks.md). Wrapped in a scalar subquery, each setting is
read once per statement (an InitPlan) and every row compares with a constant. Which rows are
visible does not change: a setting cannot change during a statement
(tests/hardening/test_policy_equivalence.py compares both for reads and writes). One thing
moves: a tenant setting that is not a uuid (the service never sets one) used to fail every
write on the table, and now fails once a row is checked; either way no row is visible.

``ALTER POLICY`` is a catalog change: no row is rewritten; ``lock_timeout`` keeps it from
queueing behind long transactions.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The tables and columns of migration 0007, which created the policies.
TENANT_TABLES = {
    "tenants": "id",
    "api_keys": "tenant_id",
    "memories": "tenant_id",
    "memory_history": "tenant_id",
    "ingest_jobs": "tenant_id",
    "ingested_messages": "tenant_id",
    "memory_feedback": "tenant_id",
    "idempotency_keys": "tenant_id",
}
READ_ONCE = (
    "(SELECT current_setting('memory.all_tenants', true) = 'on') "
    "OR {column} = (SELECT nullif(current_setting('memory.tenant_id', true), '')::uuid)"
)
# Migration 0007's condition, restored by the downgrade.
READ_PER_ROW = (
    "current_setting('memory.all_tenants', true) = 'on' "
    "OR {column} = nullif(current_setting('memory.tenant_id', true), '')::uuid"
)


def upgrade() -> None:
    _set_policies(READ_ONCE)


def downgrade() -> None:
    _set_policies(READ_PER_ROW)


def _set_policies(condition: str) -> None:
    op.execute("SET LOCAL lock_timeout = '10s'")
    for table, column in TENANT_TABLES.items():
        visible = condition.format(column=column)
        op.execute(
            f"ALTER POLICY tenant_isolation ON {table} USING ({visible}) WITH CHECK ({visible})"
        )
