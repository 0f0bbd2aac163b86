"""`monitor run`: the background service.

APScheduler (AsyncIOScheduler) drives four jobs in one process:
- the dispatcher, every `dispatch_interval`: renews the leases of the polls in flight, claims the
  sources that are due (an atomic conditional UPDATE, so several instances sharing one PostgreSQL
  database each poll a due source exactly once) and starts their polls;
- the daily digest at `digest.time` in `digest.timezone`, written by exactly one instance (the
  `digests` row is the claim), plus any day missed while the service was down;
- on SQLite, every minute: index the articles stored meanwhile for full-text search, in one
  batch (monitor/store/search.py; a search indexes what is still waiting first);
- housekeeping: prune old seen-item keys and poll history, let SQLite optimise itself.

The database holds all state (next poll times, backoff, validators, leases), so a restart resumes
where the last run stopped, and a killed instance's sources are taken over when its leases expire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, delete, func, select, text

from monitor.config import Config
from monitor.fetch import Fetcher
from monitor.items import PollReport
from monitor.metrics import Metrics
from monitor.poll import Poller, fetch_policy
from monitor.store.db import read_only
from monitor.store.schema import Poll, SeenItem, Source
from monitor.store.sources import (
    ClaimedSource,
    claim_due,
    extend_leases,
    release_leases,
    sync_sources,
)

log = logging.getLogger("monitor.service")
SEARCH_INDEX_SECONDS = 60  # new articles wait at most this long for the search index


def instance_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class Service:
    config: Config
    engine: Engine
    instance: str = field(default_factory=instance_name)
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        settings = self.config.settings
        self.dispatch_every = settings.dispatch_interval.total_seconds()
        self.lease_seconds = settings.lease.total_seconds()
        self.grace = settings.shutdown_grace.total_seconds()
        self.inflight: dict[int, asyncio.Task[PollReport]] = {}
        self.stopping = asyncio.Event()
        self.signals = 0
        self.last_tick = time.monotonic()
        self.metrics = Metrics()
        self.poller: Poller | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        sync_sources(self.engine, self.config)
        server = await self._start_metrics_server() if self.metrics_port is not None else None
        scheduler = AsyncIOScheduler(timezone=UTC)
        async with Fetcher(fetch_policy(self.config)) as fetcher:
            self.poller = Poller(self.config, self.engine, fetcher, instance=self.instance)
            self._add_jobs(scheduler)
            scheduler.start()
            log.info(
                "service %s started: %d sources, dispatch every %.0fs, lease %.0fs",
                self.instance,
                sum(s.enabled for s in self.config.sources),
                self.dispatch_every,
                self.lease_seconds,
            )
            await self.dispatch()  # do not wait a whole interval for the first polls
            catch_up = asyncio.create_task(self.write_missed_digests())
            await self.stopping.wait()
            scheduler.shutdown(wait=False)
            catch_up.cancel()
            await self._drain()
            await self.poller.index_search()
            # the writes still queued, then the parse workers
            await asyncio.to_thread(self.poller.close)
        if server is not None:
            await server.cleanup()
        released = release_leases(self.engine, self.instance)
        log.info("service %s stopped; %d leases released", self.instance, released)
        return 0

    def _on_signal(self, sig: int) -> None:
        self.signals += 1
        if self.signals > 1:
            log.warning("second %s: exiting at once", signal.Signals(sig).name)
            os._exit(1)
        log.info(
            "%s: no new polls; waiting up to %.0fs for %d in flight",
            signal.Signals(sig).name,
            self.grace,
            len(self.inflight),
        )
        self.stopping.set()

    async def _drain(self) -> None:
        """Let in-flight polls finish within the grace period, then abandon the rest cleanly."""
        tasks = list(self.inflight.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
            log.warning("abandoned %d polls at shutdown; they will be redone", len(pending))

    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        digest = self.config.settings.digest
        scheduler.add_job(
            self.dispatch,
            IntervalTrigger(seconds=self.dispatch_every),
            id="dispatch",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.add_job(
            self.write_digest_job,
            CronTrigger(
                hour=digest.time.hour, minute=digest.time.minute, timezone=ZoneInfo(digest.timezone)
            ),
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        scheduler.add_job(
            self.index_search,
            IntervalTrigger(seconds=SEARCH_INDEX_SECONDS),
            id="search-index",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.housekeeping,
            IntervalTrigger(hours=1),
            id="housekeeping",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(minutes=1),
        )

    # --- jobs ---------------------------------------------------------------------------------

    async def dispatch(self) -> None:
        """Renew the leases in flight, claim due sources, start their polls."""
        self.last_tick = time.monotonic()
        if self.stopping.is_set():
            return
        now = datetime.now(UTC)
        try:
            await asyncio.to_thread(
                extend_leases,
                self.engine,
                self.instance,
                list(self.inflight),
                now + timedelta(seconds=self.lease_seconds),
            )
            room = max(0, self.config.settings.concurrency * 2 - len(self.inflight))
            claimed = (
                await asyncio.to_thread(
                    claim_due,
                    self.engine,
                    self.instance,
                    now,
                    self.lease_seconds,
                    room,
                    busy=list(self.inflight),  # a poll may end while the claim runs
                )
                if room
                else []
            )
            self.metrics.queue_lag.set(await asyncio.to_thread(self._queue_lag, now))
        except Exception as exc:  # the database may be restarting: try again next tick
            log.warning("dispatch failed, retrying next tick: %s", _first_line(exc))
            self.metrics.dispatch_errors.inc()
            return
        if self.stopping.is_set():  # stopped while claiming: hand the claims straight back
            await asyncio.to_thread(
                release_leases, self.engine, self.instance, [s.id for s in claimed]
            )
            return
        for source in claimed:
            if source.id in self.inflight:
                continue
            self.inflight[source.id] = asyncio.create_task(self._poll(source))
        self.metrics.inflight.set(len(self.inflight))

    async def _poll(self, source: ClaimedSource) -> PollReport:
        assert self.poller is not None
        try:
            report = await self.poller.poll(source)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one source's bug stop the service
            log.exception("poll %s failed unexpectedly", source.name)
            report = PollReport(
                source=source.name, status="error", error=f"internal error: {exc!r}"
            )
        finally:
            self.inflight.pop(source.id, None)
            self.metrics.inflight.set(len(self.inflight))
        self.metrics.observe(report)
        return report

    def _queue_lag(self, now: datetime) -> float:
        with read_only(self.engine) as connection:
            oldest = connection.scalar(
                select(func.min(Source.next_poll_at)).where(
                    Source.enabled.is_(True), Source.next_poll_at <= now
                )
            )
        return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0

    async def write_digest_job(self, day: Any = None) -> None:
        from monitor.digest import claim_digest, write_digest

        settings = self.config.settings
        zone = ZoneInfo(settings.digest.timezone)
        day = day or (datetime.now(zone).date() - timedelta(days=1))
        try:
            if not await asyncio.to_thread(
                claim_digest, self.engine, day, self.instance, datetime.now(UTC)
            ):
                return
            files = await asyncio.to_thread(
                write_digest, self.engine, self.config, day, None, instance=self.instance
            )
            log.info("digest %s written: %s", day, ", ".join(str(p) for p in files.paths))
            self.metrics.digests.inc()
        except Exception as exc:  # a full disk must not stop the polling
            log.error("digest %s failed: %s", day, _first_line(exc))
            self.metrics.digest_errors.inc()

    async def write_missed_digests(self) -> None:
        from monitor.digest import missed_digest_days

        try:
            days = await asyncio.to_thread(
                missed_digest_days, self.engine, self.config.settings, datetime.now(UTC)
            )
        except Exception as exc:
            log.warning("could not look for missed digests: %s", _first_line(exc))
            return
        for day in days:
            await self.write_digest_job(day)

    async def index_search(self) -> None:
        """Index the articles stored in the last minute for full-text search, in one batch."""
        if self.poller is not None:
            await self.poller.index_search()

    async def housekeeping(self) -> None:
        try:
            await asyncio.to_thread(prune, self.engine, self.config, datetime.now(UTC))
        except Exception as exc:
            log.warning("housekeeping failed: %s", _first_line(exc))

    # --- metrics and health -------------------------------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        """Healthy while the dispatcher ticks on time (a stuck scheduler fails the check)."""
        late = time.monotonic() - self.last_tick
        if late > max(3 * self.dispatch_every, 30):
            return False, f"dispatcher last ran {late:.0f}s ago"
        return True, f"ok: {len(self.inflight)} polls in flight"

    async def _start_metrics_server(self) -> Any:
        from aiohttp import web

        async def metrics(_: web.Request) -> web.Response:
            body, content_type = self.metrics.render()
            return web.Response(body=body, headers={"Content-Type": content_type})

        async def healthz(_: web.Request) -> web.Response:
            ok, message = self.healthy()
            return web.Response(text=message + "\n", status=200 if ok else 503)

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.metrics_host, self.metrics_port)
        await site.start()
        log.info("metrics on http://%s:%s/metrics", self.metrics_host, self.metrics_port)
        return runner


def prune(engine: Engine, config: Config, now: datetime) -> tuple[int, int]:
    """Forget seen-item keys and poll history past their retention; optimise SQLite."""
    retention = config.settings.retention
    with engine.begin() as connection:
        seen = connection.execute(
            delete(SeenItem).where(SeenItem.last_seen_at < now - retention.seen_items)
        ).rowcount
        polls = connection.execute(
            delete(Poll).where(Poll.started_at < now - retention.polls)
        ).rowcount
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:  # optimize may run ANALYZE, which writes
            connection.execute(text("PRAGMA optimize"))
    log.info("housekeeping: %d seen-item keys and %d polls pruned", seen or 0, polls or 0)
    return seen or 0, polls or 0


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else repr(exc)
