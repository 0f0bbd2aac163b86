"""The CPU-bound stages of a poll: parse, split off the seen items, match, fingerprint.

A :class:`Processor` runs them for one fetched document; it only reads the database (the
seen items of the source). The poller runs it in a thread of its own process, or, when the
machine has a core to spare, in worker processes (:class:`ProcessorPool`): Python runs one
thread at a time, and these stages are most of a poll's CPU, so a worker process lets a
second core parse and match while the first fetches and writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Engine
from xxhash import xxh3_128_hexdigest

from monitor.config import Config, SourceConfig, topic_rules
from monitor.dedup import Fingerprint, canonical_url, fingerprint
from monitor.errors import ParseError
from monitor.items import Draft, FetchResult, Item, MatchResult, ParsedSource
from monitor.store import articles as store
from monitor.store.db import make_engine, read_only
from monitor.store.sources import ClaimedSource

if TYPE_CHECKING:
    from monitor.match import Matcher

# The parsers and the matcher are imported where they are used: a process that parses in
# worker processes, or has nothing to parse (every feed unchanged), never loads them.

SEEN_REFRESH = timedelta(days=1)  # see Processor.split_new
log = logging.getLogger("monitor.stages")
MAX_WORKERS = 4
PARSE_TIME_LIMIT = 120.0  # seconds one document may take in a worker (10 MB take under 10)
PARENT_CHECK_SECONDS = 0.5
# Capacity of the pipes to and from the workers (Linux's default is 64 KB; an unprivileged
# process may raise it to /proc/sys/fs/pipe-max-size, 1 MB by default). See _widen_pipes.
PIPE_BYTES = 1 << 20


def item_key(item: Item) -> str:
    """Identity of an item within its source: its GUID, else its canonical URL, else its text."""
    if item.guid:
        basis = "guid:" + item.guid
    elif item.url:
        basis = "url:" + safe_canonical(item.url)
    else:
        basis = "text:" + item.title + "\n" + item.summary
    return hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest()


_SHA1_HEX = 40  # the length of an item hash stored before item hashes were XXH3


def item_hash(draft: Draft) -> str:
    """What changes when the source edits the item: its title, summary and content as the
    document gave them (the HTML of a feed's item, so that unchanged items need no conversion).

    XXH3-128 in hex, 32 characters: a cold poll hashes every item (50,000 of about 4 KB for
    1,000 feeds), 0.17 s of CPU with sha1 and 0.03 s with XXH3. The hashes stored before are
    sha1 (40 characters): see :func:`same_item`.
    """
    return xxh3_128_hexdigest(_hash_basis(draft))


def same_item(stored: str, digest: str, draft: Draft) -> bool:
    """Whether the item's ``digest`` (:func:`item_hash`) equals the ``stored`` one, which may be
    a sha1 written before item hashes were XXH3: comparing it with the sha1 of the same basis
    keeps an upgrade from taking every item seen before for an edited one."""
    if stored == digest:
        return True
    if len(stored) != _SHA1_HEX:
        return False
    return hashlib.sha1(_hash_basis(draft)).hexdigest() == stored


def _hash_basis(draft: Draft) -> bytes:
    return "\n".join((draft.item.title, *draft.raw)).encode("utf-8", "replace")


def safe_canonical(url: str) -> str:
    try:
        return canonical_url(url)
    except ValueError:
        return url


@dataclass
class Candidate:
    """An item that is new to its source (or changed), on its way through match and dedup.

    While ``draft`` is pending, ``item`` has no summary and content yet: see :meth:`finish`.
    A matched candidate carries its ``text``, ``fingerprint`` and the ``canonical`` form of
    its URL: work that would otherwise fall to the database writer.
    """

    draft: Draft
    key: str
    hash: str
    previous_article: int | None = None  # set when the source changed an item it sent before
    text: str = ""
    match: MatchResult | None = None
    fingerprint: Fingerprint | None = None
    canonical: str | None = None  # of a matched candidate's URL, taken off the writer's hands
    item: Item = field(init=False)

    def __post_init__(self) -> None:
        self.item = self.draft.item

    @property
    def pending(self) -> bool:
        return self.draft.pending

    @property
    def matched(self) -> bool:
        return self.match is not None and self.match.matched

    @staticmethod
    def finish(candidates: Sequence[Candidate]) -> None:
        """Convert the pending candidates' HTML to text, in one batch."""
        from monitor.parse import finish

        pending = [c for c in candidates if c.pending]
        for candidate, item in zip(pending, finish([c.draft for c in pending]), strict=True):
            candidate.draft = Draft(item)
            candidate.item = item


@dataclass(frozen=True)
class Outcome:
    """What processing decided for the items of one poll, before it is written."""

    parsed_items: int
    candidates: list[Candidate]
    unchanged: list[tuple[str, str, int | None]]  # seen rows to refresh
    ttl_seconds: int | None
    # new or changed items known not to match, as (key, hash): only remembered as seen
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    changed: int = 0  # items seen before whose hash changed
    # Digests of the feed's items, kept for the next poll (see parse_feed_changes): None leaves
    # the stored ones, b"" clears them; parsed_whole says the whole document was read now.
    digests: bytes | None = None
    parsed_whole: bool = False

    @property
    def items_new(self) -> int:
        """Items this source never sent before (edited ones are not new)."""
        return len(self.candidates) + len(self.unmatched) - self.changed


class Processor:
    """Parse, split, match and fingerprint the documents of the configured sources."""

    def __init__(
        self, config: Config, engine: Engine, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))
        self._sources = {s.name: s for s in config.sources}  # config.source() is a linear scan
        # An unchanged item's last_seen_at (what keeps its key from being pruned) is rewritten
        # once a day at most, not on every poll: a warm poll then writes only the new items.
        self._seen_refresh = min(SEEN_REFRESH, config.settings.retention.seen_items / 4)

    @cached_property
    def matcher(self) -> Matcher:
        from monitor.match import Matcher

        return Matcher(topic_rules(self.config.topics))

    def source(self, name: str) -> SourceConfig:
        return self._sources.get(name) or self.config.source(name)

    def limit(self, source: SourceConfig) -> int:
        return source.max_items or self.config.settings.max_items

    def parse_split_match(
        self, claimed: ClaimedSource, source: SourceConfig, result: FetchResult, match: bool
    ) -> tuple[ParsedSource, Outcome | None]:
        """Parse, split and (if ``match``) match; no outcome when child sitemaps must be read.

        With an outcome, the parsed source comes back without its drafts, and the items that
        did not match as their key and hash: what is returned is what the writer needs (and,
        from a worker process, cheap to send: 50,000 candidate objects cost the receiving
        process a second to unpickle).
        """
        if source.type == "feed":
            changes = self._parse_changes(claimed, source, result)
            if changes is not None:
                return self._matched(source, *changes, match)
        parsed = self.parse(source, result)
        if parsed.sitemaps:
            return parsed, None
        drafts = list(parsed.all_drafts())[: self.limit(source)]
        outcome = self.split_new(claimed, drafts, parsed.ttl_seconds)
        if source.type == "feed":
            # None when the document did not cut into exactly the items read (see
            # parse_feed_changes): then the next poll parses it whole again
            digests = parsed.item_digests if len(parsed.item_digests or ()) == len(drafts) else None
            outcome = replace(outcome, digests=b"".join(digests or ()), parsed_whole=True)
        return self._matched(source, parsed, outcome, match)

    def _parse_changes(
        self, claimed: ClaimedSource, source: SourceConfig, result: FetchResult
    ) -> tuple[ParsedSource, Outcome] | None:
        """Parse only the items that changed since the last poll, when that is safe: the stored
        digests were taken by a whole parse within the seen-items refresh period (a whole parse
        is what refreshes the unchanged items), the feed cuts cleanly, and no item sent before
        was edited (an edit is rare, and the whole document settles what it means)."""
        known = claimed.item_digests
        taken = claimed.item_digests_at
        if not known or taken is None or taken < self.clock() - self._seen_refresh:
            return None
        from monitor.parse import parse_feed_changes

        changes = parse_feed_changes(
            result.content,
            base_url=result.url,
            content_type=result.content_type,
            max_items=self.limit(source),
            known={known[i : i + 8] for i in range(0, len(known), 8)},
        )
        if changes is None:
            return None
        parsed, digests = changes
        outcome = self.split_new(claimed, list(parsed.drafts), parsed.ttl_seconds)
        if outcome.changed:
            return None
        return parsed, replace(outcome, parsed_items=len(digests), digests=b"".join(digests))

    def _matched(
        self, source: SourceConfig, parsed: ParsedSource, outcome: Outcome, match: bool
    ) -> tuple[ParsedSource, Outcome]:
        if match:
            self.match(source, outcome.candidates)
            outcome = replace(
                outcome,
                candidates=[c for c in outcome.candidates if c.matched],
                unmatched=[(c.key, c.hash) for c in outcome.candidates if not c.matched],
            )
        return replace(parsed, items=(), drafts=(), item_digests=None), outcome  # in outcome

    def parse(self, source: SourceConfig, result: FetchResult) -> ParsedSource:
        from monitor.parse import parse_source
        from monitor.parse.listing import ListingSelectors

        selectors = None
        if source.selectors is not None:
            selectors = ListingSelectors(**vars(source.selectors))
        return parse_source(
            source.type,
            result.content,
            base_url=result.url,
            content_type=result.content_type,
            max_items=self.limit(source),
            selectors=selectors,
            now=self.clock(),
            window=self.config.settings.sitemap_window,
            lazy=True,
        )

    def split_new(self, claimed: ClaimedSource, drafts: list[Draft], ttl: int | None) -> Outcome:
        """Separate the items this source sent before (one query) from the new or changed ones."""
        unique: dict[str, Draft] = {}
        for draft in drafts:  # the same GUID twice in one document counts once
            unique.setdefault(item_key(draft.item), draft)
        seen: dict[str, store.SeenRow] = {}
        if claimed.polled_before:
            with read_only(self.engine) as connection:
                seen = store.seen_items(connection, claimed.id, list(unique))
        candidates: list[Candidate] = []
        unchanged: list[tuple[str, str, int | None]] = []
        changed = 0
        stale = self.clock() - self._seen_refresh
        for key, draft in unique.items():
            digest = item_hash(draft)
            previous = seen.get(key)
            if previous is None:
                candidates.append(Candidate(draft, key, digest))
            elif not same_item(previous.item_hash, digest, draft):
                candidates.append(Candidate(draft, key, digest, previous.article_id))
                changed += 1
            elif previous.last_seen_at < stale:
                unchanged.append((key, digest, previous.article_id))
        return Outcome(len(drafts), candidates, unchanged, ttl, changed=changed)

    def match(self, source: SourceConfig, candidates: list[Candidate]) -> None:
        """Match the candidates and fingerprint those that matched; a pending candidate is
        converted to text only if it could match."""
        from monitor.parse import draft_text

        topics = self.config.topics_of(source)
        hopeful = [
            c for c in candidates if not c.pending or self.matcher.could_match(draft_text(c.draft))
        ]
        Candidate.finish(hopeful)
        for candidate in hopeful:
            item = candidate.item
            body = candidate.text or item.content
            candidate.text = body or item.summary
            candidate.match = self.matcher.match(
                title=item.title, summary=item.summary, body=body, topics=topics
            )
            if candidate.matched:
                candidate.fingerprint = fingerprint(item.title, candidate.text)
                if item.url:
                    candidate.canonical = safe_canonical(item.url)


def default_workers() -> int:
    """Worker processes when the settings say "auto": one per core, at most 4; none on a
    single core, where a process of its own would only add memory.

    Not one per core *beyond the first*: the main process (event loop, writer) keeps about
    three quarters of a core busy in a cold poll, and the workers are what the poll waits for.
    On two cores, two workers took a cold poll of 1,000 feeds from 7.2-7.4 s to 6.2-6.5 s and
    left the warm and no-op polls as they were.
    """
    cores = usable_cores()
    return 0 if cores < 2 else min(MAX_WORKERS, cores)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or taskset sets
    it), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on macOS or Windows
        return os.cpu_count() or 1


# The worker side of ProcessorPool: one Processor per process, built once, and the slot of
# the pool's shared array where the worker says which document it works on since when.
_WORKER: Processor | None = None
_SLOT: tuple[Any, int] | None = None


def _start_worker(config: Config, database_url: str, parent: int, slots: Any, taken: Any) -> None:
    global _WORKER, _SLOT
    # The parent decides when to stop: Ctrl-C in a terminal or systemd's SIGTERM reach every
    # process of the group, and the parent then shuts the pool down after its in-flight polls.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A forked worker inherits the event loop's wake-up descriptor: a signal caught here must
    # not wake the parent's loop.
    signal.set_wakeup_fd(-1)
    # The parent's pid comes from the parent: one killed while this process was starting is
    # already gone, and os.getppid() would name whoever adopted the orphan.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    with taken.get_lock():  # this worker's slot: its pid, and when its document started
        _SLOT = (slots, taken.value)
        taken.value += 1
    slots[2 * _SLOT[1]] = os.getpid()
    _WORKER = Processor(config, make_engine(database_url))


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a parent that was killed (it holds its own task pipe open, so it never
    reads the end of it): leave as soon as the parent is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _widen_pipes(executor: ProcessPoolExecutor) -> None:
    """Let the pipes to and from the workers hold a whole feed (:data:`PIPE_BYTES`).

    A 200 KB document does not fit Linux's default 64 KB pipe: the sending thread blocks
    until the worker has read part of it, and the two processes take turns four times per
    document. One write instead took a tenth off the wall time of a cold and a warm poll of
    1,000 feeds. Where the pipes cannot be widened (not Linux, a lower system limit, another
    version of concurrent.futures), they stay as they are.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    size = PIPE_BYTES
    with contextlib.suppress(OSError, ValueError):  # a lower system limit: as much as it allows
        size = min(size, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
    for queue in ("_call_queue", "_result_queue"):
        writer = getattr(getattr(executor, queue, None), "_writer", None)
        try:
            fcntl.fcntl(writer.fileno(), set_size, size)  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            log.debug("the %s pipe keeps its size", queue.strip("_"))


def _work(
    claimed: ClaimedSource, source_name: str, result: FetchResult, match: bool
) -> tuple[ParsedSource, Outcome | None]:
    assert _WORKER is not None and _SLOT is not None, "worker not started"
    slots, index = _SLOT
    slots[2 * index + 1] = time.monotonic()  # the parent's watchdog reads it
    try:
        return _WORKER.parse_split_match(claimed, _WORKER.source(source_name), result, match)
    finally:
        slots[2 * index + 1] = 0.0


class PoolUnavailable(Exception):
    """The worker processes could not be started (or the pool is closed): parse in threads."""


class ProcessorPool:
    """Processors in worker processes: forked at once where that is safe (see
    :meth:`start_early`), else spawned on first use (a poll with nothing new to parse then
    starts none).

    When a worker dies (killed, out of memory), every document in flight fails with it, not
    only the one that killed it: each is tried once more in a new pool, and fails with a
    ParseError only if that pool breaks too. When the workers cannot be started at all,
    PoolUnavailable says so and the caller parses in threads.
    """

    def __init__(
        self, config: Config, engine: Engine, workers: int, time_limit: float = PARSE_TIME_LIMIT
    ) -> None:
        self._engine = engine
        self._initargs = (config, engine.url.render_as_string(hide_password=False), os.getpid())
        self._workers = workers
        self._time_limit = time_limit
        self._starting: asyncio.Future[ProcessPoolExecutor] | None = None
        self._early: concurrent.futures.Future[ProcessPoolExecutor] | None = None  # forked
        self._launched: list[ProcessPoolExecutor] = []
        self._watchdogs: dict[int, threading.Event] = {}
        self._closed = False

    def start_early(self) -> bool:
        """Fork the workers now, if this process may: on Linux, while it runs a single thread.

        A forked worker inherits the parent's imports and configuration and is ready in
        milliseconds; a spawned one imports the whole program again (~0.3 s of CPU) before it
        reads its first document. Forking is only safe before any other thread exists (a lock
        held by another thread at the fork stays held for ever in the child), so a one-off poll
        calls this before anything else starts (see poll.fork_parse_workers); later pools,
        such as the one replacing a broken pool, are spawned. A one-off poll with nothing to
        parse then ends a worker that did nothing, which costs less than the fork.

        No database connection may cross the fork either (SQLite's locks are per process, and
        a child closing a PostgreSQL connection would end it for the parent): the engine's
        idle connections are closed first (best none: closing SQLite's last one checkpoints its
        log), and with one in use there is no fork.
        """
        if self._closed or self._starting is not None or self._early is not None:
            return False
        if sys.platform != "linux" or threading.active_count() != 1:
            return False
        if getattr(self._engine.pool, "checkedout", lambda: 0)():
            return False
        self._engine.dispose()  # the parent opens new connections as it needs them
        ready: concurrent.futures.Future[ProcessPoolExecutor] = concurrent.futures.Future()
        try:
            ready.set_result(self._start("fork"))
        except Exception as exc:  # parse_split_match reports it on first use
            ready.set_exception(exc)
        self._early = ready
        return True

    def _start(self, method: str = "spawn") -> ProcessPoolExecutor:
        # spawn unless the caller knows this process has a single thread (see start_early)
        context = multiprocessing.get_context(method)
        slots = context.Array("d", 2 * self._workers, lock=False)  # (pid, started) per worker
        taken = context.Value("i", 0)
        executor = ProcessPoolExecutor(
            self._workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(*self._initargs, slots, taken),
        )
        _widen_pipes(executor)
        try:
            # A process starts on a submission that finds no idle one: one task per worker
            # starts them all. A forked pool forks them within submit(), before it starts its
            # own threads; a spawned one is awaited here, off the event loop.
            tasks = [executor.submit(int) for _ in range(self._workers)]
            if method != "fork":
                for task in tasks:
                    task.result()
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        self._launched.append(executor)
        stop = threading.Event()
        self._watchdogs[id(executor)] = stop
        threading.Thread(
            target=self._watch, args=(slots, stop), name="monitor-parse-watchdog", daemon=True
        ).start()
        return executor

    def _watch(self, slots: Any, stop: threading.Event) -> None:
        """Kill a worker that spends longer than the time limit on one document.

        Nothing inside the worker could stop it: a C loop (a regular expression, a parser)
        holds the interpreter. Its death fails the documents in flight, which are read again
        by a new pool; the one that ran too long fails if it does so again.
        """
        interval = min(1.0, self._time_limit / 4)
        while not stop.wait(interval):
            now = time.monotonic()
            for index in range(0, len(slots), 2):
                pid, started = int(slots[index]), slots[index + 1]
                if pid and started and now - started > self._time_limit:
                    log.warning(
                        "a document took over %.0fs to parse: its worker is stopped",
                        self._time_limit,
                    )
                    slots[index + 1] = 0.0
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)

    def _executor(self) -> asyncio.Future[ProcessPoolExecutor]:
        if self._closed:
            raise PoolUnavailable("the worker pool is closed")
        if self._starting is None and self._early is not None:
            self._starting, self._early = asyncio.wrap_future(self._early), None
        elif self._starting is None:
            # Starting a process (fork, exec, imports) takes a while: not on the event loop.
            self._starting = asyncio.ensure_future(asyncio.to_thread(self._start))
        return self._starting

    def _forget(self, starting: asyncio.Future[ProcessPoolExecutor]) -> None:
        """Drop a broken or failed pool; the first caller to notice does it, once."""
        if self._starting is not starting:
            return
        self._starting = None
        if starting.done() and not starting.cancelled() and starting.exception() is None:
            executor = starting.result()
            executor.shutdown(wait=False, cancel_futures=True)
            if executor in self._launched:
                self._launched.remove(executor)
            self._watchdogs.pop(id(executor), threading.Event()).set()

    async def parse_split_match(
        self, claimed: ClaimedSource, source: SourceConfig, result: FetchResult, match: bool
    ) -> tuple[ParsedSource, Outcome | None]:
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            starting = self._executor()
            try:
                executor = await asyncio.shield(starting)
            except Exception as exc:  # the workers could not be started
                self._forget(starting)
                raise PoolUnavailable(f"cannot start parse workers: {exc!r}") from exc
            try:
                return await loop.run_in_executor(
                    executor, _work, claimed, source.name, result, match
                )
            except BrokenProcessPool:
                self._forget(starting)
                if attempt:
                    raise ParseError(
                        "the parsing process stopped while reading this source (killed, out of"
                        f" memory, or over the {self._time_limit:.0f}s time limit); the next"
                        " poll tries again"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Stop the workers, including those of a pool still starting; no new pool starts."""
        self._closed = True
        self._starting = self._early = None
        for executor in self._launched:
            executor.shutdown(wait=True, cancel_futures=True)
        self._launched.clear()
        for stop in self._watchdogs.values():
            stop.set()
        self._watchdogs.clear()
