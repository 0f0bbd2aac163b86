"""The SQLite full-text index (the FTS5 table ``articles_fts``), brought up to date in batches.

Indexing an article as it was stored cost about 290 us: tokenizing it, and above all the
index segment that every small transaction wrote and merged. Indexing the articles of a
whole poll in one statement costs 45-100 us each (the 2,526 articles of a first poll of
1,000 farm feeds: 0.11 s). So a stored article is only listed in ``search_pending`` (a
trigger, migration 0005), and :func:`index_pending` indexes the list: at the end of
``monitor poll``, every minute in the service, and before a search (so a search always
covers every stored article). Edits and deletions of indexed articles reach the index at
once, through triggers. PostgreSQL maintains its own index (a GIN index on a tsvector):
there is nothing to do there.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from monitor.store.db import read_only

log = logging.getLogger("monitor.store.search")

_INDEX = text(
    "INSERT INTO articles_fts(rowid, title, summary, text)"
    " SELECT a.id, a.title, a.summary, a.text"
    " FROM search_pending p JOIN articles a ON a.id = p.article_id"
)
_DONE = text("DELETE FROM search_pending")
_COUNT = text("SELECT count(*) FROM search_pending")


def index_pending(connection: Connection) -> int:
    """Index the articles waiting for it, in ``connection``'s transaction; how many there were."""
    if connection.dialect.name != "sqlite":
        return 0
    indexed = connection.execute(_INDEX).rowcount
    connection.execute(_DONE)
    return max(indexed, 0)


def pending(connection: Connection) -> int:
    """How many stored articles the index does not cover yet."""
    if connection.dialect.name != "sqlite":
        return 0
    return int(connection.execute(_COUNT).scalar_one())


def catch_up(engine: Engine) -> None:
    """Index what is waiting before a search. Where that cannot be written (a read-only
    database file, a lock held past the busy timeout), the search covers what is indexed."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with read_only(engine) as connection:
            if not pending(connection):
                return
        with engine.begin() as connection:
            index_pending(connection)
    except OperationalError as exc:
        log.warning(
            "the search covers the articles indexed so far: newer ones could not be indexed (%s)",
            str(exc.orig).splitlines()[0] if exc.orig else exc,
        )
