"""When to poll a source next: pure arithmetic on intervals, cron, jitter, backoff and hints.

No clock and no randomness of its own: the caller passes `now` and a random number in [0, 1), so
every rule here is tested exhaustively with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Cadence:
    """How one source wants to be polled."""

    interval: timedelta  # the configured interval, or the current adaptive one
    cron: str | None = None
    jitter: float = 0.1  # fraction of the interval, both ways
    max_backoff: timedelta = timedelta(hours=6)
    timezone: str = "UTC"  # for cron expressions


def with_jitter(delay: timedelta, jitter: float, rand: float) -> timedelta:
    """Spread polls of many sources: delay * (1 ± jitter), rand in [0, 1)."""
    return delay * (1 + jitter * (2 * rand - 1))


def next_cron_time(expression: str, after: datetime, timezone: str = "UTC") -> datetime:
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    fire = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    if fire is None:  # pragma: no cover - a crontab always fires again
        raise ValueError(f"cron expression {expression!r} never fires again")
    return fire


def next_poll_after_success(cadence: Cadence, now: datetime, rand: float) -> datetime:
    if cadence.cron:
        return next_cron_time(cadence.cron, now, cadence.timezone)
    return now + with_jitter(cadence.interval, cadence.jitter, rand)


def backoff_delay(cadence: Cadence, failures: int) -> timedelta:
    """Exponential backoff after `failures` consecutive failures (>= 1), capped."""
    base = max(cadence.interval, timedelta(minutes=1))
    exponent = min(failures - 1, 20)
    return min(base * (2**exponent), max(cadence.max_backoff, base))


def next_poll_after_failure(
    cadence: Cadence, now: datetime, failures: int, rand: float, retry_after: float | None = None
) -> datetime:
    delay = with_jitter(backoff_delay(cadence, failures), cadence.jitter, rand)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return now + delay


def adaptive_interval(
    new_items_last_week: int,
    *,
    minimum: timedelta,
    maximum: timedelta,
    hint: timedelta | None = None,
) -> timedelta:
    """`interval: auto`: poll about as often as the source publishes, within bounds.

    The entry-frequency rule (a week divided by the items published in it) gives the interval;
    the server's own hints (RSS ttl, Cache-Control max-age) are a floor, since polling more often
    than the publisher refreshes only fetches the same document again.
    """
    interval = WEEK / new_items_last_week if new_items_last_week > 0 else maximum
    if hint is not None:
        interval = max(interval, hint)
    return min(max(interval, minimum), maximum)


def max_age_hint(cache_control: str | None) -> timedelta | None:
    """The max-age of a Cache-Control header, if any."""
    if not cache_control:
        return None
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return timedelta(seconds=int(value.strip()))
    return None


def hint_from(ttl_seconds: int | None, cache_control: str | None) -> timedelta | None:
    hints = [
        h
        for h in (ttl_seconds and timedelta(seconds=ttl_seconds), max_age_hint(cache_control))
        if h
    ]
    return max(hints) if hints else None
