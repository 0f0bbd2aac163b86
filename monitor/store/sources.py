"""The `sources` table: mirrored from the config, and the per-source polling state."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from monitor.config import Config, SourceConfig, as_json
from monitor.logs import redact
from monitor.store.db import read_only
from monitor.store.schema import Source


@dataclass(frozen=True)
class SyncReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()  # removed from the config: kept, with their articles

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.disabled)


def source_config_json(source: SourceConfig) -> str:
    """The source's configuration as JSON, without secrets (URL credentials, header values)."""
    data = as_json(source, exclude_defaults=True)
    data["url"] = redact(source.url)
    if "headers" in data:
        data["headers"] = dict.fromkeys(data["headers"], "***")
    return json.dumps(data, sort_keys=True)


def sync_sources(engine: Engine, config: Config, now: datetime | None = None) -> SyncReport:
    """Mirror the configured sources into the database: add, update, disable the removed ones.

    Articles are never deleted; a source that comes back is enabled again with its history.
    """
    now = now or datetime.now(UTC)
    added: list[str] = []
    changed: list[str] = []
    disabled: list[str] = []
    with engine.begin() as connection:
        columns = (Source.id, Source.name, Source.url, Source.type, Source.config, Source.enabled)
        known = select(*columns, Source.removed_at, Source.interval_seconds)
        rows = {row.name: row for row in connection.execute(known)}
        for source in config.sources:
            interval = config.interval_of(source).total_seconds()
            values = {
                "url": redact(source.url),  # credentials stay in the config, never in the database
                "type": source.type,
                "config": source_config_json(source),
                "enabled": source.enabled,
                "removed_at": None,
            }
            row = rows.get(source.name)
            if row is None:
                connection.execute(
                    Source.__table__.insert().values(
                        name=source.name,
                        created_at=now,
                        updated_at=now,
                        interval_seconds=interval,
                        next_poll_at=now,
                        consecutive_failures=0,
                        **values,
                    )
                )
                added.append(source.name)
                continue
            current = {key: getattr(row, key) for key in values}
            if current != values:
                extra = {}
                if row.url != values["url"]:  # a new URL: its validators and body hash are not ours
                    extra = {
                        "etag": None,
                        "last_modified": None,
                        "body_hash": None,
                        "permanent_redirect": None,
                        "next_poll_at": now,
                    }
                if row.interval_seconds != interval and source.interval != "auto":
                    extra["interval_seconds"] = interval
                connection.execute(
                    update(Source)
                    .where(Source.id == row.id)
                    .values(updated_at=now, **values, **extra)
                )
                changed.append(source.name)
        configured = {source.name for source in config.sources}
        for name, row in rows.items():
            if name not in configured and (row.enabled or row.removed_at is None):
                connection.execute(
                    update(Source)
                    .where(Source.id == row.id)
                    .values(enabled=False, removed_at=now, updated_at=now)
                )
                disabled.append(name)
    return SyncReport(tuple(added), tuple(changed), tuple(disabled))


# --- leases: which instance polls which source -------------------------------------------------


@dataclass(frozen=True)
class ClaimedSource:
    """A source this instance holds the lease of, with the state a poll needs."""

    id: int
    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_failures: int
    interval_seconds: float
    item_digests: bytes | None = None  # see Source.item_digests
    item_digests_at: datetime | None = None
    # False only when the database says no poll of it ever succeeded: then it has no seen
    # items (they are written with the success), and a poll need not look them up
    polled_before: bool = True


_CLAIM_COLUMNS = (
    Source.id,
    Source.name,
    Source.etag,
    Source.last_modified,
    Source.body_hash,
    Source.consecutive_failures,
    Source.interval_seconds,
    Source.item_digests,
    Source.item_digests_at,
    Source.last_success_at,  # read as polled_before (SQLite 3.40 returns 1 for "IS NOT NULL")
)


def _claim(
    engine: Engine,
    owner: str,
    now: datetime,
    lease_seconds: float,
    condition: Any,
    limit: int | None,
    gone: Collection[str] = (),
) -> list[ClaimedSource]:
    """Atomically take the lease of the sources matching `condition` that nobody holds (or
    that `owner`, or one of the owners ``gone``, holds).

    One conditional UPDATE: on PostgreSQL the candidate rows are locked with SKIP LOCKED, so
    instances claiming at the same moment each get different sources; SQLite serialises writers.
    """
    free = or_(Source.lease_until.is_(None), Source.lease_until < now, Source.lease_owner == owner)
    if gone:
        free = or_(free, Source.lease_owner.in_(list(gone)))
    candidates = select(Source.id).where(condition, free).order_by(Source.next_poll_at, Source.id)
    if limit is not None:
        candidates = candidates.limit(limit)
    if engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    until = now + timedelta(seconds=lease_seconds)
    statement = (
        update(Source)
        .where(Source.id.in_(candidates.scalar_subquery()), free)
        .values(lease_owner=owner, lease_until=until)
        .returning(*_CLAIM_COLUMNS)
    )
    with engine.begin() as connection:
        rows = connection.execute(statement).all()
    claimed = (ClaimedSource(*row[:-1], polled_before=row[-1] is not None) for row in rows)
    return sorted(claimed, key=lambda s: s.name)


def claim_due(
    engine: Engine,
    owner: str,
    now: datetime,
    lease_seconds: float,
    limit: int | None = None,
    *,
    busy: Collection[int] = (),
) -> list[ClaimedSource]:
    """The enabled sources whose next poll time has come, leased to `owner`.

    ``busy``: the ids of the sources `owner` is polling now, never claimed again. Their rows
    still say "due, leased to `owner`" until their polls' writes commit, and a claim read
    before that commit would hand a source to a second poll once the first had finished.
    """
    due = and_(Source.enabled.is_(True), Source.next_poll_at <= now)
    if busy:
        due = and_(due, Source.id.not_in(list(busy)))
    return _claim(engine, owner, now, lease_seconds, due, limit)


def claim_named(
    engine: Engine, owner: str, names: list[str], now: datetime, lease_seconds: float
) -> list[ClaimedSource]:
    """The named sources (due or not), unless another instance is polling them right now.

    The leases of `monitor poll` processes of this host that are no longer running (killed)
    are taken over at once, not when they expire.
    """
    gone = _gone_cli_owners(engine, now)
    return _claim(engine, owner, now, lease_seconds, Source.name.in_(names), None, gone)


_CLI = "cli"


def cli_instance() -> str:
    """The lease owner of one `monitor poll` process: ``cli:<host>:<pid>``.

    A name of its own, so that two runs at once (a cron job outlasting its period) do not
    take each other's sources; the host and pid tell a later run whether this one is gone.
    """
    return f"{_CLI}:{socket.gethostname()}:{os.getpid()}"


def _gone_cli_owners(engine: Engine, now: datetime) -> list[str]:
    """The owners of live leases that are `monitor poll` processes of this host that have
    ended. A process of another host is never judged from here: its leases expire."""
    if os.name != "posix":  # no harmless way to ask whether a pid runs: the leases expire
        return []
    prefix = f"{_CLI}:{socket.gethostname()}:"
    with read_only(engine) as connection:
        owners = connection.scalars(
            select(Source.lease_owner)
            .where(
                Source.lease_owner.startswith(prefix, autoescape=True), Source.lease_until >= now
            )
            .distinct()
        ).all()
    gone = []
    for owner in owners:
        pid = owner[len(prefix) :]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            gone.append(owner)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        pass
    return True


def extend_leases(engine: Engine, owner: str, ids: list[int], until: datetime) -> None:
    if ids:
        with engine.begin() as connection:
            connection.execute(
                update(Source)
                .where(Source.id.in_(ids), Source.lease_owner == owner)
                .values(lease_until=until)
            )


def release_leases(engine: Engine, owner: str, ids: list[int] | None = None) -> int:
    """Give up this instance's leases (all of them when `ids` is None); return how many."""
    condition = Source.lease_owner == owner
    if ids is not None:
        condition = and_(condition, Source.id.in_(ids))
    with engine.begin() as connection:
        result = connection.execute(
            update(Source).where(condition).values(lease_owner=None, lease_until=None)
        )
    return result.rowcount or 0
