"""Memories may expire: never returned after ``expires_at``, purged by the maintenance loop.

History rows also record the memory's scope, so that forgetting a scope can remove the
history text of memories deleted earlier too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE memories ADD COLUMN expires_at timestamptz")
    op.execute(
        "CREATE INDEX memories_expiring ON memories (expires_at) WHERE expires_at IS NOT NULL"
    )
    for column in ("user_id", "agent_id", "run_id"):
        op.execute(f"ALTER TABLE memory_history ADD COLUMN {column} text")
    op.execute(
        """
        UPDATE memory_history h
        SET user_id = m.user_id, agent_id = m.agent_id, run_id = m.run_id
        FROM memories m WHERE m.id = h.memory_id
        """
    )
    for column in ("user_id", "agent_id", "run_id"):
        op.execute(
            f"CREATE INDEX memory_history_by_{column} ON memory_history (tenant_id, {column}) "
            f"WHERE {column} IS NOT NULL"
        )


def downgrade() -> None:
    for column in ("user_id", "agent_id", "run_id"):
        op.execute(f"ALTER TABLE memory_history DROP COLUMN {column}")
    op.execute("DROP INDEX memories_expiring")
    op.execute("ALTER TABLE memories DROP COLUMN expires_at")
