"""Shared fixtures: real databases (a SQLite file, a fresh PostgreSQL database), the CLI.

PostgreSQL: tests marked `postgres` get a fresh database on the server named by
MONITOR_TEST_POSTGRES_URL (default: the local server, user postgres). In CI (CI=true) an unreachable
server fails those tests loudly; on a laptop without PostgreSQL they are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.fixtures_http import hostile_server  # noqa: F401  (shared fixture)

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "MONITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_postgres_problem: str | None = None


def _check_postgres() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver or connection failure means "not available"
        return f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} is not reachable: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server (fails in CI, skips elsewhere)."""
    global _postgres_problem
    if _postgres_problem is None:
        _postgres_problem = _check_postgres() or ""
    if _postgres_problem:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {_postgres_problem}")
        pytest.skip(_postgres_problem)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'storage' / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'storage' / 'monitor.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder laid out like a user's checkout: sources.yaml and storage/seed/."""
    seed = tmp_path / "storage" / "seed"
    seed.mkdir(parents=True)
    for path in (ROOT / "storage" / "seed").iterdir():
        (seed / path.name).write_bytes(path.read_bytes())
    (tmp_path / "sources.yaml").write_text((ROOT / "sources.yaml").read_text())
    return tmp_path


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a monitor process a test starts: this one's without any MONITOR_*
    variable, then ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    environment.update(env or {})
    return environment


def run_monitor(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `monitor` command line in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
