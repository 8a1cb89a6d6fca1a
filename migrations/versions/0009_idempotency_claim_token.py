"""Each claim of an Idempotency-Key carries a token of its own.

A request releases or answers its key only while the claim is still its own: after its claim
lapsed and a retry took the key over, the first request must not free the retry's claim. The
token also lets the service release a claim whose COMMIT an outage cut off (it may or may not
have committed) without ever touching another request's claim.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claims made before this column existed have none; they lapse as before.
    op.execute("ALTER TABLE idempotency_keys ADD COLUMN claim_token uuid")


def downgrade() -> None:
    op.execute("ALTER TABLE idempotency_keys DROP COLUMN claim_token")
