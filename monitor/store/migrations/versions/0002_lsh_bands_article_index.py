"""Index lsh_bands by article: revising, merging or deleting an article was a full scan.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_lsh_bands_article_id", "lsh_bands", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_lsh_bands_article_id", table_name="lsh_bands")
