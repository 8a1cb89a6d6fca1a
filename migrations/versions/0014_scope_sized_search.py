"""What a search reads is its scope's rows: the whole-table full-text index goes, and vectors
stay in their rows.

- ``memories_content_terms`` (GIN over every memory's words) serves no query: the keyword
  ranking reads the scope's rows through the scope's btree and matches their words there
  (BM25 needs every row of the scope for its statistics anyway), so the planner never chose
  it, while each insert paid for it (at a million memories, 0.6 of the 0.9 ms a row took to
  insert besides the HNSW index; docs/scaling.md). Dropped and created again CONCURRENTLY, outside
  a transaction, so a live table keeps taking writes.
- ``embedding`` is stored MAIN instead of pgvector's EXTERNAL: a 384-dimension vector is
  1.5 kB, and a row past about 2 kB (a memory of 230 characters or more, with its
  full-text terms) had its vector moved out of line, so an exact ranking of the scope read a
  TOAST row and its index entry beside each memory. MAIN compresses or moves the text first
  and keeps the vector in the row where it fits. Only a catalog change (rows are rewritten
  as they are updated); ``lock_timeout`` keeps it from queueing behind long transactions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '10s'")
    op.execute("ALTER TABLE memories ALTER COLUMN embedding SET STORAGE MAIN")
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS memories_content_terms")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS memories_content_terms "
            "ON memories USING gin (content_terms)"
        )
    op.execute("SET LOCAL lock_timeout = '10s'")
    op.execute("ALTER TABLE memories ALTER COLUMN embedding SET STORAGE EXTERNAL")
