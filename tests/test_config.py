"""sources.yaml validation, as a user meets it through `monitor check`."""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import (
    env_overrides,
    iso_duration,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
)
from monitor.errors import ConfigError
from monitor.store.sources import source_config_json
from tests.conftest import ROOT, run_monitor

GOOD = """
settings:
  default_interval: 10m
topics:
  haiti:
    terms: [Haiti, "Haitian(s)"]
  kenya:
    terms: [Kenya]
sources:
  - name: one
    url: https://example.org/feed.xml
  - name: two
    url: https://example.org/news
    type: html
    selectors: {item: "article", link: "a"}
    topics: [haiti]
  - name: three
    url: https://example.org/sitemap.xml
    type: sitemap
    interval: 2h
"""


def check(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "sources.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = run_monitor("--config", str(path), "check", *extra, cwd=tmp_path)
    return result.returncode, result.stdout, result.stderr


def test_the_shipped_config_is_valid_and_rich_enough(tmp_path: Path) -> None:
    config = load_config(ROOT / "sources.yaml", environ={})
    assert len(config.sources) >= 15
    assert {"haiti", "kenya", "mss", "gsf"} <= set(config.topics)
    assert {s.type for s in config.sources} == {"feed", "html", "sitemap"}
    assert all(s.url.startswith("https://") for s in config.sources)


def test_a_good_config_prints_a_summary(tmp_path: Path) -> None:
    code, out, err = check(tmp_path, GOOD, "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sources"] == 3
    assert summary["by_type"] == {"feed": 1, "html": 1, "sitemap": 1}
    assert summary["topics"] == ["haiti", "kenya"]
    assert summary["default_interval"] == "10m"


BAD = {
    "unknown key": (
        """
        sources:
          - name: one
            url: https://example.org/feed
            intervall: 5m
        """,
        "sources.yaml:5: sources[0] 'one': intervall: unknown key; did you mean 'interval'?",
    ),
    "duplicate name": (
        """
        sources:
          - {name: one, url: "https://example.org/a"}
          - {name: one, url: "https://example.org/b"}
        """,
        "sources.yaml:4: sources[1] 'one': name: duplicate of sources[0]; names must be unique",
    ),
    "bad url": (
        """
        sources:
          - name: one
            url: ftp://example.org/feed
        """,
        "sources.yaml:4: sources[0] 'one': url: expected an http:// or https:// URL, got 'ftp://example.org/feed'",
    ),
    "bad duration": (
        """
        sources:
          - {name: a, url: "https://example.org/a"}
          - {name: b, url: "https://example.org/b"}
          - {name: c, url: "https://example.org/c"}
          - name: nation
            url: https://example.org/d
            interval: soon
        """,
        "sources.yaml:8: sources[3] 'nation': interval: expected a duration like 30s, 15m or 2h, got 'soon'",
    ),
    "unclosed IPv6 address": (
        """
        sources:
          - name: one
            url: "http://[::1/feed"
        """,
        "sources.yaml:4: sources[0] 'one': url: expected an http:// or https:// URL, got 'http://[::1/feed': Invalid IPv6 URL",
    ),
    "unknown type": (
        """
        sources:
          - name: one
            url: https://example.org/feed
            type: podcast
        """,
        "sources.yaml:5: sources[0] 'one': type: expected one of 'feed', 'html' or 'sitemap', got 'podcast'",
    ),
    "html without selectors": (
        """
        sources:
          - name: one
            url: https://example.org/news
            type: html
        """,
        "sources.yaml:3: sources[0] 'one': an html source needs `selectors` (at least `item`) to read its listing page",
    ),
    "unknown topic": (
        """
        topics:
          haiti: {terms: [Haiti]}
        sources:
          - name: one
            url: https://example.org/feed
            topics: [haiti, kenia]
        """,
        "sources.yaml:7: sources[0] 'one': topics: unknown topic 'kenia' (topics: haiti)",
    ),
    "bad yaml syntax": (
        """
        sources:
          - name: one
            url: https://example.org/feed
           interval: 5m
        """,
        "sources.yaml:5: invalid YAML",
    ),
    "empty file": ("", "sources.yaml: the file is empty; it needs at least a `sources:` list"),
    "wrong type of sources": (
        """
        sources: https://example.org/feed
        """,
        "sources.yaml:2: sources: expected a list, got 'https://example.org/feed'",
    ),
    "wrong type of enabled": (
        """
        sources:
          - name: one
            url: https://example.org/feed
            enabled: maybe
        """,
        "sources.yaml:5: sources[0] 'one': enabled: expected true or false, got 'maybe'",
    ),
    "missing url": (
        """
        sources:
          - name: one
        """,
        "sources.yaml:3: sources[0] 'one': url: required, but missing",
    ),
    "not a mapping": (
        "- just\n- a list\n",
        "sources.yaml:1: expected a mapping with `settings`, `topics` and `sources`, got list",
    ),
    "bad timezone": (
        """
        settings:
          digest: {timezone: Mars/Olympus}
        sources: []
        """,
        "sources.yaml:3: settings.digest.timezone: unknown time zone 'Mars/Olympus'",
    ),
    "bad cron": (
        """
        sources:
          - name: one
            url: https://example.org/feed
            cron: "every morning"
        """,
        "sources.yaml:5: sources[0] 'one': cron: expected a crontab expression like '*/20 * * * *'",
    ),
    "interval and cron": (
        """
        sources:
          - name: one
            url: https://example.org/feed
            interval: 5m
            cron: "*/5 * * * *"
        """,
        "sources.yaml:3: sources[0] 'one': give either `interval` or `cron`, not both",
    ),
    "topic without terms": (
        """
        topics:
          haiti: {exclude: [Tahiti]}
        sources: []
        """,
        "sources.yaml:3: topics 'haiti': a topic needs at least one of `terms` or `acronyms`",
    ),
    "bad database url": (
        """
        settings:
          database_url: mysql://localhost/db
        sources: []
        """,
        "sources.yaml:3: settings.database_url: expected sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_config_gives_a_clear_message_and_exit_2(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    code, out, err = check(tmp_path, text)
    assert code == 2, (out, err)
    assert expected in err, err
    assert "Traceback" not in err
    assert err.startswith("error: ")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    code, _, err = check(
        tmp_path,
        """
        sources:
          - {name: a, url: "ftp://x", interval: soon}
          - {name: a, url: "https://x.org", typo: 1}
        """,
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    assert [line.split(":")[2] for line in lines] == ["3", "3", "4", "4"]


def test_an_interval_under_a_minute_is_allowed_with_a_warning(tmp_path: Path) -> None:
    code, _, err = check(
        tmp_path, "sources:\n  - {name: a, url: 'https://x.org/f', interval: 30s}\n"
    )
    assert code == 0
    assert "warning:" in err and "under a minute" in err


def large_config(count: int, odd_one: int, odd_line: str) -> tuple[str, int]:
    """`count` block-style sources; source `odd_one` gets `odd_line`. -> (text, its line number)."""
    lines = ["settings:", "  default_interval: 15m", "sources:"]
    odd_line_number = 0
    for index in range(count):
        lines += [f"  - name: feed-{index:04d}", f"    url: https://feeds{index}.example/rss"]
        if index == odd_one:
            lines.append(f"    {odd_line}")
            odd_line_number = len(lines)
    return "\n".join(lines) + "\n", odd_line_number


def test_an_error_deep_in_a_large_config_names_its_line() -> None:
    # Line numbers are only worked out once a problem is found: they must still be the right ones.
    text, line = large_config(1000, 737, "interval: soon")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        f"sources.yaml:{line}: sources[737] 'feed-0737': interval:"
        " expected a duration like 30s, 15m or 2h, got 'soon'"
    ]


def test_a_cross_check_deep_in_a_large_config_names_its_line() -> None:
    text, line = large_config(1000, 912, "topics: [haiti]")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        f"sources.yaml:{line}: sources[912] 'feed-0912': topics:"
        " unknown topic 'haiti' (topics: none defined)"
    ]


def test_a_warning_deep_in_a_large_config_names_its_line() -> None:
    text, line = large_config(1000, 401, "interval: 30s")
    config = parse_config(text)
    assert len(config.sources) == 1000
    assert config.warnings == (
        f"sources.yaml:{line}: sources[401] 'feed-0401': interval: an interval under a minute"
        " is allowed but polls the server very often",
    )


def test_invalid_yaml_is_described_in_pyyaml_words() -> None:
    # The file is read with libyaml when available; its errors are worded differently, so a file
    # it rejects is read again by PyYAML to keep the messages users (and their notes) know.
    with pytest.raises(ConfigError) as caught:
        parse_config(
            "sources:\n  - name: one\n    url: https://example.org/feed\n   interval: 5m\n"
        )
    assert caught.value.problems == [
        "sources.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>'"
    ]


def test_text_libyaml_cannot_encode_is_still_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sources\.yaml: invalid YAML: unacceptable character"):
        parse_config("sources: [\ud800]\n")


def test_environment_overrides_settings(tmp_path: Path) -> None:
    config = parse_config(
        GOOD,
        environ={
            "MONITOR_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "MONITOR_ALLOW_PRIVATE_ADDRESSES": "1",
            "MONITOR_DIGEST_TIMEZONE": "Africa/Nairobi",
            "MONITOR_CONCURRENCY": "8",
        },
    )
    assert config.settings.database_url == "postgresql+psycopg://u@h/db"
    assert config.settings.allow_private_addresses is True
    assert config.settings.digest.timezone == "Africa/Nairobi"
    assert config.settings.concurrency == 8


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MONITOR_ALLOW_PRIVATE_ADDRESSES: expected 1/0"):
        env_overrides({"MONITOR_ALLOW_PRIVATE_ADDRESSES": "perhaps"})
    with pytest.raises(ConfigError, match=r"settings\.concurrency"):
        parse_config(GOOD, environ={"MONITOR_CONCURRENCY": "many"})


def test_monitor_config_env_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text(GOOD)
    result = run_monitor(
        "check", "--format", "json", cwd=tmp_path, env={"MONITOR_CONFIG": str(path)}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["config"].endswith("elsewhere.yaml")


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    result = run_monitor("--config", str(tmp_path / "nope.yaml"), "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.yaml: no such file" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (45, 45), ("1.5h", 5400)],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["soon", "", "5 minutes", "-3m", "m", -5, math.inf, math.nan, True, "9" * 20 + "d"]
)
def test_bad_durations(text: str | float) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_sizes() -> None:
    assert parse_size("10MB") == 10_000_000
    assert parse_size("512KiB") == 512 * 1024
    assert parse_size(1234) == 1234
    for bad in ("big", -5, "-5MB", "1e400"):
        with pytest.raises(ValueError, match="expected a size"):
            parse_size(bad)


def test_parse_workers_is_auto_or_a_small_count() -> None:
    assert parse_config("sources: []\n").settings.parse_workers == "auto"
    assert parse_config("settings: {parse_workers: 0}\nsources: []\n").settings.parse_workers == 0
    env = {"MONITOR_PARSE_WORKERS": "3"}
    assert parse_config("sources: []\n", environ=env).settings.parse_workers == 3
    for bad in ("-1", "17", "many", "1.5"):
        with pytest.raises(ConfigError, match="parse_workers: expected 'auto' or a number"):
            parse_config(f"settings: {{parse_workers: {bad}}}\nsources: []\n")


SETTINGS_PROBLEMS = {
    "concurrency: 0": "settings.concurrency: must be at least 1, got 0",
    "concurrency: 2000": "settings.concurrency: must be at most 1024, got 2000",
    "concurrency: 2.5": "settings.concurrency: expected a whole number, got 2.5",
    "concurrency: true": "settings.concurrency: expected a whole number, got True",
    "jitter: 0.9": "settings.jitter: must be at most 0.5, got 0.9",
    "jitter: .nan": "settings.jitter: expected a finite number, got nan",
    "jitter: lots": "settings.jitter: expected a number, got 'lots'",
    "dedup: {jaccard: 0}": "settings.dedup.jaccard: must be greater than 0, got 0",
    "timeouts: {read: forever}": "settings.timeouts.read: expected a duration like 30s",
    "timeouts: {reed: 5s}": "settings.timeouts.reed: unknown key; did you mean 'read'?",
    "timeouts: 5s": "settings.timeouts: expected a mapping of keys to values, got '5s'",
    "digest: {time: '25:00'}": "settings.digest.time: expected a time of day like 07:00",
    "digest: {dir: 3}": "settings.digest.dir: expected text, got 3",
    "user_agent: ' '": "settings.user_agent: must not be empty",
    "default_interval: .inf": "settings.default_interval: expected a duration like 30s",
    "timeouts: {connect: 99999999999999999999d}": "settings.timeouts.connect: expected a duration",
    "max_body: -5": "settings.max_body: expected a size like 10MB",
    "max_body: huge": "settings.max_body: expected a size like 10MB",
    "allow_private_addresses: sometimes": "settings.allow_private_addresses: expected true or false",
}


@pytest.mark.parametrize("line", sorted(SETTINGS_PROBLEMS))
def test_each_setting_is_checked_and_named(line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"settings:\n  {line}\nsources: []\n")
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"sources.yaml:2: {SETTINGS_PROBLEMS[line]}")


def test_settings_are_read_into_their_types() -> None:
    config = parse_config(
        """
settings:
  concurrency: 8.0
  jitter: 0
  digest: {time: "6:30", dir: out}
  timeouts: {connect: 3s}
  max_body: 2MiB
  dedup: {jaccard: 1}
sources: []
"""
    )
    settings = config.settings
    assert settings.concurrency == 8 and type(settings.concurrency) is int
    assert settings.jitter == 0.0 and type(settings.jitter) is float
    assert settings.digest.time == dt.time(6, 30)
    assert settings.digest.dir == Path("out")
    assert settings.digest.timezone == "UTC"  # the group's other fields keep their defaults
    assert settings.timeouts.connect == timedelta(seconds=3)
    assert settings.timeouts.read == timedelta(seconds=20)
    assert settings.max_body == 2 * 1024 * 1024
    assert settings.dedup.jaccard == 1.0


def test_problems_inside_lists_and_mappings_name_their_place() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            """
topics:
  haiti: {terms: [Haiti, 7], near: 0}
  kenya: [Kenya]
sources:
  - name: one
    url: https://example.org/feed
    headers: {X-Token: 5}
    selectors: {item: div}
  - just a line
"""
        )
    assert caught.value.problems == [
        "sources.yaml:3: topics 'haiti': terms[1]: expected text, got 7",  # in field order
        "sources.yaml:3: topics 'haiti': near: must be at least 1, got 0",
        "sources.yaml:4: topics 'kenya': expected a mapping of keys to values, got ['Kenya']",
        "sources.yaml:8: sources[0] 'one': headers.X-Token: expected text, got 5",
        "sources.yaml:10: sources[1]: expected a mapping of keys to values, got 'just a line'",
    ]


def test_a_source_config_is_stored_as_earlier_versions_stored_it() -> None:
    # sources.config holds each source's settings as JSON; sync_sources marks a source changed
    # when it differs, so the format is kept: no defaults, durations in ISO 8601.
    config = parse_config(
        """
sources:
  - name: one
    url: https://user:secret@example.org/feed
    interval: 90m
    headers: {Authorization: Bearer x}
  - name: two
    url: https://example.org/news
    type: html
    interval: auto
    selectors: {item: article, date: time}
"""
    )
    assert [source_config_json(source) for source in config.sources] == [
        '{"headers": {"Authorization": "***"}, "interval": "PT1H30M", "name": "one",'
        ' "url": "https://***@example.org/feed"}',
        '{"interval": "auto", "name": "two", "selectors": {"date": "time", "item": "article"},'
        ' "type": "html", "url": "https://example.org/news"}',
    ]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=1), "PT1S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(minutes=90), "PT1H30M"),
        (timedelta(days=1), "P1D"),
        (timedelta(hours=36), "P1DT12H"),
        (timedelta(seconds=100_000), "P1DT3H46M40S"),
        (timedelta(seconds=3723.25), "PT1H2M3.25S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_iso_durations(delta: timedelta, text: str) -> None:
    assert iso_duration(delta) == text
