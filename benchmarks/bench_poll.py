"""Benchmark one polling cycle of ``monitor poll`` beside the network floor and ``reader``.

    .venv/bin/python benchmarks/bench_poll.py                 # N=200,1000 x latency 0,50 ms
    .venv/bin/python benchmarks/bench_poll.py --quick         # N=200, 0 ms: a minute or two
    .venv/bin/python benchmarks/bench_poll.py --scale         # N=100,1000,5000 at 0 ms, no reader
    .venv/bin/python benchmarks/bench_poll.py --feeds 1000 --latency-ms 50 --repeat 3 --no-reader

For each (N feeds x M items, latency) a local feed farm (``benchmarks/feedfarm.py``, 127.0.0.1
only) is started, then, in this order and against the same farm:

- the floor: a process that only fetches the N feeds with aiohttp at the same concurrency
  (cold: plain GETs; warm: conditional GETs after ``/admin/advance?k=2``; no-op: all 304);
  its whole process (interpreter start, imports, fetch, saving the validators) and the fetch
  alone are both reported;
- ``monitor poll`` as a user runs it, one process per cycle: cold (a fresh SQLite database
  after ``monitor init``), warm (after ``/admin/advance?k=2``: 2 new items in every feed),
  no-op (nothing changed: every feed answers 304);
- ``reader`` 3.26 (the strongest Python peer) in a separate virtualenv created on first use
  under ``benchmarks/.venv-reader``: ``update_feeds`` cold, warm and no-op in one process, timed
  inside the process (so its interpreter start-up is *not* counted, unlike the monitor's).

Wall time, CPU time (user+sys of the child and the children it waited for, from ``os.wait4``),
items/s and peak memory (the RSS of the largest process; for the monitor with its parse
workers together, the sum of their RSS, sampled every 50 ms, which counts each shared page once
per process, and the sum of their PSS, sampled every 250 ms, which divides it among them) are
printed as a table with the ratios, and appended as JSON lines to
``benchmarks/results/poll-<time>.jsonl`` (git-ignored). Each monitor cycle is checked: every
source polled without error, every item read, and the matched items equal to the farm's
ground truth (``/admin/relevant``).

All feeds live on one host, so the generated sources.yaml raises ``per_host`` to the
concurrency and sets ``min_host_delay: 0s``: with the shipped politeness limits (2 requests
per host, 1 s apart) a single host would dominate every number. Configured URLs are trusted,
so the farm on 127.0.0.1 needs no ``allow_private_addresses``. The topics are the shipped
ones from sources.yaml.

Before measuring, the monitor's modules are compiled to bytecode (``compileall``), as ``pip
install`` does for an installed package: an editable checkout run with
``PYTHONDONTWRITEBYTECODE`` set would otherwise compile its sources again in every cycle.

This module uses only the standard library at import time: the floor runs it again as a
child (``--child floor``) with the monitor's Python, and reader runs it with the reader
venv's Python (``--child reader``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
READER_VENV = HERE / ".venv-reader"
READER_PACKAGES = ["reader==3.26", "sgmllib3k", "feedparser==6.0.14"]
ADVANCE = 2  # new items per feed between the cold and the warm cycle
CHILD_TIMEOUT = 1800.0  # seconds, any one measured process
FARM_START_TIMEOUT = 300.0  # seconds to build the feeds (5,000 feeds take about 20 s)


# ------------------------------------------------------------------------------- processes


@dataclass
class Child:
    """One finished child process: wall clock from the outside, rusage from wait4."""

    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    rss_mb: float  # the largest process (wait4's ru_maxrss)
    rc: int
    stdout: str
    stderr: str
    timed_out: bool = False
    tree_rss_mb: float | None = None  # the process and its children together (sampled peak)
    tree_pss_mb: float | None = None  # the same, each shared page divided among its sharers


RSS_SAMPLE_S = 0.05
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


# PSS needs /proc/<pid>/smaps_rollup (Linux 4.14 and later); reading it walks the process's
# page tables, so it is sampled every PSS_EVERY-th time only
HAS_PSS = os.path.exists("/proc/self/smaps_rollup")
PSS_EVERY = 5


def tree_memory_kb(pid: int, *, pss: bool) -> tuple[int, int | None] | None:
    """Memory of ``pid`` and all its descendants (Linux /proc): (RSS, PSS or None) in KB, or
    None elsewhere. The RSS sum counts the pages the processes share (the interpreter,
    libraries, what parse workers inherit from the fork) once per process; PSS divides each
    shared page among its sharers, so its sum is what the processes take together."""
    if not os.path.isdir(f"/proc/{pid}/task"):
        return None
    rss, pss_kb, stack = 0, 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as fh:
                rss += int(fh.read().split()[1]) * _PAGE_KB
            if pss:
                with open(f"/proc/{current}/smaps_rollup") as fh:
                    pss_kb += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack += [int(child) for child in fh.read().split()]
        except (OSError, ValueError, IndexError, StopIteration):  # the process ended meanwhile
            continue
    return rss, pss_kb if pss else None


def run_child(
    cmd: Sequence[str],
    *,
    timeout: float = CHILD_TIMEOUT,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Child:
    """Run ``cmd``; measure its wall time, CPU (user+sys) and peak RSS; kill it after timeout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=cwd, env=env)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        done = threading.Event()
        tree_peak = [0, 0]  # KB: RSS sum, PSS sum

        def sample() -> None:  # the peak of the whole process tree (parse workers included)
            tick = 0
            while not done.wait(RSS_SAMPLE_S):
                kb = tree_memory_kb(proc.pid, pss=HAS_PSS and tick % PSS_EVERY == 0)
                tick += 1
                if kb is None:
                    continue
                tree_peak[0] = max(tree_peak[0], kb[0])
                if kb[1] is not None:
                    tree_peak[1] = max(tree_peak[1], kb[1])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
            sampler.join()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            rss_mb=usage.ru_maxrss / 1024,
            rc=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace")[-4000:],
            timed_out=killed.is_set(),
            tree_rss_mb=tree_peak[0] / 1024 if tree_peak[0] else None,
            tree_pss_mb=tree_peak[1] / 1024 if tree_peak[1] else None,
        )


def admin(base: str, path: str) -> dict[str, Any]:
    """GET a farm admin endpoint (127.0.0.1 only) and decode its JSON."""
    if not base.startswith("http://127.0.0.1:"):
        raise ValueError(f"the farm must be on 127.0.0.1, not {base}")
    with urllib.request.urlopen(base + path, timeout=120) as response:
        return dict(json.loads(response.read()))


@contextlib.contextmanager
def farm(feeds: int, items: int, latency_ms: float, max_seconds: float) -> Iterator[str]:
    """Start benchmarks/feedfarm.py; yield its base URL; stop it (it also stops by itself)."""
    cmd = [
        sys.executable,
        str(HERE / "feedfarm.py"),
        "--port=0",
        f"--feeds={feeds}",
        f"--items={items}",
        f"--latency-ms={latency_ms:g}",
        f"--max-seconds={max_seconds:.0f}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + FARM_START_TIMEOUT
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        if not line.startswith(b"ready port="):
            raise RuntimeError(f"the feed farm did not start: {line!r}")
        port = int(line.split()[1].split(b"=")[1])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# ------------------------------------------------------------------------------- the floor


def floor_child(base: str, feeds: int, concurrency: int, state: Path, phase: str) -> None:
    """``--child floor``: fetch every feed once with aiohttp, nothing else; print JSON."""
    started = time.perf_counter()
    import aiohttp

    urls = [f"{base}/feeds/{i}.xml" for i in range(feeds)]
    validators: dict[str, list[str | None]] = {}
    if phase != "cold" and state.exists():
        validators = json.loads(state.read_text())

    async def run() -> dict[str, Any]:
        statuses: dict[str, int] = {}
        total = 0
        saved: dict[str, list[str | None]] = {}
        todo = iter(urls)
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                nonlocal total
                for url in todo:
                    headers = {}
                    etag, modified = validators.get(url, [None, None])
                    if etag:
                        headers["If-None-Match"] = etag
                    if modified:
                        headers["If-Modified-Since"] = modified
                    async with session.get(url, headers=headers) as response:
                        body = await response.read()
                        key = str(response.status)
                        statuses[key] = statuses.get(key, 0) + 1
                        total += len(body)
                        saved[url] = [
                            response.headers.get("etag"),
                            response.headers.get("last-modified"),
                        ]

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            fetch_s = time.perf_counter() - t0
        state.write_text(json.dumps(saved))
        return {"fetch_s": fetch_s, "status": statuses, "bytes": total}

    result = asyncio.run(run())
    result["process_s"] = time.perf_counter() - started
    print(json.dumps(result))


# ------------------------------------------------------------------------------- reader


def reader_child(base: str, feeds: int, workers: int, phases: list[str]) -> None:
    """``--child reader`` (reader venv): update_feeds cold, warm, no-op in one process."""
    import reader
    import reader._parser.feedparser  # its import is not part of a cycle
    from reader import make_reader

    out: dict[str, Any] = {"reader_version": reader.__version__}
    tmp = tempfile.mkdtemp(prefix="bench_reader_")
    try:
        r = make_reader(os.path.join(tmp, "reader.db"))
        for i in range(feeds):
            r.add_feed(f"{base}/feeds/{i}.xml")
        for phase in phases:
            if phase == "warm":
                admin(base, f"/admin/advance?k={ADVANCE}")
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            before = r.get_entry_counts().total
            t0 = time.perf_counter()
            ok = not_modified = errors = 0
            for result in r.update_feeds_iter(workers=workers, scheduled=False):
                value = result.value
                if value is None:
                    not_modified += 1
                elif isinstance(value, Exception):
                    errors += 1
                else:
                    ok += 1
            wall = time.perf_counter() - t0
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
            out[phase] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "ok": ok,
                "not_modified": not_modified,
                "errors": errors,
                "entries_added": r.get_entry_counts().total - before,
            }
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        r.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


def reader_python() -> Path | None:
    """The reader venv's Python, created on first use; None (with a message) if that fails."""
    python = READER_VENV / "bin" / "python"
    marker = READER_VENV / ".installed"
    if python.exists() and marker.exists():
        return python
    print(f"# creating {READER_VENV} and installing {' '.join(READER_PACKAGES)}", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(READER_VENV)], check=True, timeout=300)
        (READER_VENV / ".gitignore").write_text("*\n")
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *READER_PACKAGES],
            check=True,
            timeout=900,
        )
        subprocess.run([str(python), "-c", "import reader, sgmllib"], check=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"# SKIPPING reader: could not install it into {READER_VENV}: {exc}", file=sys.stderr)
        return None
    marker.write_text(" ".join(READER_PACKAGES) + "\n")
    return python


# ------------------------------------------------------------------------------- the monitor


def write_config(path: Path, base: str, feeds: int, concurrency: int, database: str) -> None:
    """A sources.yaml listing the farm's feeds, with the shipped topics."""
    import yaml

    shipped = yaml.safe_load((ROOT / "sources.yaml").read_text(encoding="utf-8"))
    config = {
        "settings": {
            "database_url": database,
            "concurrency": concurrency,
            "per_host": min(concurrency, 64),  # all feeds are on one host
            "min_host_delay": "0s",
        },
        "topics": shipped["topics"],
        "sources": [
            {"name": f"farm-{i:05d}", "url": f"{base}/feeds/{i}.xml"} for i in range(feeds)
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def monitor_env() -> dict[str, str]:
    """The environment without any MONITOR_* variable of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass
class Cycle:
    """One measured cycle of one tool."""

    tool: str
    phase: str
    feeds: int
    items: int
    latency_ms: float
    concurrency: int
    wall_s: float
    cpu_s: float | None = None
    rss_mb: float | None = None
    items_per_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_monitor(
    phase: str, reports: list[dict[str, Any]], feeds: int, items: int, relevant: int
) -> list[str]:
    """What is wrong with a monitor cycle's reports, if anything."""
    problems = []
    statuses: dict[str, int] = {}
    for report in reports:
        statuses[report["status"]] = statuses.get(report["status"], 0) + 1
    want = "not_modified" if phase == "noop" else "ok"
    if statuses.get(want, 0) != feeds:
        problems.append(f"{phase}: statuses {statuses}, expected {feeds} {want}")
    seen = sum(r["items_seen"] for r in reports)
    new = sum(r["items_new"] for r in reports)
    matched = sum(r["matched"] for r in reports)
    if phase == "cold" and (seen != feeds * items or new != feeds * items):
        problems.append(f"cold: {seen} items read, {new} new; expected {feeds * items}")
    if phase == "warm" and new != feeds * ADVANCE:
        problems.append(f"warm: {new} new items, expected {feeds * ADVANCE}")
    if phase == "cold" and matched != relevant:
        problems.append(f"cold: {matched} items matched, the farm says {relevant} are relevant")
    return problems


def run_monitor(
    base: str, feeds: int, items: int, latency: float, concurrency: int, workdir: Path
) -> list[Cycle]:
    """``monitor init``, then cold, warm and no-op ``monitor poll`` against the farm."""
    database = f"sqlite:///{workdir / 'monitor.db'}"
    config = workdir / "sources.yaml"
    write_config(config, base, feeds, concurrency, database)
    monitor = [sys.executable, "-m", "monitor", "--config", str(config)]
    env = monitor_env()
    init = run_child([*monitor, "init"], cwd=workdir, env=env)
    if init.rc != 0:
        raise RuntimeError(f"monitor init failed: {init.stderr}")
    cycles = []
    for phase in ("cold", "warm", "noop"):
        if phase == "warm":
            admin(base, f"/admin/advance?k={ADVANCE}")
        relevant = admin(base, "/admin/relevant")["count"]
        child = run_child([*monitor, "poll", "--format", "json"], cwd=workdir, env=env)
        try:
            reports = json.loads(child.stdout)
        except json.JSONDecodeError:
            reports = []
        problems = check_monitor(phase, reports, feeds, items, relevant)
        if child.rc != 0 or child.timed_out:
            problems.insert(0, f"{phase}: exit code {child.rc}: {child.stderr[-500:]}")
        for problem in problems:
            print(f"# CHECK FAILED: monitor N={feeds} lat={latency:g}: {problem}", file=sys.stderr)
        seen = sum(r["items_seen"] for r in reports)
        cycles.append(
            Cycle(
                tool="monitor",
                phase=phase,
                feeds=feeds,
                items=items,
                latency_ms=latency,
                concurrency=concurrency,
                wall_s=child.wall_s,
                cpu_s=child.cpu_s,
                rss_mb=child.rss_mb,
                items_per_s=seen / child.wall_s if child.wall_s else None,
                extra={
                    "user_s": child.user_s,
                    "sys_s": child.sys_s,
                    "tree_rss_mb": child.tree_rss_mb,
                    "tree_pss_mb": child.tree_pss_mb,
                    "items_seen": seen,
                    "items_new": sum(r["items_new"] for r in reports),
                    "matched": sum(r["matched"] for r in reports),
                    "articles_new": sum(r["articles_new"] for r in reports),
                    "relevant": relevant,
                    "ok": not problems,
                    "problems": problems,
                },
            )
        )
    return cycles


def run_floor(
    base: str, feeds: int, items: int, latency: float, concurrency: int, workdir: Path
) -> list[Cycle]:
    """The fetch-only floor, one process per cycle like the monitor."""
    state = workdir / "floor-validators.json"
    cycles = []
    for phase in ("cold", "warm", "noop"):
        if phase == "warm":
            admin(base, f"/admin/advance?k={ADVANCE}")
        child = run_child(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child=floor",
                f"--base={base}",
                f"--feeds={feeds}",
                f"--concurrency={concurrency}",
                f"--state={state}",
                f"--phase={phase}",
            ]
        )
        if child.rc != 0:
            print(f"# floor {phase} failed: {child.stderr[-500:]}", file=sys.stderr)
            continue
        result = json.loads(child.stdout)
        want = "304" if phase == "noop" else "200"
        if result["status"].get(want) != feeds:
            print(f"# CHECK FAILED: floor {phase}: statuses {result['status']}", file=sys.stderr)
        cycles.append(
            Cycle(
                tool="floor",
                phase=phase,
                feeds=feeds,
                items=items,
                latency_ms=latency,
                concurrency=concurrency,
                wall_s=child.wall_s,
                cpu_s=child.cpu_s,
                rss_mb=child.rss_mb,
                items_per_s=(feeds * items / child.wall_s) if phase != "noop" else None,
                extra={"fetch_s": result["fetch_s"], "bytes": result["bytes"]},
            )
        )
    return cycles


def run_reader(base: str, feeds: int, items: int, latency: float, concurrency: int) -> list[Cycle]:
    """reader's cold, warm and no-op update_feeds, from its own venv."""
    python = reader_python()
    if python is None:
        return []
    child = run_child(
        [
            str(python),
            str(Path(__file__).resolve()),
            "--child=reader",
            f"--base={base}",
            f"--feeds={feeds}",
            f"--concurrency={concurrency}",
        ]
    )
    if child.rc != 0:
        print(f"# reader failed (rc {child.rc}): {child.stderr[-800:]}", file=sys.stderr)
        return []
    result = json.loads(child.stdout)
    cycles = []
    for phase in ("cold", "warm", "noop"):
        data = result.get(phase)
        if not data:
            continue
        if data["errors"]:
            print(f"# reader {phase}: {data['errors']} feeds failed", file=sys.stderr)
        cycles.append(
            Cycle(
                tool="reader",
                phase=phase,
                feeds=feeds,
                items=items,
                latency_ms=latency,
                concurrency=concurrency,
                wall_s=data["wall_s"],
                cpu_s=data["cpu_s"],
                rss_mb=result["rss_mb"],
                items_per_s=(feeds * items / data["wall_s"]) if phase != "noop" else None,
                extra={
                    "entries_added": data["entries_added"],
                    "version": result["reader_version"],
                },
            )
        )
    return cycles


# ------------------------------------------------------------------------------- the table


def median_cycle(cycles: list[Cycle]) -> Cycle:
    """The cycle of median wall time (the middle one of an odd count, the lower of even)."""
    ordered = sorted(cycles, key=lambda c: c.wall_s)
    return ordered[(len(ordered) - 1) // 2]


def pick(cycles: list[Cycle], tool: str, phase: str, n: int, latency: float) -> Cycle | None:
    found = [
        c
        for c in cycles
        if c.tool == tool and c.phase == phase and c.feeds == n and c.latency_ms == latency
    ]
    return median_cycle(found) if found else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(a: Cycle | None, b: Cycle | None, *, fetch_only: bool = False) -> str:
    """``a / b`` of wall times (of b's in-process fetch alone with ``fetch_only``)."""
    if a is None or b is None:
        return "-"
    denominator = b.extra["fetch_s"] if fetch_only else b.wall_s
    return f"{a.wall_s / denominator:.2f}" if denominator else "-"


def _both(c: Cycle | None) -> str:
    return "-" if c is None else f"{c.wall_s:.2f} / {_fmt(c.cpu_s)}"


def _tree_memory(cycles: Sequence[Cycle | None]) -> tuple[float | None, float | None]:
    """The peak sums of RSS and of PSS over the process trees of ``cycles``."""
    peaks = []
    for key in ("tree_rss_mb", "tree_pss_mb"):
        values = [c.extra.get(key) for c in cycles if c is not None]
        peaks.append(max((v for v in values if v is not None), default=None))
    return peaks[0], peaks[1]


def print_table(cycles: list[Cycle], grid: list[tuple[int, float]], repeat: int) -> None:
    """The results: one table of times (medians of ``repeat``), one of ratios."""
    phases = ("cold", "warm", "noop")
    print(f"\n### one polling cycle (median of {repeat}; wall s / CPU s; memory MB)\n")
    print(
        "| N | lat ms | tool | cold | warm | no-op | peak RSS | all processes RSS | PSS |"
        " items/s cold | items/s warm |"
    )
    print("|" + "---|" * 11)
    for n, lat in grid:
        for tool in ("monitor", "floor", "reader"):
            found = [pick(cycles, tool, phase, n, lat) for phase in phases]
            if not any(found):
                continue
            cold, warm, noop = found
            rss = max((c.rss_mb or 0.0) for c in found if c is not None)
            tree, pss = _tree_memory(found)
            rate = [_fmt(c.items_per_s if c else None, 0) for c in (cold, warm)]
            print(
                f"| {n} | {lat:g} | {tool} | {_both(cold)} | {_both(warm)} | {_both(noop)} |"
                f" {rss:.0f} | {_fmt(tree, 0)} | {_fmt(pss, 0)} | {rate[0]} | {rate[1]} |"
            )
            if tool == "floor":
                fetch = [_fmt(c.extra["fetch_s"] if c else None) for c in found]
                print(f"| {n} | {lat:g} | floor, fetch only | {' | '.join(fetch)} | | | | | |")
    print(f"\n### ratios of wall times (median of {repeat})\n")
    print(
        "| N | lat ms | monitor/reader cold | warm | no-op | monitor/floor cold | warm | no-op |"
        " monitor/fetch-only cold | no-op |"
    )
    print("|" + "---|" * 10)
    for n, lat in grid:
        m = [pick(cycles, "monitor", phase, n, lat) for phase in phases]
        f = [pick(cycles, "floor", phase, n, lat) for phase in phases]
        r = [pick(cycles, "reader", phase, n, lat) for phase in phases]
        print(
            f"| {n} | {lat:g} | {' | '.join(_ratio(a, b) for a, b in zip(m, r, strict=True))} |"
            f" {' | '.join(_ratio(a, b) for a, b in zip(m, f, strict=True))} |"
            f" {_ratio(m[0], f[0], fetch_only=True)} | {_ratio(m[2], f[2], fetch_only=True)} |"
        )
    print(
        "\nmonitor and floor: whole processes, one per cycle (interpreter start-up and imports"
        " included); floor, fetch only: the fetch inside the floor process; reader: timed inside"
        " its process (start-up excluded). monitor/reader 0.10 means 10x faster than reader."
        " Memory: peak RSS of the largest process; of all processes (the monitor with its"
        " parse workers), the peak sum of RSS, which counts the pages they share once per"
        " process, and of PSS, which divides each shared page among its sharers."
    )


def print_scale(cycles: list[Cycle], ns: list[int]) -> None:
    """Time, CPU and memory per feed across N, to judge how the cycle grows."""
    print("\n### scale curve (latency 0; wall s / CPU s; ms and KB per feed)\n")
    print(
        "| N | cold wall / CPU | ms per feed | warm wall / CPU | ms per feed | no-op wall |"
        " peak RSS MB | all processes RSS | PSS | floor cold | floor no-op |"
    )
    print("|" + "---|" * 11)
    for n in ns:
        mc, mw, mn = (pick(cycles, "monitor", p, n, 0.0) for p in ("cold", "warm", "noop"))
        fc, fn = pick(cycles, "floor", "cold", n, 0.0), pick(cycles, "floor", "noop", n, 0.0)
        rss = max((c.rss_mb or 0.0) for c in (mc, mw, mn) if c is not None) if mc else None
        tree, pss = _tree_memory([mc, mw, mn])
        print(
            f"| {n} | {_fmt(mc.wall_s if mc else None)} / {_fmt(mc.cpu_s if mc else None)} |"
            f" {_fmt(mc.wall_s / n * 1000 if mc else None)} |"
            f" {_fmt(mw.wall_s if mw else None)} / {_fmt(mw.cpu_s if mw else None)} |"
            f" {_fmt(mw.wall_s / n * 1000 if mw else None)} |"
            f" {_fmt(mn.wall_s if mn else None)} | {_fmt(rss, 0)} | {_fmt(tree, 0)} |"
            f" {_fmt(pss, 0)} |"
            f" {_fmt(fc.wall_s if fc else None)} | {_fmt(fn.wall_s if fn else None)} |"
        )


# ------------------------------------------------------------------------------- main


def environment() -> dict[str, Any]:
    return {
        "kind": "env",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64, help="monitor, floor and reader")
    parser.add_argument("--repeat", type=int, default=1, help="monitor and floor runs (median)")
    parser.add_argument("--quick", action="store_true", help="N=200, latency 0 only")
    parser.add_argument("--scale", action="store_true", help="N=100,1000,5000 at 0 ms, no reader")
    parser.add_argument("--no-reader", action="store_true")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--out", type=Path, help="JSON lines file (default results/poll-*.jsonl)")
    # internal: the measured child processes
    parser.add_argument("--child", choices=("floor", "reader"), help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if not args.base or not args.base.startswith("http://127.0.0.1:"):
            parser.error("--base must be the farm on 127.0.0.1")
        if args.child == "floor":
            floor_child(args.base, args.feeds[0], args.concurrency, args.state, args.phase)
        else:
            reader_child(args.base, args.feeds[0], args.concurrency, ["cold", "warm", "noop"])
        return

    if args.quick:
        args.feeds, args.latency_ms = [200], [0.0]
    if args.scale:
        args.feeds, args.latency_ms, args.no_reader = [100, 1000, 5000], [0.0], True
    if not 1 <= args.repeat <= 20 or not 1 <= args.concurrency <= 1024:
        parser.error("--repeat must be 1..20 and --concurrency 1..1024")
    if any(not 1 <= n <= 20_000 for n in args.feeds):
        parser.error("--feeds must be 1..20000")
    if args.concurrency > 64:
        print("# note: per_host is capped at 64 by the configuration", file=sys.stderr)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / f"poll-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    env = environment()
    # what pip does at install time (see the module docstring)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")], check=True)
    with out.open("a") as fh:
        fh.write(json.dumps(env) + "\n")
    print(
        f"# {env['time']} python {env['python']}, {env['cpus']} CPUs, load {env['loadavg']};"
        f" concurrency {args.concurrency} (per_host {min(args.concurrency, 64)}, raised from 2:"
        f" every feed is on one host), min_host_delay 0s; writing {out}",
        file=sys.stderr,
    )
    grid = [(n, lat) for n in args.feeds for lat in args.latency_ms]
    cycles: list[Cycle] = []
    for n, lat in grid:
        budget = 600 + n * 1.0 + (0 if args.no_reader else n * 0.5)
        with farm(n, args.items, lat, max_seconds=budget * (args.repeat + 1)) as base:
            print(f"# N={n} latency={lat:g} ms: farm at {base}", file=sys.stderr)
            found: list[Cycle] = []
            for rep in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="bench_poll_") as tmp:
                    if not args.no_floor:
                        found += run_floor(base, n, args.items, lat, args.concurrency, Path(tmp))
                    found += run_monitor(base, n, args.items, lat, args.concurrency, Path(tmp))
                print(f"#   rep {rep + 1}/{args.repeat} done", file=sys.stderr)
            if not args.no_reader:
                found += run_reader(base, n, args.items, lat, args.concurrency)
            with out.open("a") as fh:
                for cycle in found:
                    fh.write(json.dumps(asdict(cycle)) + "\n")
            for c in found:
                print(
                    f"#   {c.tool:8} {c.phase:5} wall {c.wall_s:7.2f} s  cpu {_fmt(c.cpu_s)} s"
                    f"  rss {_fmt(c.rss_mb, 0)} MB",
                    file=sys.stderr,
                )
            cycles += found
    print_table(cycles, grid, args.repeat)
    if args.scale:
        print_scale(cycles, args.feeds)
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
