"""The embedding record names the weights' precision and the document prompt as well.

Vectors are comparable only when the same model made them at the same precision (float or
int8) from texts behind the same document prompt ("passage: " for e5), so the service refuses
to start when either differs from what wrote the stored vectors.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Before this, no prompt was ever applied: '' is exact. The precision was not recorded;
    # the service fills it in from its setting at its next start.
    op.execute(
        """
        ALTER TABLE embedding_model
            ADD COLUMN weights text CHECK (weights IN ('float', 'int8')),
            ADD COLUMN document_prompt text NOT NULL DEFAULT ''
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE embedding_model DROP COLUMN weights, DROP COLUMN document_prompt")
