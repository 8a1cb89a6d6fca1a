"""Full-text search on memory content, for keyword and hybrid search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE memories ADD COLUMN content_terms tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
    )
    op.execute("CREATE INDEX memories_content_terms ON memories USING gin (content_terms)")


def downgrade() -> None:
    op.execute("DROP INDEX memories_content_terms")
    op.execute("ALTER TABLE memories DROP COLUMN content_terms")
