"""Engines and schema upgrades: SQLite (embedded default) and PostgreSQL, same code for both."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from monitor.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_CHECKPOINT_PAGES = 10_000  # of 4 KB
WAL_SIZE_LIMIT = 64 * 1024 * 1024
SQLITE_CACHE_KB = 16 * 1024  # page cache of each connection (SQLite's default: 2 MB)
READ_ONLY = "monitor_read_only"  # execution option: see read_only()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout, and its folder."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"database URL {url!r} is not valid") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = Path(database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the database folder {folder}: {exc.strerror}"
                ) from None
            if not os.access(folder, os.W_OK):
                raise StoreError(
                    f"the database folder {folder} is not writable; fix its permissions or set"
                    " MONITOR_DATABASE_URL to a writable place"
                )
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except ModuleNotFoundError:
            raise StoreError(
                "PostgreSQL needs the psycopg driver: pip install 'monitor[postgres]'"
            ) from None
    raise StoreError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own transaction handling sends no BEGIN before a SAVEPOINT, so a savepoint that
    # is the first write of a transaction would open it and its RELEASE would commit alone.
    # Take transaction control away from the driver; _sqlite_begin emits BEGIN (SQLAlchemy's
    # documented recipe for SQLite savepoints).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A poll's transaction dirties pages all over the indexes (band hashes, item keys are
    # random). Checkpointing the WAL every 40 MB instead of every 4 MB (the default) writes
    # a page rewritten by many polls back to the database once: a cold poll of 1,000 feeds
    # 8.3 s -> 7.3 s. The file is cut back to 64 MB after a checkpoint.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    # Band hashes and item keys are random, so their indexes are read and written all over:
    # with SQLite's 2 MB page cache, a store past a few thousand articles sends most of those
    # page reads to the operating system. A cold poll of 5,000 feeds (12,750 articles, 800,000
    # band rows) took the writer 46.6 s of CPU with 2 MB, 40.8 s with 16 MB and 37.2 s with
    # 64 MB. The cache fills as pages are read: 16 MB costs the 1,000-feed poll 15 MB.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
    cursor.close()


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    # A writing transaction begins IMMEDIATE: it takes the write lock up front, waiting up to the
    # busy timeout for another writer. A deferred transaction that has read cannot wait its way
    # into a write: SQLite fails the upgrade at once when another writer committed meanwhile
    # ("database is locked"). A reading one (see read_only) stays deferred: in WAL mode readers
    # take no lock, so they never queue behind the writer.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Connection:
    """A connection for reads alone: on SQLite it never waits for the write lock.

    Use it as ``with read_only(engine) as connection:``; anything it writes is lost (it never
    commits), and on SQLite a write through it can fail with "database is locked".
    """
    return engine.connect().execution_options(**{READ_ONLY: True})


# alembic is imported where it is used: a poll or a query needs none of it (0.1 s of start-up).


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


# The newest migration, known without reading the migration scripts (alembic takes 40 ms to
# import and scan them, on every poll): tests/test_init.py checks that alembic agrees.
HEAD_REVISION = "0007"


def head_revision() -> str:
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database; None before `monitor init`."""
    with read_only(engine) as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined table
                return None
            raise
        except OperationalError as exc:
            if "no such table" in str(exc.orig):  # SQLite's way of saying it
                return None
            raise


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; return (before, after)."""
    try:
        before = current_revision(engine)
        if before != head_revision():
            from alembic import command

            command.upgrade(_alembic_config(engine), "head")
        return before, head_revision()
    except DBAPIError as exc:
        raise StoreError(f"cannot migrate the database: {describe_db_error(exc)}") from None


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that `monitor init` has not created or upgraded."""
    try:
        revision = current_revision(engine)
    except DBAPIError as exc:
        raise StoreError(f"cannot open the database: {describe_db_error(exc)}") from None
    if revision is None:
        raise StoreError("the database has no schema yet: run `monitor init` first")
    if revision != head_revision():
        raise StoreError(
            f"the database schema is at revision {revision}, this monitor needs {head_revision()}:"
            " run `monitor init` to upgrade it"
        )


def describe_db_error(exc: DBAPIError) -> str:
    """A one-line, credential-free description of a driver error."""
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    return text


def redact_url(url: str) -> str:
    """The database URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"
