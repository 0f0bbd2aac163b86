"""The SQLite search index, brought up to date in batches (monitor/store/search.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, insert, text

from monitor.dedup import fingerprint
from monitor.query import QueryFilter, find_articles
from monitor.store import articles as store
from monitor.store.db import _alembic_config, make_engine, upgrade
from monitor.store.schema import Article, Source
from monitor.store.search import catch_up, index_pending, pending

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _engine(path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    _add_source(engine)
    return engine


def _add_source(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        connection.execute(
            insert(Source).values(
                id=1, name="s1", url="https://s1.example/f", type="feed", config="{}",
                enabled=True, created_at=NOW, updated_at=NOW, interval_seconds=900.0,
                consecutive_failures=0,
            )
        )  # fmt: skip


def _store(engine, key: str, words: str) -> int:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        article_id, created = store.insert_article(
            connection,
            store.NewArticle(
                url=f"https://outlet.example/{key}", url_key=key,
                canonical_url=f"outlet.example/{key}", guid=None, source_id=1, title=key,
                summary="", text=words, author=None, language="en", published_at=None,
                discovered_at=NOW, fingerprint=fingerprint(key, words),
            ),
        )  # fmt: skip
    assert created
    return article_id


def _matches(engine, word: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The index itself, without the catch-up a search does."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :w ORDER BY rowid"),
            {"w": word},
        )
        return [row[0] for row in rows]


def _check_index(engine) -> None:  # type: ignore[no-untyped-def]
    """FTS5's own check that the index holds exactly the stored articles (nothing pending)."""
    with engine.begin() as connection:
        assert pending(connection) == 0
        connection.execute(
            text("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
        )


def _revise(engine, article_id: int, words: str) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        assert store.revise_article(
            connection, article_id, title="revised", summary="", text=words,
            fingerprint=fingerprint("revised", words), topics=(), now=NOW,
        )  # fmt: skip


def test_a_stored_article_waits_for_the_index_and_a_search_finds_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "m.db")
    try:
        first = _store(engine, "a", "gendarmes patrol Port-au-Prince")
        assert _matches(engine, "gendarmes") == []  # pending
        found = find_articles(engine, QueryFilter(search="gendarmes", include_seed=False))
        assert [view.id for view in found] == [first]
        _check_index(engine)  # the search indexed it
        second = _store(engine, "b", "gendarmes again")
        with engine.begin() as connection:
            assert pending(connection) == 1
            assert index_pending(connection) == 1
        assert _matches(engine, "gendarmes") == [first, second]
        _check_index(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("indexed", [True, False])
def test_edits_and_deletions_keep_the_index_exact(tmp_path: Path, indexed: bool) -> None:
    """An article edited or deleted before or after its indexing: the index ends up holding
    exactly the stored text (FTS5's integrity check compares it with the articles)."""
    engine = _engine(tmp_path / "m.db")
    try:
        kept = _store(engine, "kept", "original wording here")
        gone = _store(engine, "gone", "doomed wording here")
        if indexed:
            catch_up(engine)
        _revise(engine, kept, "rewritten sentence")
        with engine.begin() as connection:
            connection.execute(delete(Article).where(Article.id == gone))
        catch_up(engine)
        assert _matches(engine, "rewritten") == [kept]
        assert _matches(engine, "original") == []
        assert _matches(engine, "doomed") == [] and _matches(engine, "wording") == []
        _check_index(engine)
    finally:
        engine.dispose()


def test_the_migration_keeps_every_article_searchable_both_ways(tmp_path: Path) -> None:
    """Articles indexed at once by revision 0004 stay indexed after the upgrade, and a
    downgrade indexes those still pending."""
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        command.upgrade(_alembic_config(engine), "0004")
        _add_source(engine)
        old = _store(engine, "old", "harbour reopened")
        assert _matches(engine, "harbour") == [old]  # the 0004 trigger indexed it
        upgrade(engine)
        new = _store(engine, "new", "harbour closed")
        assert _matches(engine, "harbour") == [old]
        command.downgrade(_alembic_config(engine), "0004")
        assert _matches(engine, "harbour") == [old, new]
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
            )
        upgrade(engine)
        catch_up(engine)
        _check_index(engine)
    finally:
        engine.dispose()


def test_a_read_only_database_is_searched_as_far_as_it_is_indexed(tmp_path: Path) -> None:
    """Where the catch-up cannot write, the search still answers from the index."""
    engine = _engine(tmp_path / "m.db")
    indexed = _store(engine, "a", "lighthouse keeper")
    catch_up(engine)
    _store(engine, "b", "lighthouse visitors")
    engine.dispose()
    readonly = create_engine(f"sqlite:///file:{tmp_path / 'm.db'}?mode=ro&uri=true")
    try:
        found = find_articles(readonly, QueryFilter(search="lighthouse", include_seed=False))
    finally:
        readonly.dispose()
    assert [view.id for view in found] == [indexed]
