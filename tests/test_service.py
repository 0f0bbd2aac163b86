"""`monitor run` as a real process: signals, leases, kill -9, several instances on PostgreSQL."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.store import search
from monitor.store.db import make_engine
from monitor.store.schema import Article, Digest, Poll, Sighting, Source
from tests.conftest import child_env, run_monitor
from tests.feedgen import MSS_REPORT, Entry, rss
from tests.hostile_server import HostileServer, delayed, respond

pytestmark = pytest.mark.slow

TOPICS = (
    (Path(__file__).resolve().parent.parent / "sources.yaml").read_text().split("topics:", 1)[1]
)
TOPICS = "topics:" + TOPICS.split("\nsources:", 1)[0]


def service_config(
    workdir: Path, sources: str, *, interval: str = "2s", lease: str = "4s", grace: str = "3s"
) -> None:
    settings = f"""
    settings:
      default_interval: {interval}
      dispatch_interval: 1s
      lease: {lease}
      shutdown_grace: {grace}
      jitter: 0.1
      min_host_delay: 0s
      per_host: 64
      retries: 0
      timeouts: {{connect: 2s, read: 30s, total: 40s}}
      digest: {{dir: {workdir / "digests"}}}
    """
    (workdir / "sources.yaml").write_text(
        textwrap.dedent(settings)
        + TOPICS
        + "\nsources:\n"
        + textwrap.indent(textwrap.dedent(sources), "  ")
    )


class Instance:
    """One `monitor run` process with its log in a file."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str, *args: str) -> None:
        self.log = workdir / f"{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--instance", name, *args],
            cwd=workdir,
            env=child_env(env),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def instances() -> Iterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    for instance in started:
        instance.stop()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def count(url: str, table: type, *where: object) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(table).where(*where)) or 0
    finally:
        engine.dispose()


def init(workdir: Path, env: dict[str, str]) -> None:
    result = run_monitor("init", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr


def test_a_poll_that_ends_while_the_dispatcher_claims_is_not_run_twice(
    workdir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher's claim can read a source as due and leased to this instance while its
    poll is still writing, and return after that poll has ended: the source must not be
    polled a second time with that stale claim."""
    import asyncio
    import threading
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from monitor import service as service_module
    from monitor.config import load_config
    from monitor.items import PollReport
    from monitor.store.db import upgrade
    from monitor.store.sources import sync_sources

    service_config(workdir, '- {name: only, url: "https://only.example/feed.xml"}')
    config = load_config(workdir / "sources.yaml")
    engine = make_engine(database_url)
    upgrade(engine)
    sync_sources(engine, config)
    polls: list[str] = []
    ended = threading.Event()
    real_claim = service_module.claim_due

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        finish = asyncio.Event()

        class Poller:  # a poll that ends when the test says, then writes as a poll does
            async def poll(self, source):  # type: ignore[no-untyped-def]
                polls.append(source.name)
                await finish.wait()
                with engine.begin() as connection:
                    connection.execute(
                        update(Source)
                        .where(Source.id == source.id)
                        .values(
                            next_poll_at=datetime.now(UTC) + timedelta(hours=1),
                            lease_owner=None,
                            lease_until=None,
                        )
                    )
                return PollReport(source=source.name)

        def claim_while_the_poll_ends(*args, **kwargs):  # type: ignore[no-untyped-def]
            claimed = real_claim(*args, **kwargs)  # read while the poll still runs
            loop.call_soon_threadsafe(finish.set)
            assert ended.wait(10), "the first poll did not end"
            return claimed

        service = service_module.Service(config, engine, instance="me")
        service.poller = Poller()  # type: ignore[assignment]
        await service.dispatch()  # claims the source and starts its poll
        (first,) = service.inflight.values()
        first.add_done_callback(lambda _task: ended.set())
        monkeypatch.setattr(service_module, "claim_due", claim_while_the_poll_ends)
        await service.dispatch()
        await asyncio.sleep(0.2)
        for task in list(service.inflight.values()):
            task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
    assert polls == ["only"]


def test_sigterm_stops_cleanly_and_releases_leases(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer, instances: list[Instance]
) -> None:
    for name in ("a", "b", "c"):
        hostile_server.route(f"/{name}.xml", respond(rss([MSS_REPORT])))
    service_config(
        workdir,
        "\n".join(f'- {{name: {n}, url: "{hostile_server.url(f"/{n}.xml")}"}}' for n in "abc"),
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    port = free_port()
    service = Instance(workdir, env, "one", "--metrics-port", str(port))
    instances.append(service)
    wait_for(lambda: count(sqlite_url, Poll) >= 6, 30, "two rounds of polls")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'monitor_polls_total{status="ok"}' in metrics
    service.signal(signal.SIGTERM)
    assert service.wait(timeout=15) == 0, service.output()
    assert "leases released" in service.output()
    assert count(sqlite_url, Source, Source.lease_owner.is_not(None)) == 0
    assert count(sqlite_url, Article, Article.is_seed.is_(False)) == 1  # three copies, one article
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert search.pending(connection) == 0  # indexed for search as the service stopped
    finally:
        engine.dispose()


def test_a_second_signal_exits_at_once(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer, instances: list[Instance]
) -> None:
    hostile_server.route("/slow.xml", delayed(20, respond(rss([MSS_REPORT]))))
    service_config(
        workdir, f'- {{name: slow, url: "{hostile_server.url("/slow.xml")}"}}', grace="30s"
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    service = Instance(workdir, env, "one")
    instances.append(service)
    wait_for(lambda: hostile_server.hits("/slow.xml") >= 1, 30, "the slow poll to start")
    service.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert service.process.poll() is None  # still waiting for the in-flight poll
    started = time.monotonic()
    service.signal(signal.SIGTERM)
    service.wait(timeout=5)
    assert time.monotonic() - started < 3
    assert "exiting at once" in service.output()


def test_kill_9_mid_poll_loses_and_duplicates_nothing(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer, instances: list[Instance]
) -> None:
    hostile_server.route("/feed.xml", delayed(3, respond(rss([MSS_REPORT]))))
    service_config(
        workdir, f'- {{name: outlet, url: "{hostile_server.url("/feed.xml")}", interval: 1h}}'
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    first = Instance(workdir, env, "first")
    instances.append(first)
    wait_for(lambda: hostile_server.hits("/feed.xml") >= 1, 30, "the poll to start")
    first.process.kill()
    first.wait(timeout=10)
    assert count(sqlite_url, Source, Source.lease_owner == "first") == 1  # a dead instance's lease
    assert count(sqlite_url, Article, Article.is_seed.is_(False)) == 0

    second = Instance(workdir, env, "second")
    instances.append(second)
    wait_for(
        lambda: count(sqlite_url, Poll) >= 1, 30, "the lease to expire and the poll to be redone"
    )
    assert hostile_server.hits("/feed.xml") == 2
    assert count(sqlite_url, Article, Article.is_seed.is_(False)) == 1
    second.signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0


SOURCES = 40
INTERVAL = 6.0
LEASE = 4.0
JITTER = 0.1


@pytest.mark.postgres
def test_three_instances_share_the_work_on_postgresql(
    workdir: Path, postgres_url: str, hostile_server: HostileServer, instances: list[Instance]
) -> None:
    """40 sources, 3 instances, one killed mid-run: each due source polled once per interval."""
    wire = Entry(
        guid="wire",
        title="Kenyan-led mission in Haiti receives new armored vehicles",
        link="https://wire.example/haiti-vehicles",
        description=MSS_REPORT.content,
    )
    for i in range(SOURCES):
        own = Entry(
            guid=f"own-{i}",
            title=f"Outlet {i}: Haitian police and Kenyan officers reopen route {i}",
            link=f"https://outlet{i}.example/haiti/route-{i}",
            description=f"Report number {i} from the outlet's own correspondent in Port-au-Prince,"
            f" on a road numbered {i} that reopened after {i + 3} weeks of blockades.",
        )
        hostile_server.route(f"/s{i}.xml", respond(rss([own, wire])))
    service_config(
        workdir,
        "\n".join(
            f'- {{name: s{i:02d}, url: "{hostile_server.url(f"/s{i}.xml")}"}}'
            for i in range(SOURCES)
        ),
        interval=f"{INTERVAL:.0f}s",
        lease=f"{LEASE:.0f}s",
    )
    env = {"MONITOR_DATABASE_URL": postgres_url}
    init(workdir, env)
    began = time.monotonic()
    for name in ("i1", "i2", "i3"):
        instances.append(Instance(workdir, env, name))
    time.sleep(12)
    instances[0].process.kill()  # one dies mid-run, holding whatever it had claimed
    killed_at = time.monotonic()
    time.sleep(18)
    for instance in instances[1:]:
        instance.signal(signal.SIGTERM)
    for instance in instances[1:]:
        assert instance.wait(timeout=20) == 0, instance.output()
    ended = time.monotonic()

    slack = 1.0  # the dispatcher looks every second
    for i in range(SOURCES):
        times = [r.received_at for r in hostile_server.requests(f"/s{i}.xml")]
        assert times, f"source {i} never polled"
        assert times[0] - began < 15, f"source {i} first polled after {times[0] - began:.1f}s"
        gaps = [b - a for a, b in itertools.pairwise(times)]
        for a, b in itertools.pairwise(times):
            if killed_at - LEASE - slack <= a <= killed_at:
                # maybe the killed instance's request, never recorded: its lease is taken over
                # when it expires, however late in it the request went, and not before the kill
                assert b > killed_at, (i, gaps)
            else:
                assert b - a >= INTERVAL * (1 - JITTER) - 0.5, (i, gaps)
        longest = max([*gaps, ended - times[-1] - 5])
        assert longest <= INTERVAL * (1 + JITTER) + LEASE + 2 * slack + 2, (i, gaps)
    # every article stored once: 40 own reports and one wire story, seen 40 times
    assert count(postgres_url, Article, Article.is_seed.is_(False)) == SOURCES + 1
    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        wire_id = connection.scalar(select(Article.id).where(Article.url == wire.link))
        assert wire_id is not None
        assert (
            connection.scalar(
                select(func.count()).select_from(Sighting).where(Sighting.article_id == wire_id)
            )
            == SOURCES
        )
        owners = connection.execute(select(Poll.instance).distinct()).scalars().all()
        digests = connection.execute(select(Digest.day, Digest.status, Digest.instance)).all()
    engine.dispose()
    # the work was shared (claims are greedy: who polls what depends on who ticks first)
    assert len(set(owners)) >= 2, owners
    # the days missed before start-up were each written once, by one instance
    assert digests and all(row.status == "done" for row in digests), digests
    written = sum(instance.output().count(" written: ") for instance in instances)
    assert written == len(digests), [i.output() for i in instances]
    assert sorted(p.name for p in (workdir / "digests").glob("*.md")) == sorted(
        f"{r.day}.md" for r in digests
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_housekeeping_prunes_by_retention(workdir: Path, sqlite_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from monitor.config import load_config
    from monitor.service import prune
    from monitor.store.db import upgrade
    from monitor.store.schema import SeenItem

    service_config(workdir, '- {name: a, url: "https://example.org/feed"}')
    config = load_config(workdir / "sources.yaml", environ={})
    engine = make_engine(sqlite_url)
    upgrade(engine)
    from monitor.store.sources import sync_sources

    sync_sources(engine, config)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        source_id = connection.scalar(select(Source.id))
        for age, key in ((timedelta(days=200), "old"), (timedelta(days=1), "new")):
            connection.execute(
                insert(SeenItem).values(
                    source_id=source_id,
                    item_key=key,
                    item_hash="h",
                    first_seen_at=now - age,
                    last_seen_at=now - age,
                )
            )
            connection.execute(
                insert(Poll).values(
                    source_id=source_id, started_at=now - age, finished_at=now - age, status="ok"
                )
            )
    assert prune(engine, config, now) == (1, 1)  # 90 days of seen keys, 30 days of polls
    with engine.connect() as connection:
        assert connection.execute(select(SeenItem.item_key)).scalars().all() == ["new"]
        assert connection.scalar(select(func.count()).select_from(Poll)) == 1
    engine.dispose()
