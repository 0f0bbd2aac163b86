"""The 'quiet source' rule of `monitor sources`: silent for several of its own usual gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.status import is_quiet

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_a_source_publishing_hourly_is_quiet_after_a_long_silence() -> None:
    hour = timedelta(hours=1)
    assert not is_quiet(NOW - 2 * hour, hour, NOW)
    assert not is_quiet(NOW - 5 * hour, hour, NOW)  # six hours is the floor: no alarm at night
    assert is_quiet(NOW - 7 * hour, hour, NOW)


def test_a_daily_source_gets_four_days() -> None:
    day = timedelta(days=1)
    assert not is_quiet(NOW - 3 * day, day, NOW)
    assert is_quiet(NOW - 5 * day, day, NOW)


def test_without_a_usual_rate_there_is_no_alarm() -> None:
    assert not is_quiet(None, timedelta(hours=1), NOW)
    assert not is_quiet(NOW - timedelta(days=90), None, NOW)
