"""Initial schema: tenants, API keys, memories with embeddings, history, model record.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    dimensions = int(context.config.attributes.get("embedding_dimensions", 384))
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    _create_tenants_and_keys()
    _create_memories(dimensions)
    _create_history()


def _create_tenants_and_keys() -> None:
    op.execute(
        """
        CREATE TABLE tenants (
            id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name       text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE api_keys (
            id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            label      text NOT NULL DEFAULT '',
            key_prefix text NOT NULL,
            key_hash   bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE embedding_model (
            only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            name        text NOT NULL,
            dimensions  integer NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def _create_memories(dimensions: int) -> None:
    op.execute(
        f"""
        CREATE TABLE memories (
            id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            user_id      text,
            agent_id     text,
            run_id       text,
            content      text NOT NULL,
            content_hash bytea NOT NULL,
            embedding    vector({dimensions}) NOT NULL,
            metadata     jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT memories_scope_required
                CHECK (user_id IS NOT NULL OR agent_id IS NOT NULL OR run_id IS NOT NULL)
        )
        """
    )
    # The same text is stored once per exact scope; NULL scope parts compare equal here.
    op.execute(
        """
        CREATE UNIQUE INDEX memories_unique_text_per_scope ON memories
            (tenant_id, coalesce(user_id, ''), coalesce(agent_id, ''), coalesce(run_id, ''),
             content_hash)
        """
    )
    # Scope look-ups and keyset pagination (newest first) per scope kind.
    for column in ("user_id", "agent_id", "run_id"):
        op.execute(
            f"CREATE INDEX memories_by_{column} ON memories "
            f"(tenant_id, {column}, created_at DESC, id DESC) WHERE {column} IS NOT NULL"
        )
    op.execute(
        "CREATE INDEX memories_embedding_hnsw ON memories "
        "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )
    op.execute("CREATE INDEX memories_metadata ON memories USING gin (metadata jsonb_path_ops)")


def _create_history() -> None:
    op.execute(
        """
        CREATE TABLE memory_history (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            memory_id    uuid NOT NULL,
            event        text NOT NULL CHECK (event IN ('ADD', 'UPDATE', 'DELETE', 'NONE')),
            old_content  text,
            new_content  text,
            old_metadata jsonb,
            new_metadata jsonb,
            actor        text NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # History outlives the memory it describes, so there is no foreign key to memories.
    op.execute("CREATE INDEX memory_history_by_memory ON memory_history (tenant_id, memory_id, id)")


def downgrade() -> None:
    for table in ("memory_history", "memories", "embedding_model", "api_keys", "tenants"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
