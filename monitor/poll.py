"""One source, end to end: the thin shell around the pure stages.

    claim lease | fetch (conditional) | parse | skip seen items | fetch article pages |
    match | dedup against the database | store (one transaction) | schedule the next poll

Decisions (parsing, matching, dedup verdicts, scheduling arithmetic) are pure functions in their
own modules; this module only calls them in order and does the I/O. The CPU-bound stages
(parse, the seen-items split, match: monitor/stages.py) run in one hop per plain feed, in a
worker process when the machine has a core to spare, else in a thread, so that one large feed
never stalls the event loop and the other sources' fetches. A feed is parsed lazily: its items
stay drafts (HTML as sent) through the seen-items split, which compares them as sent, and only
the new items that could match (a cheap test on the raw text) are converted to text and matched.

On SQLite every write runs in one dedicated thread, which commits the writes waiting for it
together (see GroupWriter).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import xxhash
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from monitor.config import Config, SourceConfig
from monitor.dedup import Fingerprint, Thresholds, canonical_key, decide_near, fingerprint
from monitor.errors import FetchError, MonitorError, ParseError
from monitor.fetch import Fetcher, FetchPolicy
from monitor.items import (
    Draft,
    FetchResult,
    Item,
    PollReport,
    Verdict,
)
from monitor.logs import redact
from monitor.schedule import (
    Cadence,
    adaptive_interval,
    hint_from,
    next_poll_after_failure,
    next_poll_after_success,
)
from monitor.stages import (
    Candidate,
    Outcome,
    PoolUnavailable,
    Processor,
    ProcessorPool,
    default_workers,
    safe_canonical,
)
from monitor.store import articles as store
from monitor.store import driver
from monitor.store.schema import Poll, Source
from monitor.store.search import index_pending
from monitor.store.sources import ClaimedSource

log = logging.getLogger("monitor.poll")
_REPORT_FIELDS = tuple(f.name for f in fields(PollReport))  # all scalars: no asdict copy


def body_digest(content: bytes) -> str:
    """What tells a fetched body from the last one: XXH3-128 of its bytes. A collision (a
    changed body taken for the same) is a 1 in 2**128 chance; sha256, used before, cost 0.1 ms
    of the event loop per 200 KB body, xxh3 costs 2 us."""
    return xxhash.xxh3_128_hexdigest(content)


MAX_SITEMAPS = 50  # child sitemaps followed from one index
MAX_SITEMAP_DEPTH = 3
DB_RETRIES = 3

# Written once per source: built once, with bound parameters (building a statement and its cache
# key on every call costs more than running it). The SET columns come from the parameters.
_UPDATE_SOURCE = update(Source).where(
    Source.id == bindparam("b_source_id"), Source.lease_owner == bindparam("b_lease_owner")
)
_INSERT_POLL = insert(Poll)


def fetch_policy(config: Config) -> FetchPolicy:
    s = config.settings
    return FetchPolicy(
        user_agent=s.user_agent,
        concurrency=s.concurrency,
        per_host=s.per_host,
        min_delay=s.min_host_delay.total_seconds(),
        connect_timeout=s.timeouts.connect.total_seconds(),
        read_timeout=s.timeouts.read.total_seconds(),
        total_timeout=s.timeouts.total.total_seconds(),
        max_body=s.max_body,
        retries=s.retries,
        allow_private_addresses=s.allow_private_addresses,
    )


GROUP_MAX = 64  # writes committed together at most
# How long the writer holds a group that stores new articles open for more writes. A commit
# writes out every page its transaction dirtied, and an article's 64 LSH bands land on pages
# all over the band index. Taking only what was queued, a cold poll of 1,000 feeds committed
# 186-231 groups of ~13 articles; waiting 20 ms, 28-34 groups (the writer's CPU 1.8-2.1 s ->
# 1.3-1.4 s). Alone, the bands of 2,500 articles took 0.47 s to store 13 articles a commit
# and 0.25 s 100 a commit. A write with no article (a 304, say) dirties a page or two and is
# committed at once. See poll_many for the slots the waiting costs.
LINGER_SECONDS = 0.02


@dataclass
class _Write:
    within: Callable[[Connection], Any]
    alone: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    linger: bool = False  # worth waiting for others to share its commit (see LINGER_SECONDS)


def _settle(outcomes: Sequence[tuple[_Write, BaseException | None]]) -> None:
    """Hand each write's outcome (None: committed) to the poll waiting for it.

    One call into each event loop for all of them: every call writes to the loop's wake-up
    pipe and then waits to take the GIL back, which the writer thread did once per poll when
    each write woke the loop on its own (7% of its profile samples in a cold poll of 1,000
    feeds).
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write, BaseException | None]]] = {}
    for write, error in outcomes:
        by_loop.setdefault(write.loop, []).append((write, error))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed event loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(outcomes: list[tuple[_Write, BaseException | None]]) -> None:
    """On the event loop: resolve the futures that still wait (a poll may have been cancelled)."""
    for write, error in outcomes:
        if write.future.done():
            continue
        if error is None:
            write.future.set_result(None)
        else:
            write.future.set_exception(error)


class GroupWriter:
    """SQLite's one writer: a thread that commits the writes waiting for it together.

    SQLite takes one writer at a time, and writers in several threads only queue on its lock,
    whose busy handler is not fair: under load a waiting writer can lose the lock again and
    again until the busy timeout ends it with "database is locked" (57 of 1,000 sources of one
    cold poll on a loaded 2-core machine). One writer never waits, and SQLite's own work (done
    without the GIL) still overlaps parsing. Polls finish faster than SQLite commits them one
    by one (a commit writes out every page its transaction dirtied), so the thread takes every
    write already queued, up to GROUP_MAX, into one transaction, and when one of them asks to
    linger (it stores articles) waits up to ``linger_seconds`` for more. If any of them fails,
    that transaction is rolled back and each write runs again alone, with its own retries: one
    bad write never takes the others along, and a poll's writes stay all or nothing.
    """

    def __init__(self, engine: Engine, linger_seconds: float = LINGER_SECONDS) -> None:
        self.engine = engine
        self.linger_seconds = linger_seconds
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="monitor-db-writer", daemon=True)
        self._thread.start()

    async def write(
        self, within: Callable[[Connection], Any], alone: Callable[[], Any], *, linger: bool = False
    ) -> None:
        """Run ``within`` in a transaction of the writer (``alone`` when it must run apart);
        ``linger``: its commit may wait for other writes to share it."""
        if self._closed:
            raise RuntimeError("the database writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Write(within, alone, loop, future, linger))
        await future

    def close(self) -> None:
        """Stop after the writes already queued."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            self._serve()
        finally:  # whatever ended the thread, no poll waits for ever on a write left queued
            left: list[tuple[_Write, BaseException | None]] = []
            while True:
                try:
                    write = self._queue.get_nowait()
                except queue.Empty:
                    break
                if write is not None:
                    left.append((write, RuntimeError("the database writer stopped")))
            _settle(left)

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            linger = first.linger
            until = time.monotonic() + self.linger_seconds
            while len(group) < GROUP_MAX:
                wait = until - time.monotonic() if linger else 0.0
                try:
                    more = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
                linger = linger or more.linger
            self._commit(group)

    def _commit(self, group: list[_Write]) -> None:
        if len(group) > 1:
            try:
                with self.engine.begin() as connection:
                    for write in group:
                        write.within(connection)
            except Exception:
                log.debug("a grouped write failed: running the %d writes one by one", len(group))
            else:
                _settle([(write, None) for write in group])
                return
        for write in group:  # each poll hears at once: a write alone may wait between retries
            try:
                write.alone()
            except BaseException as exc:  # handed to the poll that waits for it
                _settle([(write, exc)])
            else:
                _settle([(write, None)])


class Poller:
    """Polls sources with one shared fetcher, matcher and database."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        fetcher: Fetcher,
        *,
        instance: str = "cli",
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        workers: int | None = None,
        pool: ProcessorPool | None = None,
    ) -> None:
        """``workers``: processes that parse and match (None: the settings'); with 0, a given
        ``clock`` or an in-memory database, that work runs in threads instead.

        ``pool``: those processes, already started (see :func:`fork_parse_workers`); the
        poller closes it. Without one, it spawns them on first use: a long-running process
        then passes nothing of itself (its listening sockets, say) to them."""
        self.config = config
        self.engine = engine
        self.fetcher = fetcher
        self.instance = instance
        self.processor = Processor(config, engine, clock)
        self.thresholds = Thresholds(
            jaccard=config.settings.dedup.jaccard,
            containment=config.settings.dedup.containment,
            min_shingles=config.settings.dedup.min_shingles,
        )
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rng = rng or random.Random()
        # SQLite serializes writing transactions (BEGIN IMMEDIATE): a poll's dedup decisions see
        # every article committed before, and no concurrent twin can slip in, so new articles
        # need no verification after commit. PostgreSQL's concurrent transactions do.
        self._verify_inserts = engine.dialect.name != "sqlite"
        self._pool_usable = True  # until the workers cannot be started
        self._pool = pool
        if pool is None and clock is None:
            workers = parse_workers(config, engine, workers)
            self._pool = ProcessorPool(config, engine, workers) if workers > 0 else None
        self._writer = GroupWriter(engine) if engine.dialect.name == "sqlite" else None

    async def index_search(self) -> None:
        """Index the articles stored so far for full-text search, in one batch (SQLite: see
        monitor/store/search.py); a failure is logged, and the next call or search retries."""
        if self._writer is None:
            return
        try:
            await self._writer.write(index_pending, self._index_alone)
        except Exception as exc:  # nothing is lost: the articles stay pending
            log.warning("could not index the new articles for search: %s", exc)

    def _index_alone(self) -> None:
        with self.engine.begin() as connection:
            index_pending(connection)

    def close(self) -> None:
        """Stop the worker processes, and the writer thread after the writes already queued."""
        if self._pool is not None:
            self._pool.close()
        if self._writer is not None:
            self._writer.close()

    async def _write_call(
        self,
        within: Callable[[Connection], list[int] | None],
        report: PollReport,
        retries: int = DB_RETRIES,
        *,
        linger: bool = False,
    ) -> None:
        """Run a poll's writes (``within`` a transaction) off the event loop: on SQLite in the
        writer thread, which may commit them with others (``linger``: see GroupWriter.write);
        otherwise in a transaction alone."""
        alone = functools.partial(self._write_alone, within, report, retries)
        if self._writer is None:
            await asyncio.to_thread(alone)
        else:
            await self._writer.write(within, alone, linger=linger)

    def _write_alone(
        self,
        within: Callable[[Connection], list[int] | None],
        report: PollReport,
        retries: int,
    ) -> None:
        """``within`` in a transaction of its own, retried after an OperationalError; then the
        verified insert of the articles it created."""
        for attempt in range(retries):
            try:
                with self.engine.begin() as connection:
                    created = within(connection)
                if created and self._verify_inserts:
                    self._verify(created, report)
                return
            except OperationalError:
                if attempt == retries - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))

    # --- the pipeline -------------------------------------------------------------------------

    async def poll(self, claimed: ClaimedSource) -> PollReport:
        source = self.processor.source(claimed.name)
        report = PollReport(source=source.name)
        started_at = self.clock()
        started = time.perf_counter()
        result: FetchResult | None = None
        try:
            result = await self.fetcher.fetch(
                source.url,
                etag=claimed.etag if source.conditional else None,
                last_modified=claimed.last_modified if source.conditional else None,
                headers=source.headers,
                trusted=True,
                ignore_robots=source.ignore_robots,
            )
            report.http_status = result.status
            report.permanent_redirect = result.permanent_redirect
            body_hash = body_digest(result.content) if result.content else None
            if result.not_modified or (
                source.conditional and body_hash and body_hash == claimed.body_hash
            ):
                report.status = "not_modified"
                outcome = Outcome(0, [], [], None)
            else:
                outcome = await self._process(claimed, source, result)
                # the body is read: not kept while the write waits (see poll_many)
                result = replace(result, content=b"")
            report.seconds = time.perf_counter() - started
            await self._write_call(
                functools.partial(
                    self._store_success,
                    claimed,
                    source,
                    result,
                    body_hash,
                    outcome,
                    report,
                    started_at,
                ),
                report,
                linger=bool(outcome.candidates),  # it stores articles (their LSH bands)
            )
        except (FetchError, ParseError) as exc:
            report.status = "error"
            report.error = redact(str(exc))
            report.http_status = getattr(exc, "status", None) or report.http_status
            report.seconds = time.perf_counter() - started
            retry_after = getattr(exc, "retry_after", None)
            await self._write_call(
                functools.partial(
                    self._store_failure, claimed, source, report, started_at, retry_after
                ),
                report,
                retries=1,
            )
        except (OperationalError, DBAPIError) as exc:
            report.status = "error"
            report.error = f"database error: {str(exc.orig or exc).splitlines()[0]}"
            report.seconds = time.perf_counter() - started
        log.info(
            "poll %s: %s%s items=%d new=%d matched=%d articles=%d copies=%d %.2fs%s",
            report.source,
            report.status,
            f" http={report.http_status}" if report.http_status else "",
            report.items_seen,
            report.items_new,
            report.matched,
            report.articles_new,
            report.copies,
            report.seconds,
            f" error={report.error}" if report.error else "",
            extra={"fields": {"event": "poll", **{f: getattr(report, f) for f in _REPORT_FIELDS}}},
        )
        return report

    async def poll_many(
        self, claimed: Sequence[ClaimedSource], on_done: Callable[[PollReport], Any] | None = None
    ) -> list[PollReport]:
        # Bounded: fetched bodies wait for the parse workers, so without a bound all of them
        # would be in memory at once when fetching outpaces parsing. Twice the fetches: a
        # poll also holds its place while its write waits for company (LINGER_SECONDS), and
        # with the fetches plus 8 (as before the writer lingered) the polls waiting for a
        # commit kept fetching and parsing short of work. Cold poll of 1,000 feeds, 8 pairs:
        # 3.53 s -> 3.37 s, CPU 6.17 s -> 5.74 s; peak RSS of the main process 104 -> 117 MB
        # (a body is dropped once parsed, so a write waiting holds none).
        in_flight = asyncio.Semaphore(2 * self.fetcher.policy.concurrency)

        async def one(source: ClaimedSource) -> PollReport:
            try:
                async with in_flight:
                    report = await self.poll(source)
            except Exception as exc:  # a bug in one source's processing never stops the others
                log.exception("poll %s failed unexpectedly", source.name)
                report = PollReport(
                    source=source.name, status="error", error=f"internal error: {exc!r}"
                )
            if on_done:
                on_done(report)
            return report

        return list(await asyncio.gather(*(one(s) for s in claimed)))

    # --- stages -------------------------------------------------------------------------------

    async def _process(
        self, claimed: ClaimedSource, source: SourceConfig, result: FetchResult
    ) -> Outcome:
        """Parse, separate the new items, read their article pages if asked, match them.

        A plain feed does it all in one thread hop; child sitemaps and article pages are
        fetched on the event loop between the steps.
        """
        match_now = not source.fetch_article
        parsed_outcome = None
        if self._pool is not None and self._pool_usable:
            try:
                parsed_outcome = await self._pool.parse_split_match(
                    claimed, source, result, match_now
                )
            except PoolUnavailable as exc:
                if self._pool_usable:
                    log.warning("%s; parsing in threads from now on", exc)
                self._pool_usable = False
        if parsed_outcome is None:
            parsed_outcome = await asyncio.to_thread(
                self.processor.parse_split_match, claimed, source, result, match_now
            )
        parsed, outcome = parsed_outcome
        if outcome is None:
            items = list(parsed.items)
            items += await self._follow_sitemaps(source, parsed.sitemaps, {result.url})
            drafts = [Draft(item) for item in items[: self.processor.limit(source)]]
            outcome = await asyncio.to_thread(
                self.processor.split_new, claimed, drafts, parsed.ttl_seconds
            )
            match_now = False
        if source.fetch_article:
            await asyncio.to_thread(Candidate.finish, outcome.candidates)
            await self._fetch_articles(outcome.candidates)
        if not match_now:
            await asyncio.to_thread(self.processor.match, source, outcome.candidates)
        return outcome

    async def _follow_sitemaps(
        self, source: SourceConfig, urls: Sequence[str], visited: set[str], depth: int = 1
    ) -> list[Item]:
        """Items of the child sitemaps of an index: bounded in depth and count, loops cut."""
        items: list[Item] = []
        if depth > MAX_SITEMAP_DEPTH:
            return items
        failures: list[MonitorError] = []
        for url in urls:
            if url in visited or len(visited) > MAX_SITEMAPS:
                continue
            visited.add(url)
            try:  # one broken child never loses the items of its healthy siblings
                child = await self.fetcher.fetch(
                    url, trusted=False, ignore_robots=source.ignore_robots
                )
                parsed = await asyncio.to_thread(self.processor.parse, source, child)
            except (FetchError, ParseError) as exc:
                log.warning("sitemap %s: child %s skipped: %s", source.name, url, exc)
                failures.append(exc)
                continue
            items.extend(parsed.items)
            if parsed.sitemaps:
                items += await self._follow_sitemaps(source, parsed.sitemaps, visited, depth + 1)
        if failures and not items and len(failures) == len(urls):
            raise failures[0]  # every child failed: the source failed
        return items

    async def _fetch_articles(self, candidates: list[Candidate]) -> None:
        """Read the article page of each new item; on failure keep the feed's own text."""

        from monitor.parse import extract_article

        async def one(candidate: Candidate) -> None:
            url = candidate.item.url
            if not url:
                return
            try:
                page = await self.fetcher.fetch(url, trusted=False)
                article = await asyncio.to_thread(
                    extract_article, page.content, url=page.url, content_type=page.content_type
                )
            except (MonitorError, ValueError) as exc:
                log.debug("article %s not read: %s", url, exc)
                return
            item = candidate.item
            candidate.text = article.text
            candidate.item = replace(
                item,
                title=item.title or (article.title or ""),
                published=item.published or article.published,
                language=item.language or article.language,
            )

        await asyncio.gather(*(one(c) for c in candidates))

    # --- writing ------------------------------------------------------------------------------

    def _store_success(
        self,
        claimed: ClaimedSource,
        source: SourceConfig,
        result: FetchResult,
        body_hash: str | None,
        outcome: Outcome,
        report: PollReport,
        started_at: datetime,
        connection: Connection,
    ) -> list[int]:
        """Store the poll's articles, sightings, seen items and source state in ``connection``'s
        transaction; return the ids of the new articles."""
        counts = PollReport(source=report.source)
        now = self.clock()
        seen_rows = list(outcome.unchanged)
        seen_rows += [(key, digest, None) for key, digest in outcome.unmatched]
        created: list[int] = []
        for candidate in outcome.candidates:
            article_id = self._record(
                connection, claimed.id, source, candidate, now, counts, created
            )
            seen_rows.append((candidate.key, candidate.hash, article_id))
        store.remember_items(connection, claimed.id, seen_rows, now)
        report.items_seen = outcome.parsed_items
        report.items_new = outcome.items_new
        report.matched = counts.matched
        report.articles_new = counts.articles_new
        report.copies = counts.copies
        report.updated = counts.updated
        self._record_success(
            connection, claimed, source, result, body_hash, outcome, report, started_at, now
        )
        return created

    def _record(
        self,
        connection: Connection,
        source_id: int,
        source: SourceConfig,
        candidate: Candidate,
        now: datetime,
        counts: PollReport,
        created: list[int],
    ) -> int | None:
        """Decide and store one candidate; return the article it belongs to, if any."""
        match = candidate.match
        if match is None or not match.matched:
            return None
        counts.matched += 1
        item = candidate.item
        print_fp = candidate.fingerprint or fingerprint(item.title, candidate.text)
        if candidate.previous_article is not None:
            if store.revise_article(
                connection,
                candidate.previous_article,
                title=item.title,
                summary=item.summary,
                text=candidate.text,
                fingerprint=print_fp,
                topics=match.topics,
                now=now,
            ):
                counts.updated += 1
            return candidate.previous_article
        url = item.url or ""
        if url:
            canonical = candidate.canonical or safe_canonical(url)
            key = canonical_key(canonical)
        else:
            canonical, key = f"urn:monitor:item:{candidate.key}", candidate.key
        verdict = self._decide(connection, source_id, item, key, print_fp)
        if verdict.kind == "new":
            article_id, created_now = store.insert_article(
                connection,
                store.NewArticle(
                    url=url or canonical,
                    url_key=key,
                    canonical_url=canonical,
                    guid=item.guid,
                    source_id=source_id,
                    title=item.title,
                    summary=item.summary,
                    text=candidate.text,
                    author=item.author,
                    language=item.language or source.language,
                    published_at=item.published or item.updated,
                    discovered_at=now,
                    fingerprint=print_fp,
                    topics=match.topics,
                ),
            )
            if created_now:
                counts.articles_new += 1
                created.append(article_id)
                return article_id
            verdict = Verdict(kind="copy", article_id=article_id, reason="url")
        assert verdict.article_id is not None
        counts.copies += 1
        store.add_sighting(
            connection,
            article_id=verdict.article_id,
            source_id=source_id,
            url=url or canonical,
            url_key=key,
            seen_at=now,
            published_at=item.published or item.updated,
            reason=verdict.reason or "near",
            similarity=verdict.similarity,
        )
        return verdict.article_id

    def _verify(self, created: list[int], report: PollReport) -> None:
        """After commit: fold new articles that a concurrent worker also stored as near copies."""
        with self.engine.begin() as connection:
            merged = store.verify_new_articles(connection, created, self.thresholds)
        mine = sum(1 for article_id in merged if article_id in created)
        if mine:
            report.articles_new -= mine
            report.copies += mine
            log.info(
                "poll %s: %d article(s) stored concurrently elsewhere, merged",
                report.source,
                len(merged),
            )

    def _decide(
        self, connection: Connection, source_id: int, item: Item, key: str, print_fp: Fingerprint
    ) -> Verdict:
        """An exact copy (by URL, GUID or content: one query), else the near-copy verdict."""
        twin = store.exact_twin(
            connection,
            url_key=key,
            source_id=source_id,
            guid=item.guid or None,
            content_hash=print_fp.content_hash or None,  # an empty text is no identity
        )
        if twin is not None:
            way, found = twin
            return Verdict(kind="copy", article_id=found, reason=way, similarity=1.0)
        candidates = store.near_candidates(connection, print_fp.bands())
        return decide_near(print_fp, candidates, self.thresholds)

    def _cadence(self, source: SourceConfig, claimed: ClaimedSource) -> Cadence:
        s = self.config.settings
        interval = self.config.interval_of(source)
        if source.interval == "auto":
            interval = timedelta(seconds=claimed.interval_seconds)
        return Cadence(
            interval=interval,
            cron=source.cron,
            jitter=s.jitter,
            max_backoff=s.max_backoff,
            timezone=s.digest.timezone,
        )

    def _record_success(
        self,
        connection: Connection,
        claimed: ClaimedSource,
        source: SourceConfig,
        result: FetchResult,
        body_hash: str | None,
        outcome: Outcome,
        report: PollReport,
        started_at: datetime,
        now: datetime,
    ) -> None:
        values: dict[str, Any] = {
            "last_poll_at": now,
            "last_success_at": now,
            "last_error": None,
            "consecutive_failures": 0,
            "lease_owner": None,
            "lease_until": None,
            "permanent_redirect": result.permanent_redirect,
        }
        if not result.not_modified:
            values.update(etag=result.etag, last_modified=result.last_modified, body_hash=body_hash)
        if report.items_new:
            values["last_new_at"] = now
        if outcome.digests is not None:
            values["item_digests"] = outcome.digests or None
            if outcome.parsed_whole:
                values["item_digests_at"] = now
        cadence = self._cadence(source, claimed)
        if source.interval == "auto":
            week_new = connection.scalar(
                select(func.coalesce(func.sum(Poll.items_new), 0)).where(
                    Poll.source_id == claimed.id, Poll.started_at >= now - timedelta(days=7)
                )
            )
            hint = hint_from(outcome.ttl_seconds, result.headers.get("cache-control"))
            interval = adaptive_interval(
                int(week_new or 0) + report.items_new,
                minimum=self.config.settings.min_interval,
                maximum=self.config.settings.max_interval,
                hint=hint,
            )
            cadence = replace(cadence, interval=interval)
            values["interval_seconds"] = interval.total_seconds()
        values["next_poll_at"] = next_poll_after_success(cadence, now, self.rng.random())
        driver.execute(
            connection,
            _UPDATE_SOURCE,
            {"b_source_id": claimed.id, "b_lease_owner": self.instance, **values},
        )
        self._insert_poll(connection, claimed.id, report, started_at, now)

    def _store_failure(
        self,
        claimed: ClaimedSource,
        source: SourceConfig,
        report: PollReport,
        started_at: datetime,
        retry_after: float | None,
        connection: Connection,
    ) -> None:
        """Record a failed poll and its backoff in ``connection``'s transaction."""
        now = self.clock()
        failures = claimed.consecutive_failures + 1
        next_at = next_poll_after_failure(
            self._cadence(source, claimed), now, failures, self.rng.random(), retry_after
        )
        connection.execute(
            _UPDATE_SOURCE,
            {
                "b_source_id": claimed.id,
                "b_lease_owner": self.instance,
                "last_poll_at": now,
                "last_error": report.error,
                "last_error_at": now,
                "consecutive_failures": failures,
                "next_poll_at": next_at,
                "lease_owner": None,
                "lease_until": None,
            },
        )
        self._insert_poll(connection, claimed.id, report, started_at, now)

    def _insert_poll(
        self,
        connection: Connection,
        source_id: int,
        report: PollReport,
        started_at: datetime,
        now: datetime,
    ) -> None:
        driver.execute(
            connection,
            _INSERT_POLL,
            {
                "source_id": source_id,
                "started_at": started_at,
                "finished_at": now,
                "status": report.status,
                "http_status": report.http_status,
                "items_seen": report.items_seen,
                "items_new": report.items_new,
                "matched": report.matched,
                "articles_new": report.articles_new,
                "copies": report.copies,
                "updated": report.updated,
                "error": report.error,
                "seconds": round(report.seconds, 4),
                "instance": self.instance,
            },
        )


def parse_workers(config: Config, engine: Engine, asked: int | None = None) -> int:
    """How many parse worker processes to run: ``asked``, else the settings'; none for an
    in-memory SQLite database, which a worker could not open."""
    setting = config.settings.parse_workers if asked is None else asked
    workers = default_workers() if setting == "auto" else setting
    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    return 0 if in_memory else workers


def fork_parse_workers(config: Config, engine: Engine) -> ProcessorPool | None:
    """The parse workers of a one-off poll, forked now (see ProcessorPool.start_early).

    Call it before the process opens the database. The fork needs every connection closed,
    and closing the last connection to a SQLite database checkpoints its write-ahead log:
    with the log of the last poll in it, 20-25 ms on the event loop's thread, a thirtieth
    of a poll of 1,000 feeds that all answer 304.
    """
    workers = parse_workers(config, engine)
    if not workers:
        return None
    pool = ProcessorPool(config, engine, workers)
    pool.start_early()
    return pool


async def poll_once(
    config: Config,
    engine: Engine,
    names: Sequence[str] = (),
    *,
    instance: str | None = None,
    on_start: Callable[[int], Any] | None = None,
    on_done: Callable[[PollReport], Any] | None = None,
    pool: ProcessorPool | None = None,
) -> list[PollReport]:
    """`monitor poll`: claim the (named or all enabled) sources now, poll them, release them.

    ``instance`` (the lease owner) defaults to this process's own name (see cli_instance);
    ``pool``: the parse workers, if already started (see :func:`fork_parse_workers`).
    """
    from monitor.store.sources import claim_named, cli_instance, release_leases

    instance = instance or cli_instance()

    wanted = list(names) if names else [s.name for s in config.sources if s.enabled]
    known = {s.name for s in config.sources}
    for name in wanted:
        if name not in known:
            config.source(name)  # an unknown name is a usage error, before any work
    now = datetime.now(UTC)
    lease = config.settings.lease.total_seconds()
    claimed = claim_named(engine, instance, wanted, now, lease)
    busy = sorted(set(wanted) - {c.name for c in claimed})
    if on_start:
        on_start(len(claimed))
    reports = [
        PollReport(source=name, status="skipped", error="being polled by another instance")
        for name in busy
    ]
    try:
        async with Fetcher(fetch_policy(config)) as fetcher:
            poller = Poller(config, engine, fetcher, instance=instance, pool=pool)
            try:
                reports += await poller.poll_many(claimed, on_done)
                await poller.index_search()
            finally:
                poller.close()
    finally:
        release_leases(engine, instance, [c.id for c in claimed])
    return sorted(reports, key=lambda r: r.source)
