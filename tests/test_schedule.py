"""Scheduling arithmetic with a fake clock: intervals, cron, jitter, backoff, adaptive intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.schedule import (
    Cadence,
    adaptive_interval,
    backoff_delay,
    hint_from,
    max_age_hint,
    next_cron_time,
    next_poll_after_failure,
    next_poll_after_success,
    with_jitter,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
FIFTEEN = timedelta(minutes=15)


@given(
    rand=st.floats(min_value=0, max_value=0.999999), jitter=st.floats(min_value=0, max_value=0.5)
)
def test_jitter_stays_within_its_fraction(rand: float, jitter: float) -> None:
    delay = with_jitter(FIFTEEN, jitter, rand)
    assert FIFTEEN * (1 - jitter) - timedelta(microseconds=1) <= delay <= FIFTEEN * (1 + jitter)


def test_success_follows_the_interval_with_jitter() -> None:
    cadence = Cadence(interval=FIFTEEN, jitter=0.1)
    assert next_poll_after_success(cadence, NOW, 0.5) == NOW + FIFTEEN
    assert next_poll_after_success(cadence, NOW, 0.0) == NOW + FIFTEEN * 0.9
    assert next_poll_after_success(Cadence(interval=FIFTEEN, jitter=0), NOW, 0.99) == NOW + FIFTEEN


def test_cron_sources_follow_their_expression_in_their_timezone() -> None:
    cadence = Cadence(interval=FIFTEEN, cron="*/20 * * * *")
    assert next_poll_after_success(cadence, NOW, 0.7) == NOW + timedelta(minutes=20)
    at_six = next_cron_time("0 6 * * *", NOW, "America/Port-au-Prince")
    assert at_six.astimezone(UTC) == datetime(
        2026, 11, 27, 11, 0, tzinfo=UTC
    )  # 05:00 local now, UTC-5


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 360), (30, 360)],
)
def test_backoff_doubles_and_is_capped(failures: int, expected: int) -> None:
    cadence = Cadence(interval=FIFTEEN, max_backoff=timedelta(hours=6))
    assert backoff_delay(cadence, failures) == timedelta(minutes=expected)


def test_backoff_starts_at_a_minute_for_very_short_intervals() -> None:
    assert backoff_delay(Cadence(interval=timedelta(seconds=5)), 1) == timedelta(minutes=1)


def test_retry_after_wins_when_longer_than_the_backoff() -> None:
    cadence = Cadence(interval=FIFTEEN, jitter=0)
    assert next_poll_after_failure(cadence, NOW, 1, 0.5, retry_after=7200) == NOW + timedelta(
        hours=2
    )
    assert next_poll_after_failure(cadence, NOW, 1, 0.5, retry_after=10) == NOW + FIFTEEN


@given(failures=st.integers(min_value=1, max_value=1000), rand=st.floats(0, 0.999))
def test_failure_delay_never_exceeds_the_cap_plus_jitter(failures: int, rand: float) -> None:
    cadence = Cadence(interval=FIFTEEN, jitter=0.1, max_backoff=timedelta(hours=6))
    delay = next_poll_after_failure(cadence, NOW, failures, rand) - NOW
    assert FIFTEEN * 0.9 <= delay <= timedelta(hours=6) * 1.1


BOUNDS = {"minimum": timedelta(minutes=5), "maximum": timedelta(hours=6)}


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (0, timedelta(hours=6)),  # silent source: as rarely as allowed
        (7, timedelta(hours=6)),  # one a day: a day, clamped to the maximum
        (168, timedelta(hours=1)),  # one an hour
        (672, timedelta(minutes=15)),  # four an hour
        (100_000, timedelta(minutes=5)),  # a firehose: clamped to the minimum
    ],
)
def test_adaptive_interval_follows_the_publishing_rate(published: int, expected: timedelta) -> None:
    assert adaptive_interval(published, **BOUNDS) == expected


def test_adaptive_interval_respects_the_servers_hint() -> None:
    assert adaptive_interval(672, **BOUNDS, hint=timedelta(hours=1)) == timedelta(hours=1)
    assert adaptive_interval(672, **BOUNDS, hint=timedelta(hours=24)) == timedelta(hours=6)


@given(st.integers(min_value=0, max_value=10**7))
def test_adaptive_interval_is_always_within_bounds(published: int) -> None:
    interval = adaptive_interval(published, **BOUNDS)
    assert BOUNDS["minimum"] <= interval <= BOUNDS["maximum"]


def test_hints_from_ttl_and_cache_control() -> None:
    assert max_age_hint("public, max-age=600") == timedelta(minutes=10)
    assert max_age_hint("no-cache") is None
    assert max_age_hint(None) is None
    assert hint_from(3600, "max-age=60") == timedelta(hours=1)
    assert hint_from(None, "max-age=60") == timedelta(minutes=1)
    assert hint_from(None, None) is None
