"""Soak test: `monitor run` for a long while against 500 local sources that misbehave at random.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--sources 500] [--interval 60]
                                        [--fault-rate 0.2] [--seed 8] [--every 30]
                                        [--warmup MINUTES] [--story-every 180]
                                        [--database-url URL] [--keep] [--out results.json]

Not part of the test suite (it runs for half an hour by default). It starts a misbehaving HTTP
server (tests/hostile_server.py) in this process on 127.0.0.1, with every source reachable under
four host names that resolve to loopback (127.0.0.1, localhost, and the names /etc/hosts gives
this machine, when it has them) so that the per-host limits are exercised too. Each request is
answered, at random (seeded), with a good feed or with one of the faults of tests/test_faults.py,
each at a few percent (--fault-rate is their total). Good feeds gain a new story every few
minutes (--story-every; a huge value keeps the feeds static), a third of them about the monitored
topics, and answer conditional requests (ETag).

Then it runs `monitor init` and `monitor run` (allow_private_addresses: true, since every source
is on loopback) in a temporary folder with a SQLite database (or --database-url), and every
--every seconds prints the service's resident memory (VmRSS), open file descriptors
(/proc/PID/fd), threads, the polls of the last period (per minute, and how many failed, read from
the database) and the articles stored. At the end: SIGTERM (the service must exit 0), a summary
with the memory growth after warm-up (the mean of the last three samples against the first
three after --warmup; it must stay under 10%), the fd range, the polls per minute and the errors
by kind. Memory is flat when the median RSS of the last three minutes is under 10% above the
median of the first three minutes after warm-up, and the least-squares trend after warm-up,
projected over 30 minutes, is under 10% too. The exit code is 0 when the service stayed up,
exited cleanly and memory was flat. `--summarise FILE` prints the memory verdict of a saved run.

No internet is used: every request goes to this machine's loopback interface.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from monitor.store.db import make_engine  # noqa: E402
from monitor.store.schema import Article, Poll, Source  # noqa: E402
from tests.feedgen import Entry, rss  # noqa: E402
from tests.hostile_server import (  # noqa: E402
    Conn,
    HostileServer,
    Request,
    close_mid_body,
    delayed,
    drip,
    endless,
    gzip_bomb,
    respond,
    retry_after,
    status,
    truncated_gzip,
    wrong_length,
)

Handler = Callable[[Request, Conn], None]
STORY_EVERY = 180.0  # seconds between two new stories of one source (each source is offset)
TOPIC_WORDS = ("Kenyan police in Haiti", "Port-au-Prince", "the MSS mission", "Nairobi")
OTHER_WORDS = ("city council", "football league", "rainfall", "stock market", "school year")


def loopback_names() -> list[str]:
    """Host names of this machine that resolve to 127.0.0.1 (each is its own host to the
    fetcher: its own per-host limits and robots.txt)."""
    names = ["127.0.0.1", "localhost"]
    try:
        for line in Path("/etc/hosts").read_text().splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 2 and parts[0] == "127.0.0.1":
                names += [n for n in parts[1:] if n not in names and "." not in n]
    except OSError:
        pass
    return names[:4]


def patient(handler: Handler) -> Handler:
    """Let a big body wait on a full send buffer (HostileServer's sockets give up after 50 ms)."""

    def wrapped(request: Request, conn: Conn) -> None:
        conn.sock.settimeout(10)
        try:
            handler(request, conn)
        finally:
            conn.sock.settimeout(0.05)

    return wrapped


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?><!DOCTYPE rss [' + "".join(entities) + "]>"
        '<rss version="2.0"><channel><title>b</title><item><guid>b</guid>'
        "<title>Haiti &lol9;</title><link>https://bomb.example/1</link></item></channel></rss>"
    ).encode()


def fault_handlers() -> dict[str, Handler]:
    small = rss(
        [
            Entry(
                guid="f",
                title="Kenyan officers in Haiti",
                link="https://f.example/1",
                description="Port-au-Prince " * 40,
            )
        ]
    )
    html_page = b"<!doctype html><html><body><h1>Welcome</h1><p>News</p></body></html>"
    return {
        "404": status(404),
        "410": status(410),
        "500": status(500),
        "503-retry-after": retry_after("10"),
        "slow-headers": delayed(60, respond(small)),
        "drip": drip(small, 1.0),
        "60mb-declared": patient(endless(60 * 1024 * 1024)),
        "60mb-streamed": patient(endless(60 * 1024 * 1024, declare_length=False)),
        "gzip-bomb": patient(gzip_bomb()),
        "truncated-gzip": truncated_gzip(small),
        "wrong-length": wrong_length(small[: len(small) // 2], len(small) + 100),
        "close-mid-body": close_mid_body(small[:300]),
        "html-page": respond(html_page, content_type="text/html"),
        "invalid-xml": respond(b"<rss><channel><item><title>oops</channel>"),
        "empty": respond(b""),
        "billion-laughs": respond(billion_laughs()),
    }


class Farm:
    """The sources' answers: mostly good, growing feeds; faults at random (seeded)."""

    def __init__(self, sources: int, fault_rate: float, seed: int, story_every: float) -> None:
        self.sources = sources
        self.story_every = story_every
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.faults = fault_handlers()
        self.started = time.monotonic()
        self.served: Counter[str] = Counter()

    def stories(self, n: int) -> list[Entry]:
        """Source n's latest ten stories: one more every `story_every` seconds."""
        offset = (n * 7.919) % min(self.story_every, STORY_EVERY)
        newest = 9 + int((time.monotonic() - self.started + offset) // self.story_every)
        entries = []
        for k in range(newest, max(-1, newest - 10), -1):
            rng = random.Random(n * 1_000_003 + k)
            topical = rng.random() < 1 / 3
            words = TOPIC_WORDS if topical else OTHER_WORDS
            entries.append(
                Entry(
                    guid=f"s{n}-{k}",
                    title=f"{rng.choice(words).capitalize()}: report {k} of outlet {n}",
                    link=f"https://outlet{n}.example/{k}",
                    description=" ".join(
                        rng.choice(words) + f" {rng.randrange(10_000)}" for _ in range(25)
                    ),
                )
            )
        return entries

    def handler(self, n: int) -> Handler:
        def handle(request: Request, conn: Conn) -> None:
            with self.lock:
                roll = self.rng.random()
                kind = self.rng.choice(sorted(self.faults)) if roll < self.fault_rate else "good"
                self.served[kind] += 1
            if kind != "good":
                self.faults[kind](request, conn)
                return
            body = rss(self.stories(n), title=f"Outlet {n}")
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers = [("Content-Type", "application/rss+xml"), ("ETag", etag)]
            if request.headers.get("if-none-match") == etag:
                conn.send(304, b"", headers)
            else:
                conn.send(200, body, headers)

        return handle


def settings_yaml(workdir: Path, interval: int) -> str:
    topics = (ROOT / "sources.yaml").read_text().split("topics:", 1)[1].split("\nsources:", 1)[0]
    return (
        textwrap.dedent(
            f"""
        settings:
          default_interval: {interval}s
          dispatch_interval: 1s
          lease: 2m
          shutdown_grace: 5s
          jitter: 0.1
          min_host_delay: 0s
          per_host: 16
          concurrency: 64
          retries: 0
          max_backoff: 5m
          allow_private_addresses: true
          timeouts: {{connect: 5s, read: 10s, total: 20s}}
          digest: {{dir: "{workdir / "digests"}", timezone: UTC}}
        """
        )
        + "topics:"
        + topics
    )


def proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        pass
    return out


def polls_between(engine: Any, start: datetime, end: datetime) -> tuple[int, int]:
    with engine.connect() as connection:
        rows = dict(
            connection.execute(
                select(Poll.status == "error", func.count())
                .where(Poll.finished_at >= start, Poll.finished_at < end)
                .group_by(Poll.status == "error")
            ).all()
        )
    return sum(rows.values()), rows.get(True, 0)


def error_kinds(engine: Any) -> Counter[str]:
    """Errors by kind: the message without the host, port, numbers and URLs."""
    kinds: Counter[str] = Counter()
    with engine.connect() as connection:
        for (error,) in connection.execute(select(Poll.error).where(Poll.status == "error")):
            text = re.sub(r"https?://\S+|\b[\w.-]+:\d+\b|\d+(\.\d+)?", "#", error or "")
            kinds[text[:90]] += 1
    return kinds


def memory_trend(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """RSS after warm-up: start and end medians (3-minute windows), range, trend per 30 min."""
    settled = [s for s in samples if s["t"] >= warmup_s]
    if len(settled) < 4:
        return {"growth": None, "trend_30min": None}
    t0, t1 = settled[0]["t"], settled[-1]["t"]
    window = min(180.0, (t1 - t0) / 3)
    start = statistics.median(s["rss_mb"] for s in settled if s["t"] <= t0 + window)
    end = statistics.median(s["rss_mb"] for s in settled if s["t"] >= t1 - window)
    xs = [s["t"] for s in settled]
    ys = [s["rss_mb"] for s in settled]
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )  # MB per second
    return {
        "rss_start_mb": round(start, 1),
        "rss_end_mb": round(end, 1),
        "rss_min_mb": min(ys),
        "rss_max_mb": max(ys),
        "growth": round((end - start) / start, 4),
        "trend_mb_per_hour": round(slope * 3600, 2),
        "trend_30min": round(slope * 1800 / mean_y, 4),
    }


def summarise(path: Path, warmup_minutes: float | None) -> int:
    data = json.loads(path.read_text())
    samples = data["samples"]
    minutes = samples[-1]["t"] / 60 if samples else 0
    warmup = warmup_minutes if warmup_minutes is not None else max(2.0, minutes / 5)
    trend = memory_trend(samples, warmup * 60)
    print(json.dumps({"warmup_min": warmup, **trend}, indent=2))
    flat = trend["growth"] is not None and trend["growth"] < 0.10 and trend["trend_30min"] < 0.10
    return 0 if flat else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--interval", type=int, default=60, help="seconds between two polls")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument(
        "--story-every",
        type=float,
        default=STORY_EVERY,
        help="seconds between two new stories of a source",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between reports")
    parser.add_argument("--warmup", type=float, help="minutes (default: a fifth, at least 2)")
    parser.add_argument("--database-url", help="default: a SQLite file in the work folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, help="write the samples and summary as JSON")
    parser.add_argument(
        "--summarise", type=Path, help="only print the memory verdict of a --out file"
    )
    args = parser.parse_args()
    if args.summarise:
        return summarise(args.summarise, args.warmup)
    warmup = args.warmup if args.warmup is not None else max(2.0, args.minutes / 5)

    workdir = Path(tempfile.mkdtemp(prefix="monitor-soak-"))
    shutil.copytree(ROOT / "storage" / "seed", workdir / "storage" / "seed")
    database_url = args.database_url or f"sqlite:///{workdir / 'storage' / 'monitor.db'}"
    farm = Farm(args.sources, args.fault_rate, args.seed, args.story_every)
    server = HostileServer().start()
    hosts = loopback_names()
    lines = []
    for n in range(args.sources):
        server.route(f"/s{n}.xml", farm.handler(n))
        lines.append(
            f'  - {{name: s{n:03d}, url: "{server.url(f"/s{n}.xml", hosts[n % len(hosts)])}"}}'
        )
    (workdir / "sources.yaml").write_text(
        settings_yaml(workdir, args.interval) + "\nsources:\n" + "\n".join(lines) + "\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "monitor"]
    init = subprocess.run(
        [*command, "init"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if init.returncode != 0:
        print(init.stderr, file=sys.stderr)
        return 2
    log = (workdir / "service.log").open("w")
    service = subprocess.Popen(
        [*command, "run", "--instance", "soak"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = make_engine(database_url)
    print(
        f"soak: {args.sources} sources on {', '.join(hosts)} port {server.port}, interval "
        f"{args.interval}s, faults {args.fault_rate:.0%}, {args.minutes:g} min (warm-up "
        f"{warmup:g} min); service pid {service.pid}; work folder {workdir}"
    )
    print(
        f"{'t':>6} {'rss MB':>7} {'fds':>5} {'thr':>4} {'polls/min':>9} {'errors':>7}"
        f" {'err %':>6} {'articles':>8}"
    )
    samples: list[dict[str, Any]] = []
    began = time.monotonic()
    last = datetime.now(UTC)
    alive = True
    stop = began + args.minutes * 60
    while time.monotonic() < stop:
        time.sleep(max(0.0, min(args.every, stop - time.monotonic())))
        if service.poll() is not None:
            alive = False
            print(f"the service exited with {service.returncode}", file=sys.stderr)
            break
        now = datetime.now(UTC)
        state = proc_status(service.pid)
        polls, errors = polls_between(engine, last, now)
        per_minute = polls / max((now - last).total_seconds(), 1e-9) * 60
        with engine.connect() as connection:
            articles = connection.scalar(select(func.count()).select_from(Article)) or 0
        sample = {
            "t": round(time.monotonic() - began),
            "rss_mb": round(state.get("VmRSS", 0) / 1024, 1),
            "fds": state.get("fds", 0),
            "threads": state.get("Threads", 0),
            "polls_per_min": round(per_minute, 1),
            "errors": errors,
            "articles": articles,
        }
        samples.append(sample)
        error_share = errors / polls if polls else 0.0
        print(
            f"{sample['t']:>5}s {sample['rss_mb']:>7.1f} {sample['fds']:>5} "
            f"{sample['threads']:>4} {per_minute:>9.1f} {errors:>7} {error_share:>6.1%} "
            f"{articles:>8}",
            flush=True,
        )
        last = now

    peak = proc_status(service.pid).get("VmHWM", 0) / 1024 if alive else 0.0
    service.send_signal(signal.SIGTERM)
    try:
        exit_code = service.wait(timeout=60)
    except subprocess.TimeoutExpired:
        service.kill()
        exit_code = service.wait()
    log.close()
    server.stop()

    settled = [s for s in samples if s["t"] >= warmup * 60]
    trend = memory_trend(samples, warmup * 60)
    growth = trend["growth"]
    with engine.connect() as connection:
        total_polls = connection.scalar(select(func.count()).select_from(Poll)) or 0
        failing = connection.scalar(
            select(func.count()).select_from(Source).where(Source.consecutive_failures > 0)
        )
    kinds = error_kinds(engine)
    engine.dispose()
    minutes_run = (samples[-1]["t"] / 60) if samples else 0.0
    summary = {
        "minutes": round(minutes_run, 1),
        "sources": args.sources,
        "interval_s": args.interval,
        "fault_rate": args.fault_rate,
        "service_alive": alive,
        "exit_code": exit_code,
        "peak_rss_mb": round(peak, 1),
        "memory_after_warmup": trend,
        "fds_after_warmup": [min(s["fds"] for s in settled), max(s["fds"] for s in settled)]
        if settled
        else None,
        "polls": total_polls,
        "polls_per_min": round(total_polls / minutes_run, 1) if minutes_run else None,
        "errors": sum(kinds.values()),
        "sources_failing_at_end": failing,
        "errors_by_kind": dict(kinds.most_common(20)),
        "answers_served": dict(farm.served.most_common()),
        "articles": samples[-1]["articles"] if samples else 0,
    }
    print("\nsummary:", json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"samples": samples, "summary": summary}, indent=2))
    flat = growth is not None and growth < 0.10
    verdict = alive and exit_code == 0 and flat
    trend_text = "n/a" if growth is None else f"{growth:.1%}, trend {trend['trend_30min']:.1%}"
    print(
        f"\n{'PASS' if verdict else 'FAIL'}: service {'stayed up' if alive else 'died'}, "
        f"exit {exit_code}, memory growth after warm-up {trend_text} per 30 min (limit 10%)"
    )
    if args.keep or not verdict:
        print(f"work folder kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
