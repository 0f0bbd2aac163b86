"""Keep the digests of a feed's items, so a poll parses only the items that changed.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("item_digests", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("item_digests_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("item_digests_at")
        batch.drop_column("item_digests")
