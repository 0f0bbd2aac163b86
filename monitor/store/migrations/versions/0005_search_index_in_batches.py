"""SQLite: index new articles for full-text search in batches (see monitor/store/search.py).

A new article is listed in ``search_pending`` instead of being indexed as it is stored;
editing or deleting one that is still pending leaves the index alone. PostgreSQL keeps its
GIN index, which PostgreSQL maintains itself: nothing changes there.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEXED = "NOT EXISTS (SELECT 1 FROM search_pending WHERE article_id = old.id)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE search_pending (article_id INTEGER NOT NULL PRIMARY KEY)")
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER articles_fts_{trigger}")
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN"
        " INSERT INTO search_pending(article_id) VALUES (new.id); END"
    )
    op.execute(  # one trigger, so that the index is told before the pending row goes
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN"
        " INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)"
        f" SELECT 'delete', old.id, old.title, old.summary, old.text WHERE {_INDEXED};"
        " DELETE FROM search_pending WHERE article_id = old.id; END"
    )
    op.execute(  # a pending article is indexed as it is when its turn comes
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, text ON articles"
        f" WHEN {_INDEXED} BEGIN"
        " INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)"
        " VALUES ('delete', old.id, old.title, old.summary, old.text);"
        " INSERT INTO articles_fts(rowid, title, summary, text)"
        " VALUES (new.id, new.title, new.summary, new.text); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "INSERT INTO articles_fts(rowid, title, summary, text) SELECT a.id, a.title, a.summary,"
        " a.text FROM search_pending p JOIN articles a ON a.id = p.article_id"
    )
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER articles_fts_{trigger}")
    op.execute("DROP TABLE search_pending")
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN"
        " INSERT INTO articles_fts(rowid, title, summary, text)"
        " VALUES (new.id, new.title, new.summary, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN"
        " INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)"
        " VALUES ('delete', old.id, old.title, old.summary, old.text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, text ON articles BEGIN"
        " INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)"
        " VALUES ('delete', old.id, old.title, old.summary, old.text);"
        " INSERT INTO articles_fts(rowid, title, summary, text)"
        " VALUES (new.id, new.title, new.summary, new.text); END"
    )
