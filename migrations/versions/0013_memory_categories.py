"""Memories carry categories (labels the LLM chooses from an add's or its tenant's
categories), and each tenant keeps its default extraction instructions and categories (Mem0's
project settings).

``memories.categories`` is ``text[]``, not ``jsonb``: a category is one string, and the
filters on it are the array operators Postgres indexes with GIN: ``@>`` (the memory has this
category) and ``&&`` (it has one of these). Adding a column with a constant default rewrites
no row; the index is built in this migration's transaction.

The defaults are columns of ``tenants`` (the tenant is Mem0's project here): one row per
tenant already exists, already under row-level security. The categories are ``jsonb``, an
ordered list of ``{"name", "description"}`` read and written whole, never filtered on.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE memories ADD COLUMN categories text[] NOT NULL DEFAULT '{}'")
    op.execute("CREATE INDEX memories_categories ON memories USING gin (categories)")
    op.execute(
        """
        ALTER TABLE tenants
            ADD COLUMN custom_instructions text,
            ADD COLUMN custom_categories jsonb NOT NULL DEFAULT '[]'::jsonb
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE tenants DROP COLUMN custom_instructions, DROP COLUMN custom_categories")
    op.execute("DROP INDEX memories_categories")
    op.execute("ALTER TABLE memories DROP COLUMN categories")
