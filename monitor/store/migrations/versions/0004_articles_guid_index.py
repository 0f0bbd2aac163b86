"""Index articles by GUID: the dedup lookup "this source sent this GUID before" scanned every
sighting, once per new item, so a first poll grew with the square of the store.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_guid", "articles", ["guid"])


def downgrade() -> None:
    op.drop_index("ix_articles_guid", table_name="articles")
