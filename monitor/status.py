"""The state of every source, for `monitor sources` and the service's health checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, func, select

from monitor.logs import redact
from monitor.output import one_line
from monitor.store.db import read_only
from monitor.store.schema import Poll, Sighting, Source

QUIET_FACTOR = 4  # a source is "quiet" when it has gone this many usual gaps without new items


@dataclass(frozen=True)
class SourceState:
    name: str
    url: str
    type: str
    enabled: bool
    removed: bool
    state: str  # ok | failing | quiet | never polled | disabled | removed
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    interval_seconds: float
    items_24h: int
    articles_24h: int
    permanent_redirect: str | None
    quiet: bool

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat().replace("+00:00", "Z")
        return data


def is_quiet(last_new_at: datetime | None, usual_gap: timedelta | None, now: datetime) -> bool:
    """A source that published regularly has gone silent for several of its usual gaps."""
    if last_new_at is None or usual_gap is None or usual_gap <= timedelta(0):
        return False
    return now - last_new_at > max(usual_gap * QUIET_FACTOR, timedelta(hours=6))


def source_states(engine: Engine, now: datetime | None = None) -> list[SourceState]:
    now = now or datetime.now(UTC)
    day_ago = now - timedelta(hours=24)
    week_ago = now - timedelta(days=7)
    with read_only(engine) as connection:
        items = dict(
            connection.execute(
                select(Poll.source_id, func.sum(Poll.items_new))
                .where(Poll.started_at >= day_ago)
                .group_by(Poll.source_id)
            ).all()
        )
        articles = dict(
            connection.execute(
                select(Sighting.source_id, func.count())
                .where(Sighting.seen_at >= day_ago)
                .group_by(Sighting.source_id)
            ).all()
        )
        productive = dict(
            connection.execute(
                select(Poll.source_id, func.count())
                .where(Poll.started_at >= week_ago, Poll.items_new > 0)
                .group_by(Poll.source_id)
            ).all()
        )
        states = []
        for row in connection.execute(select(Source.__table__).order_by(Source.name)):
            count = productive.get(row.id, 0)
            usual_gap = timedelta(days=7) / count if count >= 3 else None
            quiet = row.enabled and is_quiet(row.last_new_at, usual_gap, now)
            if row.removed_at is not None:
                state = "removed"
            elif not row.enabled:
                state = "disabled"
            elif row.consecutive_failures:
                state = "failing"
            elif row.last_poll_at is None:
                state = "never polled"
            elif quiet:
                state = "quiet"
            else:
                state = "ok"
            states.append(
                SourceState(
                    name=row.name,
                    url=redact(row.url),
                    type=row.type,
                    enabled=row.enabled,
                    removed=row.removed_at is not None,
                    state=state,
                    last_poll_at=row.last_poll_at,
                    last_success_at=row.last_success_at,
                    last_error=redact(row.last_error) if row.last_error else None,
                    last_error_at=row.last_error_at,
                    consecutive_failures=row.consecutive_failures,
                    next_poll_at=row.next_poll_at,
                    interval_seconds=row.interval_seconds,
                    items_24h=int(items.get(row.id) or 0),
                    articles_24h=int(articles.get(row.id) or 0),
                    permanent_redirect=row.permanent_redirect,
                    quiet=quiet,
                )
            )
    return states


_STYLE = {
    "ok": "green",
    "failing": "red",
    "quiet": "yellow",
    "never polled": "dim",
    "disabled": "dim",
    "removed": "dim",
}


def _ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


def render_sources(states: list[SourceState], now: datetime | None = None) -> Table:
    now = now or datetime.now(UTC)
    table = Table(header_style="bold", expand=True)
    for column in (
        "source",
        "state",
        "last success",
        "next poll",
        "fails",
        "items 24h",
        "articles 24h",
    ):
        table.add_column(column, no_wrap=column != "source")
    table.add_column("last error", ratio=1)
    for s in states:
        table.add_row(
            Text(one_line(s.name, 40)),
            Text(s.state, style=_STYLE.get(s.state, "")),
            _ago(s.last_success_at, now),
            _ago(s.next_poll_at, now) if s.enabled else "-",
            str(s.consecutive_failures),
            str(s.items_24h),
            str(s.articles_24h),
            Text(one_line(s.last_error or "", 120), style="red" if s.last_error else ""),
        )
    return table
