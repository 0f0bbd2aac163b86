"""`monitor init` on a real SQLite file and a fresh PostgreSQL database, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, inspect, select, text

from monitor.store.db import head_revision, make_engine, upgrade
from monitor.store.schema import Article, Sighting, Source
from tests.conftest import run_monitor

TABLES = {
    "sources",
    "articles",
    "article_topics",
    "article_revisions",
    "sightings",
    "lsh_bands",
    "seen_items",
    "polls",
    "digests",
}


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        data = {
            table: [
                tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
            ]
            for table in sorted(TABLES)
        }
    engine.dispose()
    return data


def test_migrations_create_every_table_and_the_view(database_url: str) -> None:
    engine = make_engine(database_url)
    before, after = upgrade(engine)
    assert before is None and after == head_revision()
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= TABLES
    assert "coverage" in inspector.get_view_names()
    assert upgrade(engine) == (after, after)  # a second upgrade is a no-op
    engine.dispose()


def test_the_schema_classes_describe_what_the_migrations_build(database_url: str) -> None:
    """The tables, columns (types, nullability), indexes and keys of monitor.store.schema are
    those the migrations create: alembic's comparison finds nothing to change. The search
    index (FTS5 tables on SQLite, an expression index on PostgreSQL) is the migrations' own:
    tables and indexes the classes do not describe are left out of the comparison."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from monitor.store.schema import Base

    def described(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        return not (kind in ("table", "index") and reflected and other is None)

    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": described, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_commands_start_without_the_orm() -> None:
    """The schema is declared with SQLAlchemy Core: no command's start-up imports the ORM
    (50-70 ms), not even through the store, the poll or the query modules."""
    import subprocess
    import sys

    code = (
        "import sys, monitor.cli, monitor.poll, monitor.query, monitor.service, monitor.digest; "
        "print('sqlalchemy.orm' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False"], result.stdout + result.stderr


def test_start_up_ends_with_the_collector_on_and_collecting_the_young_less_often() -> None:
    """Start-up runs without the cyclic collector; at its end what it built is frozen and the
    collector is on again, its youngest generation collected after YOUNG_COLLECTION_THRESHOLD
    new objects instead of Python's 700, the older generations as before."""
    import subprocess
    import sys

    code = (
        "import gc, json; from monitor import cli; before = gc.get_threshold(); "
        "cli.start_up(); off = gc.isenabled(); cli.end_of_start_up(); "
        "print(json.dumps([off, gc.isenabled(), gc.get_freeze_count() > 0, before, "
        "gc.get_threshold(), cli.YOUNG_COLLECTION_THRESHOLD]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    off, on, frozen, before, after, young = json.loads(result.stdout)
    assert (off, on, frozen) == (False, True, True)
    assert young > before[0]
    assert after == [young, *before[1:]]


def test_init_twice_changes_nothing_and_stores_the_seed_once(
    workdir: Path, database_url: str
) -> None:
    env = {"MONITOR_DATABASE_URL": database_url}
    first = run_monitor("init", "--format", "json", cwd=workdir, env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["schema"]["before"] is None
    assert len(report["sources"]["added"]) >= 15
    assert report["seeds"]["added"] == ["rubio-kenyan-forces-haiti"]
    state = snapshot(database_url)

    second = run_monitor("init", "--format", "json", cwd=workdir, env=env)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["sources"] == {"added": [], "changed": [], "disabled": []}
    assert again["seeds"] == {"added": [], "present": ["rubio-kenyan-forces-haiti"]}
    assert snapshot(database_url) == state

    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Article)) == 1
        seed = connection.execute(select(Article.__table__)).one()
        assert seed.is_seed and seed.title == "Rubio praises Kenyan-led forces in Haiti"
        assert seed.language == "en" and seed.published_at.year == 2025
        assert seed.text.startswith("United States President Donald Trump")
        assert connection.scalar(select(func.count()).select_from(Sighting)) == 1
        view = connection.execute(text("SELECT title, topics, places_seen FROM coverage")).one()
        assert view.title == seed.title and "haiti" in view.topics and view.places_seen == 1
    engine.dispose()


def test_query_lists_the_seed_as_json(workdir: Path, database_url: str) -> None:
    env = {"MONITOR_DATABASE_URL": database_url}
    assert run_monitor("init", cwd=workdir, env=env).returncode == 0
    result = run_monitor("query", "--include-seed", "--format", "json", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    articles = json.loads(result.stdout)
    assert len(articles) == 1
    article = articles[0]
    for key in (
        "id",
        "url",
        "title",
        "source",
        "published_at",
        "discovered_at",
        "topics",
        "summary",
        "sightings",
        "matched_terms",
        "score",
        "language",
    ):
        assert key in article
    assert {"mss", "haiti", "kenya"} <= set(article["topics"])
    assert article["sightings"][0]["reason"] == "seed"
    # without --include-seed, reference articles stay out of the coverage
    plain = run_monitor("query", "--format", "json", cwd=workdir, env=env)
    assert json.loads(plain.stdout) == []


def test_removed_sources_are_disabled_and_keep_their_rows(workdir: Path, sqlite_url: str) -> None:
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    assert run_monitor("init", cwd=workdir, env=env).returncode == 0
    config = workdir / "sources.yaml"
    lines = config.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "name: alterpresse" in line)
    del lines[start : start + 3]  # its name, url and language lines
    config.write_text("\n".join(lines) + "\n")
    result = run_monitor("init", "--format", "json", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sources"]["disabled"] == ["alterpresse"]
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        row = connection.execute(select(Source.__table__).where(Source.name == "alterpresse")).one()
        assert row.enabled is False and row.removed_at is not None
    engine.dispose()


def test_commands_refuse_a_database_without_schema(workdir: Path, sqlite_url: str) -> None:
    result = run_monitor("query", cwd=workdir, env={"MONITOR_DATABASE_URL": sqlite_url})
    assert result.returncode == 3
    assert "run `monitor init` first" in result.stderr


def test_a_read_only_storage_folder_gives_a_clear_error(workdir: Path) -> None:
    folder = workdir / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        url = f"sqlite:///{folder / 'sub' / 'monitor.db'}"
        result = run_monitor("init", cwd=workdir, env={"MONITOR_DATABASE_URL": url})
    finally:
        folder.chmod(0o700)
    if result.returncode == 0:  # root ignores permissions; a file in the way shows the same path
        (workdir / "blocked").write_text("")
        url = f"sqlite:///{workdir / 'blocked' / 'monitor.db'}"
        result = run_monitor("init", cwd=workdir, env={"MONITOR_DATABASE_URL": url})
    assert result.returncode == 3
    assert "error: database: cannot create the database folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_head_revision_is_the_newest_migration() -> None:
    """store.db knows the newest revision without alembic: it must be the scripts' head."""
    from alembic.script import ScriptDirectory

    from monitor.store.db import MIGRATIONS

    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
