"""The CPU-bound stages of a poll (monitor/stages.py), in a thread and in worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Config, parse_config
from monitor.errors import ParseError
from monitor.items import FetchResult
from monitor.stages import Outcome, PoolUnavailable, Processor, ProcessorPool
from monitor.store.db import make_engine, upgrade
from monitor.store.sources import ClaimedSource
from tests.feedgen import MSS_REPORT, UNRELATED, rss

ROOT = Path(__file__).resolve().parent.parent
FEED_URL = "https://outlet.example/feed.xml"


def config() -> Config:
    topics = (ROOT / "sources.yaml").read_text().split("topics:", 1)[1].split("\nsources:", 1)[0]
    return parse_config(f"topics:{topics}\nsources:\n  - {{name: outlet, url: '{FEED_URL}'}}\n")


def claimed() -> ClaimedSource:
    return ClaimedSource(
        id=1,
        name="outlet",
        etag=None,
        last_modified=None,
        body_hash=None,
        consecutive_failures=0,
        interval_seconds=900.0,
    )


def document() -> FetchResult:
    return FetchResult(url=FEED_URL, status=200, content=rss([MSS_REPORT, UNRELATED]))


def summary(outcome: Outcome | None) -> list[tuple[object, ...]]:
    assert outcome is not None
    return sorted(outcome.unmatched) + [
        (
            c.key,
            c.hash,
            c.item.title,
            c.text,
            tuple(t.topic for t in c.match.topics) if c.match else None,
            c.fingerprint,
        )
        for c in outcome.candidates
    ]


@pytest.fixture
def engine_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def test_a_worker_process_gives_what_a_thread_gives(engine_url: str) -> None:
    cfg = config()
    engine = make_engine(engine_url)
    source = cfg.source("outlet")
    local = Processor(cfg, engine).parse_split_match(claimed(), source, document(), True)
    pool = ProcessorPool(cfg, engine, workers=1)

    async def remote() -> tuple[object, Outcome | None]:
        return await pool.parse_split_match(claimed(), source, document(), True)

    try:
        parsed, outcome = asyncio.run(remote())
    finally:
        pool.close()
        engine.dispose()
    assert parsed == local[0]
    assert summary(outcome) == summary(local[1])
    assert outcome is not None and outcome.items_new == 2
    [matched] = outcome.candidates
    assert matched.item.title == MSS_REPORT.title and matched.fingerprint is not None
    assert len(outcome.unmatched) == 1  # what did not match comes back as key and hash


def test_a_killed_worker_costs_no_source_and_the_pool_starts_again(engine_url: str) -> None:
    """A worker killed under its documents: each is read again by a new pool, once."""
    cfg = config()
    engine = make_engine(engine_url)
    source = cfg.source("outlet")
    pool = ProcessorPool(cfg, engine, workers=1)

    def workers() -> list[int]:
        assert pool._starting is not None
        return list(pool._starting.result()._processes)  # type: ignore[attr-defined]

    async def scenario() -> tuple[int, int, list[Outcome | None]]:
        await pool.parse_split_match(claimed(), source, document(), True)
        [first] = workers()
        os.kill(first, signal.SIGKILL)
        await asyncio.sleep(0.5)  # let the pool see it die
        results = await asyncio.gather(
            *(pool.parse_split_match(claimed(), source, document(), True) for _ in range(3))
        )
        [second] = workers()
        return first, second, [outcome for _, outcome in results]

    try:
        first, second, outcomes = asyncio.run(scenario())
    finally:
        pool.close()
        engine.dispose()
    assert first != second
    assert [o.items_new if o else None for o in outcomes] == [2, 2, 2]


def test_a_pool_that_cannot_start_says_so(engine_url: str) -> None:
    """Workers that cannot start make the poller parse in threads (PoolUnavailable)."""
    cfg = config()
    engine = make_engine(engine_url)
    pool = ProcessorPool(cfg, engine, workers=1)
    pool._initargs = (cfg, engine_url, os.getpid(), "one argument too many")  # type: ignore[assignment]

    async def scenario() -> None:
        await pool.parse_split_match(claimed(), cfg.source("outlet"), document(), True)

    try:
        with pytest.raises(PoolUnavailable, match="cannot start parse workers"):
            asyncio.run(scenario())
    finally:
        pool.close()
        engine.dispose()


PARENT_SCRIPT = """
import asyncio, os, signal, sys, time
from tests.test_stages import claimed, config, document
from monitor.stages import ProcessorPool
from monitor.store.db import make_engine

cfg = config()
pool = ProcessorPool(cfg, make_engine(sys.argv[1]), workers=1)
if sys.argv[2] == "forked-at-work":
    assert pool.start_early()

async def main():
    if sys.argv[2] == "while-starting":  # killed before the worker has even started up
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing
        from monitor import stages
        ex = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=stages._start_worker, initargs=pool._initargs)
        ex.submit(int)
        print(*ex._processes, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    await pool.parse_split_match(claimed(), cfg.source("outlet"), document(), True)
    print(*pool._starting.result()._processes, flush=True)
    time.sleep(600)

asyncio.run(main())
"""


@pytest.mark.parametrize("when", ["while-starting", "at-work", "forked-at-work"])
def test_workers_leave_when_their_parent_is_killed(engine_url: str, when: str) -> None:
    """A SIGKILLed poll (the OOM killer, kill -9) must not leave its worker processes behind,
    even when it dies while a worker is still starting up."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, engine_url, when],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        [worker] = [int(pid) for pid in parent.stdout.readline().split()]
        os.kill(worker, 0)  # alive (or, while starting, at least not yet reaped)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("the worker outlived its killed parent")
    finally:
        parent.kill()


def test_a_document_over_the_time_limit_has_its_worker_stopped(engine_url: str) -> None:
    """A document that keeps a worker longer than the limit (a parser or regex stuck in C
    code) has its worker killed from outside; it fails, and the next documents are read."""
    topics = (ROOT / "sources.yaml").read_text().split("topics:", 1)[1].split("\nsources:", 1)[0]
    cfg = parse_config(
        f"settings: {{max_items: 100000}}\ntopics:{topics}\n"
        f"sources:\n  - {{name: outlet, url: '{FEED_URL}'}}\n"
    )
    entries = [
        replace(UNRELATED, guid=f"u-{i}", link=f"{UNRELATED.link}-{i}") for i in range(20_000)
    ]
    huge = FetchResult(url=FEED_URL, status=200, content=rss(entries))
    engine = make_engine(engine_url)
    pool = ProcessorPool(cfg, engine, workers=1, time_limit=0.2)

    async def scenario() -> Outcome | None:
        with pytest.raises(ParseError, match="time limit"):
            await pool.parse_split_match(claimed(), cfg.source("outlet"), huge, True)
        _, outcome = await pool.parse_split_match(claimed(), cfg.source("outlet"), document(), True)
        return outcome

    try:
        outcome = asyncio.run(scenario())
    finally:
        pool.close()
        engine.dispose()
    assert outcome is not None and outcome.items_new == 2


FORK_SCRIPT = """
import asyncio, sys, threading
from tests.test_stages import claimed, config, document, summary
from monitor.stages import Processor, ProcessorPool
from monitor.store.db import make_engine

cfg = config()
engine = make_engine(sys.argv[1])
source = cfg.source("outlet")
local = Processor(cfg, engine).parse_split_match(claimed(), source, document(), True)
assert engine.pool.checkedin() == 1  # the connection that read the seen items
pool = ProcessorPool(cfg, engine, workers=1)
with engine.connect():
    assert not pool.start_early(), "no fork while a connection is in use"
assert pool.start_early(), "a single-threaded process forks its workers"
assert engine.pool.checkedin() == 0, "no connection crosses the fork"
[pid] = pool._early.result()._processes
assert not pool.start_early(), "only once"

async def remote():
    return await pool.parse_split_match(claimed(), source, document(), True)

parsed, outcome = asyncio.run(remote())
assert pool._starting.result()._processes.keys() == {pid}, "the forked worker did the work"
assert parsed == local[0]
assert summary(outcome) == summary(local[1]) and outcome.items_new == 2

threading.Thread(target=threading.Event().wait, args=(5,), daemon=True).start()
other = ProcessorPool(cfg, engine, workers=1)
assert not other.start_early(), "no fork beside another thread"
pool.close()
other.close()
print("ok", flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_forked_worker_gives_what_a_thread_gives(engine_url: str) -> None:
    """start_early forks the worker in a single-threaded process (a one-off poll, before its
    writer starts), and only there; what the forked worker reads is what a thread reads."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, engine_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]


@pytest.mark.skipif(sys.platform != "linux", reason="pipe sizes are set on Linux only")
def test_the_pipes_to_the_workers_hold_a_whole_feed(engine_url: str) -> None:
    """A 200 KB document goes to a worker in one write: the pool widens both pipes (to the
    workers and back) to PIPE_BYTES, and a document larger than that still arrives whole."""
    import fcntl

    from monitor import stages

    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < stages.PIPE_BYTES:
        pytest.skip("this system caps pipes below PIPE_BYTES")
    cfg = config()
    engine = make_engine(engine_url)
    pool = ProcessorPool(cfg, engine, workers=1)
    big = document()
    filler = "<!-- " + "x" * (2 * stages.PIPE_BYTES) + " -->"
    big = replace(big, content=big.content.replace(b"<channel>", f"<channel>{filler}".encode()))

    async def scenario() -> tuple[Any, Any]:
        executor = await pool._executor()
        sizes = [
            fcntl.fcntl(queue._writer.fileno(), fcntl.F_GETPIPE_SZ)
            for queue in (executor._call_queue, executor._result_queue)
        ]
        return sizes, await pool.parse_split_match(claimed(), cfg.source("outlet"), big, True)

    try:
        sizes, (_, outcome) = asyncio.run(scenario())
    finally:
        pool.close()
        engine.dispose()
    assert sizes == [stages.PIPE_BYTES, stages.PIPE_BYTES]
    assert outcome is not None and outcome.items_new == 2


def test_what_workers_send_back_pickles_to_equal_objects() -> None:
    """quick_pickle keeps dataclasses' own state (the field values in order): the objects a
    worker returns come back equal, and a pickle of the dataclasses kind still loads."""
    import pickle

    from monitor.dedup import fingerprint
    from monitor.items import Draft, Item, MatchResult, TermHit, TopicMatch

    item = Item(guid="g", url="https://outlet.example/a", title="Kenya", summary="MSS in Haiti")
    hit = TermHit(term="MSS", field="summary", count=1)
    objects = [
        item,
        Draft(item, ("<p>MSS</p>", "")),
        TopicMatch(topic="mss-haiti", score=2.0, hits=(hit,)),
        MatchResult(topics=(TopicMatch(topic="mss-haiti", score=2.0, hits=(hit,)),)),
        fingerprint("Kenya", "Kenyan police officers arrived in Port-au-Prince on Tuesday. " * 9),
    ]
    for original in objects:
        copy = pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL))
        assert copy == original and type(copy) is type(original)
    state = [getattr(item, name) for name in Item.__dataclass_fields__]  # dataclasses' form
    older = object.__new__(Item)
    older.__setstate__(state)  # type: ignore[attr-defined]
    assert older == item


@pytest.mark.parametrize(("cores", "workers"), [(1, 0), (2, 2), (3, 3), (16, 4)])
def test_auto_starts_one_worker_per_core(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    """parse_workers "auto": a worker per core (the main process fetches and writes beside
    them), at most MAX_WORKERS, and none on a single core."""
    from monitor import stages

    monkeypatch.setattr(stages, "usable_cores", lambda: cores)
    assert stages.default_workers() == workers


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_the_cores_counted_are_those_the_process_may_use() -> None:
    """A process held to one core (a container's cpuset, taskset) starts no worker, whatever
    the machine has."""
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from monitor.stages import default_workers, usable_cores; "
        "print(usable_cores(), default_workers())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0"]
