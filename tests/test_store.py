"""Writes and lookups of monitor/store that go to the driver directly (monitor/store/driver.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text

from monitor.store import articles as store
from monitor.store.db import SQLITE_CACHE_KB, _alembic_config, make_engine, upgrade
from monitor.store.driver import execute_many
from monitor.store.schema import Article, SeenItem, Sighting, Source


def _engine(url: str, revision: str | None = None):  # type: ignore[no-untyped-def]
    """A database at the newest revision (or at ``revision``) with sources 1 and 2."""
    engine = make_engine(url)
    if revision is None:
        upgrade(engine)
    else:
        from alembic import command

        command.upgrade(_alembic_config(engine), revision)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    with engine.begin() as connection:
        for source_id in (1, 2):
            connection.execute(
                insert(Source).values(
                    id=source_id, name=f"s{source_id}", url=f"https://s{source_id}.example/f",
                    type="feed", config="{}", enabled=True, created_at=now, updated_at=now,
                    interval_seconds=900.0, consecutive_failures=0,
                )
            )  # fmt: skip
    return engine


def test_execute_many_stores_what_sqlalchemy_stores(database_url: str) -> None:
    """The driver-level executemany converts values exactly as SQLAlchemy's own does: the
    rows read back equal, timestamps (converted once per distinct value) and NULLs included."""
    engine = _engine(database_url)
    first = datetime(2026, 11, 28, 5, 0, 0, 0, tzinfo=UTC)  # no microseconds
    later = first + timedelta(hours=2, microseconds=123456)
    east = later.astimezone(timezone(timedelta(hours=3)))  # the same instant elsewhere
    rows = [
        {"source_id": source_id, "item_key": f"k{i}", "item_hash": f"h{i}",
         "article_id": None, "first_seen_at": when, "last_seen_at": later}
        for i, when in enumerate([first, later, east, first])
        for source_id in (1,)
    ]  # fmt: skip
    twin_rows = [{**row, "source_id": 2} for row in rows]
    try:
        with engine.begin() as connection:
            execute_many(connection, store._remember_statement(engine.dialect.name), rows)
            connection.execute(store._remember_statement(engine.dialect.name), twin_rows)
        with engine.connect() as connection:
            read = connection.execute(
                select(SeenItem).order_by(SeenItem.source_id, SeenItem.item_key)
            ).all()
    finally:
        engine.dispose()
    mine = [tuple(r)[1:] for r in read if r.source_id == 1]
    theirs = [tuple(r)[1:] for r in read if r.source_id == 2]
    assert len(mine) == 4 and mine == theirs
    if engine.dialect.name == "sqlite":  # the text stored too: SQLite compares timestamps as text
        stored = make_engine(database_url)
        with stored.connect() as connection:
            texts = connection.exec_driver_sql(
                "SELECT source_id, item_key, first_seen_at, last_seen_at FROM seen_items"
            ).all()
        stored.dispose()
        assert sorted(t[1:] for t in texts if t[0] == 1) == sorted(
            t[1:] for t in texts if t[0] == 2
        )
        assert ("k0", "2026-11-28 05:00:00.000000", "2026-11-28 07:00:00.123456") in {
            t[1:] for t in texts
        }
    assert [r.first_seen_at for r in read if r.source_id == 1] == [first, later, later, first]


def test_execute_many_upserts_and_ignores_as_its_statement_says(database_url: str) -> None:
    engine = _engine(database_url)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    seen = [("a", "h1", None), ("b", "h1", None)]
    try:
        with engine.begin() as connection:
            store.remember_items(connection, 1, seen, now)
            store.remember_items(connection, 1, [("a", "h2", None)], now + timedelta(days=1))
            with pytest.raises(KeyError):  # rows must all have the keys of the first
                execute_many(
                    connection, insert(Sighting), [{"url": "u", "url_key": "k"}, {"url": "v"}]
                )
        with engine.connect() as connection:
            rows = connection.execute(
                select(SeenItem.item_key, SeenItem.item_hash, SeenItem.first_seen_at,
                       SeenItem.last_seen_at).order_by(SeenItem.item_key)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("a", "h2", now, now + timedelta(days=1)),
        ("b", "h1", now, now),
    ]


def _article(key: str, guid: str | None, text: str, now: datetime) -> store.NewArticle:
    from monitor.dedup import fingerprint

    return store.NewArticle(
        url=f"https://outlet.example/{key}", url_key=key, canonical_url=f"outlet.example/{key}",
        guid=guid, source_id=1, title=key, summary="", text=text, author=None, language="en",
        published_at=None, discovered_at=now, fingerprint=fingerprint(key, text),
    )  # fmt: skip


def test_exact_twin_finds_by_url_then_guid_then_content(database_url: str) -> None:
    engine = _engine(database_url)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    first_text = "Kenyan police officers arrived in Port-au-Prince on Tuesday. " * 5
    other_text = "The mission's budget was discussed at the Security Council again. " * 5
    try:
        with engine.begin() as connection:
            first, _ = store.insert_article(connection, _article("k1", "g1", first_text, now))
            other, _ = store.insert_article(connection, _article("k2", None, other_text, now))
            content = store.stored_content_hash(_article("k2", None, other_text, now))

            def twin(**given: object) -> tuple[str, int] | None:
                asked = {"url_key": "new", "source_id": 1, "guid": None, "content_hash": None}
                return store.exact_twin(connection, **{**asked, **given})  # type: ignore[arg-type]

            found = {
                "url": twin(url_key="k1"),
                "url over content": twin(url_key="k1", content_hash=content),
                "guid": twin(guid="g1"),
                "guid over content": twin(guid="g1", content_hash=content),
                "guid of another source": twin(guid="g1", source_id=2),
                "content": twin(content_hash=content),
                "nothing": twin(),
            }
    finally:
        engine.dispose()
    assert found == {
        "url": ("url", first),
        "url over content": ("url", first),
        "guid": ("guid", first),
        "guid over content": ("guid", first),
        "guid of another source": None,
        "content": ("content", other),
        "nothing": None,
    }


def test_a_claim_says_whether_the_source_was_ever_polled_successfully(database_url: str) -> None:
    """A source never polled successfully has no seen items: its first poll skips that query."""
    from sqlalchemy import update

    from monitor.store.sources import claim_named, release_leases

    engine = _engine(database_url)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    try:
        first = claim_named(engine, "me", ["s1", "s2"], now, 60)
        release_leases(engine, "me", [c.id for c in first])
        with engine.begin() as connection:
            connection.execute(update(Source).where(Source.id == 1).values(last_success_at=now))
        second = claim_named(engine, "me", ["s1", "s2"], now, 60)
    finally:
        engine.dispose()
    assert [(c.name, c.polled_before) for c in first] == [("s1", False), ("s2", False)]
    assert [(c.name, c.polled_before) for c in second] == [("s1", True), ("s2", False)]


def test_a_claim_passes_over_the_sources_its_owner_is_polling(database_url: str) -> None:
    """An instance may take its own leases again (a restart under the same name), but not
    those of the polls it still runs: their rows say "due" until the polls' writes commit."""
    from sqlalchemy import update

    from monitor.store.sources import claim_due

    engine = _engine(database_url)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            connection.execute(update(Source).values(next_poll_at=now - timedelta(minutes=1)))
        first = claim_due(engine, "me", now, 60)
        again = claim_due(engine, "me", now + timedelta(seconds=1), 60)
        busy = claim_due(engine, "me", now + timedelta(seconds=1), 60, busy=[first[0].id])
        other = claim_due(engine, "other", now + timedelta(seconds=1), 60)
    finally:
        engine.dispose()
    assert [c.name for c in first] == ["s1", "s2"]
    assert [c.name for c in again] == ["s1", "s2"]
    assert [c.name for c in busy] == ["s2"]
    assert other == []  # leased to "me" for another minute


def test_a_poll_takes_over_the_leases_of_an_ended_poll_of_this_host_only(
    database_url: str,
) -> None:
    """`monitor poll` runs lease as ``cli:<host>:<pid>``: a run still going keeps its sources
    from a second run, one that was killed gives them up at once, and one of another host
    keeps them until its lease expires."""
    import socket
    import subprocess
    import sys

    from sqlalchemy import update

    from monitor.store.sources import claim_named, cli_instance

    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()  # its pid is now that of a process that has ended
    host = socket.gethostname()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    engine = _engine(database_url)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    later = now + timedelta(minutes=5)

    def leased_to(owner: str) -> list[str]:
        with engine.begin() as connection:
            connection.execute(update(Source).values(lease_owner=owner, lease_until=later))
        claimed = claim_named(engine, cli_instance(), ["s1", "s2"], now, 60)
        with engine.begin() as connection:
            connection.execute(update(Source).values(lease_owner=None, lease_until=None))
        return [c.name for c in claimed]

    try:
        assert cli_instance() == f"cli:{host}:{os.getpid()}"
        assert leased_to(f"cli:{host}:{running.pid}") == []  # a poll still going
        assert leased_to(f"cli:{host}:{probe.pid}") == ["s1", "s2"]  # a poll that ended
        assert leased_to(f"cli:another-{host}:{probe.pid}") == []  # not judged from here
        assert leased_to("vm-1-abc123") == []  # a service instance: its lease expires
        assert leased_to(cli_instance()) == ["s1", "s2"]  # this process's own
    finally:
        running.kill()
        running.wait()
        engine.dispose()


def test_statements_the_driver_cannot_run_alone_are_refused(database_url: str) -> None:
    """A column left to its Python default, or an expanding IN list, needs SQLAlchemy's own
    execution: the driver path refuses them rather than bind NULL or leave a placeholder."""
    from sqlalchemy import bindparam

    from monitor.store.driver import execute
    from monitor.store.schema import Poll

    engine = _engine(database_url)
    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    expanding = select(Source.id).where(Source.id.in_(bindparam("ids", expanding=True)))
    try:
        with engine.begin() as connection:
            with pytest.raises(ValueError, match="give every column"):
                execute(connection, insert(Poll), {"source_id": 1, "started_at": now})
            with pytest.raises(ValueError, match="expanding"):
                execute(connection, expanding, {"ids": [1, 2]})
    finally:
        engine.dispose()


def test_driver_statements_fail_and_transact_as_sqlalchemy_ones(database_url: str) -> None:
    """A driver error comes out as SQLAlchemy's exception (what the poller's error handling
    expects), and a statement on a connection with no transaction begins one."""
    from sqlalchemy.exc import IntegrityError

    from monitor.store.driver import execute

    engine = _engine(database_url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:  # no article_id
            execute_many(connection, insert(Sighting), [{"url": "u", "url_key": "k"}])
        with engine.connect() as connection:
            assert not connection.in_transaction()
            twin = {"url_key": "k", "source_id": 1, "guid": None, "content_hash": None}
            assert execute(connection, store._EXACT_TWIN, twin) == []
            assert connection.in_transaction()
    finally:
        engine.dispose()


def test_seen_items_read_as_sqlalchemy_reads_them(database_url: str) -> None:
    """The seen-items lookup goes to the driver: its rows, timestamps included (text on
    SQLite), equal SQLAlchemy's, for any number of keys (the statement is padded to a power
    of two, and split beyond 512)."""
    engine = _engine(database_url)
    first = datetime(2026, 11, 28, 5, 0, 0, 0, tzinfo=UTC)  # no microseconds
    rows = [
        {"source_id": source_id, "item_key": f"k{i:04d}", "item_hash": f"h{i}",
         "article_id": None, "first_seen_at": first,
         "last_seen_at": first + timedelta(seconds=i, microseconds=7 * i)}
        for i in range(700)
        for source_id in (1, 2)
    ]  # fmt: skip
    try:
        with engine.begin() as connection:
            connection.execute(insert(SeenItem), rows)
        with engine.connect() as connection:
            want = {
                r.item_key: store.SeenRow(r.item_hash, r.article_id, r.last_seen_at)
                for r in connection.execute(select(SeenItem).where(SeenItem.source_id == 1))
            }
            for count in (1, 2, 3, 50, 512, 513, 700):
                keys = [f"k{i:04d}" for i in range(0, 2 * count, 2)] + ["absent"]
                got = store.seen_items(connection, 1, keys)
                assert got == {k: want[k] for k in keys if k in want}, count
    finally:
        engine.dispose()
    assert got["k0002"].last_seen_at == first + timedelta(seconds=2, microseconds=14)
    assert got["k0002"].last_seen_at.tzinfo is not None


def test_a_read_only_connection_reads_through_the_driver_without_a_transaction(
    database_url: str,
) -> None:
    """A read-only connection's statement runs alone: no transaction is begun (on SQLite a
    transaction would pin the snapshot the writer's checkpoints have to keep)."""
    from monitor.store.db import read_only
    from monitor.store.driver import execute

    engine = _engine(database_url)
    twin = {"url_key": "k", "source_id": 1, "guid": None, "content_hash": None}
    try:
        with read_only(engine) as connection:
            assert execute(connection, store._EXACT_TWIN, twin) == []
            assert not connection.in_transaction()
            assert store.seen_items(connection, 1, ["k"]) == {}
            assert not connection.in_transaction()
    finally:
        engine.dispose()


def test_sqlite_connections_are_set_up_for_a_writing_poll(tmp_path: Path) -> None:
    """Every SQLite connection gets WAL, foreign keys and the larger page cache (see
    monitor/store/db.py): without them a cold poll is slower or the schema unenforced."""
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            values = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "cache_size")
            }
        assert values == {"journal_mode": "wal", "foreign_keys": 1, "cache_size": -SQLITE_CACHE_KB}
        assert SQLITE_CACHE_KB > 2000  # more than SQLite's default
    finally:
        engine.dispose()


def _bands(engine) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT band_hash, article_id FROM lsh_bands ORDER BY 1, 2"))
        return [tuple(row) for row in rows]


def _bands_layout(engine) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'lsh_bands'")
        ).scalar_one()


def test_the_band_index_keeps_every_row_through_its_rebuild(tmp_path: Path) -> None:
    """Revision 0006 rebuilds SQLite's lsh_bands without a rowid, and its downgrade with one:
    the band rows written before survive both ways, a near copy is still found through them,
    and deleting an article still deletes its rows."""
    from alembic import command

    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    engine = _engine(f"sqlite:///{tmp_path / 'm.db'}", revision="0005")
    words = "the harbour of the capital reopened on monday after weeks of closure " * 3
    try:
        with engine.begin() as connection:
            first, _ = store.insert_article(connection, _article("a", None, words, now))
            second, _ = store.insert_article(connection, _article("b", None, "other " + words, now))
        before = _bands(engine)
        assert len(before) == 2 * 64 and "WITHOUT ROWID" not in _bands_layout(engine)

        command.upgrade(_alembic_config(engine), "0006")
        assert _bands(engine) == before
        assert _bands_layout(engine).rstrip().endswith("WITHOUT ROWID")
        with engine.connect() as connection:
            indexes = {row[1] for row in connection.execute(text("PRAGMA index_list(lsh_bands)"))}
            assert "ix_lsh_bands_article_id" in indexes
            near = store.near_candidates(
                connection, _article("c", None, words, now).fingerprint.bands()
            )
        assert {candidate.article_id for candidate in near} == {first, second}

        command.downgrade(_alembic_config(engine), "0005")
        assert _bands(engine) == before and "WITHOUT ROWID" not in _bands_layout(engine)
        command.upgrade(_alembic_config(engine), "0006")
        with engine.begin() as connection:
            connection.execute(delete(Article).where(Article.id == first))
        assert {article for _, article in _bands(engine)} == {second}
    finally:
        engine.dispose()


def _wide_bands(fingerprint) -> set[int]:  # type: ignore[no-untyped-def]
    """The 64-bit band hashes that revisions up to 0006 stored: each band's keyed blake2b
    digest, read whole as a signed int."""
    import struct

    from monitor.dedup import _BAND_HASHERS, NUM_PERM, ROWS

    rows = struct.pack(f"<{NUM_PERM}I", *fingerprint.signature)
    wide = set()
    for band, hasher in enumerate(_BAND_HASHERS):
        h = hasher.copy()
        h.update(rows[band * ROWS * 4 : (band + 1) * ROWS * 4])
        wide.add(int.from_bytes(h.digest(), "little", signed=True))
    return wide


def test_the_band_hashes_narrow_to_32_bits_and_widen_back(database_url: str) -> None:
    """Revision 0007 turns each stored 64-bit band hash into its high 32 bits, which are the
    bands that new articles get; two rows of one article that become equal become one. The
    downgrade computes the 64-bit hashes again from the stored fingerprints."""
    from alembic import command

    now = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    engine = _engine(database_url, revision="0006")
    words = "the harbour of the capital reopened on monday after weeks of closure " * 3
    first_article = _article("a", None, words, now)
    second_article = _article("b", None, "other " + words, now)
    try:
        with engine.begin() as connection:
            first, _ = store.insert_article(connection, first_article)
            second, _ = store.insert_article(connection, second_article)
            connection.execute(text("DELETE FROM lsh_bands"))  # the bands as 0006 stored them
            wide = {first: _wide_bands(first_article.fingerprint)}
            wide[second] = _wide_bands(second_article.fingerprint)
            wide[second] |= {(7 << 32) + 1, (7 << 32) + 2, -(7 << 32) - 1}  # two high halves
            rows = [{"b": b, "a": a} for a, bands in wide.items() for b in bands]
            connection.execute(text("INSERT INTO lsh_bands VALUES (:b, :a)"), rows)
        assert len(_bands(engine)) == 2 * 64 + 3

        upgrade(engine)
        narrow = {(band, first) for band in first_article.fingerprint.bands()}
        narrow |= {(band, second) for band in second_article.fingerprint.bands()}
        assert set(_bands(engine)) == narrow | {(7, second), (-8, second)}
        assert len(_bands(engine)) == 2 * 64 + 2
        assert all(-(2**31) <= band < 2**31 for band, _ in narrow)
        with engine.connect() as connection:
            near = store.near_candidates(
                connection, _article("c", None, words, now).fingerprint.bands()
            )
        assert {candidate.article_id for candidate in near} == {first, second}

        command.downgrade(_alembic_config(engine), "0006")
        widened = {(band, first) for band in _wide_bands(first_article.fingerprint)}
        widened |= {(band, second) for band in _wide_bands(second_article.fingerprint)}
        assert set(_bands(engine)) == widened
        upgrade(engine)
        assert set(_bands(engine)) == narrow
    finally:
        engine.dispose()
