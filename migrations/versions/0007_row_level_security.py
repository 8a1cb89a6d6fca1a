"""Row-level security on every tenant table: defence in depth behind the queries' own scoping.

Each connection of the service names its tenant in ``memory.tenant_id`` (or sets
``memory.all_tenants`` for work that spans tenants, such as authenticating a key); a query
that forgets its ``tenant_id = $1`` still sees only that tenant's rows. FORCE makes the
policies apply to the tables' owner too. Superusers and BYPASSRLS roles are exempt from any
policy, so the role ``memory_service_app`` is created (when the migrating user may) for such
a connection to switch to.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APP_ROLE = "memory_service_app"
VISIBLE = (
    "current_setting('memory.all_tenants', true) = 'on' "
    "OR {column} = nullif(current_setting('memory.tenant_id', true), '')::uuid"
)
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


def upgrade() -> None:
    for table, column in TENANT_TABLES.items():
        condition = VISIBLE.format(column=column)
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) "
            f"WITH CHECK ({condition})"
        )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}')
               AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)
            THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                EXECUTE 'GRANT USAGE ON SCHEMA public TO {APP_ROLE}';
                EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public '
                        'TO {APP_ROLE}';
                EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}';
                EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, '
                        'DELETE ON TABLES TO {APP_ROLE}';
                EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON '
                        'SEQUENCES TO {APP_ROLE}';
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
