"""`monitor match`, `monitor rematch` and `monitor dedup --explain`, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_monitor
from tests.feedgen import MSS_REPORT, rss, seed_republished
from tests.hostile_server import HostileServer, respond
from tests.test_poll import init, write_config


def test_match_explains_terms_vetoes_and_the_verdict(workdir: Path) -> None:
    text = "Kenyan police of the MSS arrived in Port-au-Prince on Tuesday."
    result = run_monitor("match", "--text", text, "--format", "table", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "mss: MATCH" in result.stdout and "'MSS'" in result.stdout
    assert "kept: matches" in result.stdout

    vetoed = run_monitor(
        "match", "--text", "Microsoft SQL Server (MSS) 2022 update", "--format", "json", cwd=workdir
    )
    data = json.loads(vetoed.stdout)
    assert data["matched"] is False
    assert any("Microsoft SQL Server" in v for v in data["vetoed"])

    assert run_monitor("match", cwd=workdir).returncode == 2  # no input is a usage error


def test_match_reads_a_file(workdir: Path) -> None:
    path = workdir / "story.txt"
    path.write_text("Des policiers kényans sont arrivés en Haïti.", encoding="utf-8")
    data = json.loads(
        run_monitor("match", "--file", str(path), "--format", "json", cwd=workdir).stdout
    )
    assert {t["topic"] for t in data["topics"]} == {"haiti", "kenya"}


def test_rematch_reports_and_applies_rule_changes(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    hostile_server.route("/feed.xml", respond(rss([MSS_REPORT])))
    write_config(workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml"}')
    init(workdir, env)
    assert run_monitor("poll", cwd=workdir, env=env).returncode == 0

    unchanged = json.loads(
        run_monitor("rematch", "--dry-run", "--format", "json", cwd=workdir, env=env).stdout
    )
    assert unchanged["changed"] == 0 and unchanged["articles"] == 2  # the seed and the report

    config = workdir / "sources.yaml"
    config.write_text(
        config.read_text().replace("    - Port-au-Prince\n", "").replace("    - Haitian(s)\n", "")
    )
    dry = json.loads(
        run_monitor("rematch", "--dry-run", "--format", "json", cwd=workdir, env=env).stdout
    )
    assert dry["topics"]["haiti"]["removed"] and dry["dry_run"]
    again = json.loads(
        run_monitor("rematch", "--dry-run", "--format", "json", cwd=workdir, env=env).stdout
    )
    assert again == dry  # a dry run changed nothing
    applied = json.loads(run_monitor("rematch", "--format", "json", cwd=workdir, env=env).stdout)
    assert applied["topics"] == dry["topics"]
    after = json.loads(
        run_monitor("rematch", "--dry-run", "--format", "json", cwd=workdir, env=env).stdout
    )
    assert after["changed"] == 0
    articles = json.loads(run_monitor("query", "--format", "json", cwd=workdir, env=env).stdout)
    assert "haiti" not in articles[0]["topics"]


def test_dedup_explains_why_a_copy_was_attached(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    copy = seed_republished()
    hostile_server.route("/feed.xml", respond(rss([copy])))
    write_config(workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml"}')
    init(workdir, env)
    assert run_monitor("poll", cwd=workdir, env=env).returncode == 0
    result = run_monitor("dedup", "--explain", copy.link, "--format", "json", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sighting"]["reason"] in {"near", "content"}
    assert data["article"]["is_seed"] is True
    text = run_monitor(
        "dedup", "--explain", copy.link, "--format", "table", cwd=workdir, env=env
    ).stdout
    assert "was judged a copy of article #1" in text
    missing = run_monitor("dedup", "--explain", "https://nowhere.example/x", cwd=workdir, env=env)
    assert missing.returncode == 2 and "no stored article was seen" in missing.stderr
