"""Benchmark: fetching 1,000 feeds through :class:`monitor.fetch.Fetcher` on each transport.

Starts a local aiohttp server in a subprocess (so its CPU is not counted) serving ``--feeds``
feeds of about 150 KB each on 127.0.0.1, then fetches all of them through a Fetcher with
httpx's own transport and with the httpx-aiohttp transport, at each concurrency, beside raw
aiohttp (the floor: no Fetcher, no httpx). Prints wall time and the client process's CPU time
(best of ``--repeat`` runs). Every fetched body is checked for its size.

    .venv/bin/python benchmarks/bench_fetch.py [--feeds 1000] [--concurrency 16 64]
                                               [--latency-ms 0] [--gzip] [--repeat 3]

``monitor.fetch.DEFAULT_TRANSPORT`` is chosen from these numbers (see the report of the run
in that module's history); rerun this after upgrading httpx, httpcore, aiohttp or httpx-aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from monitor.fetch import TransportName

FEED_SIZE = 150 * 1024


def make_feed(i: int) -> bytes:
    """An RSS document of about 150 KB, different for each feed."""
    item = (
        "<item><title>Story {n} of feed {i}</title><link>https://example.com/{i}/{n}</link>"
        "<description>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
        "tempor incididunt ut labore et dolore magna aliqua {n}.</description></item>\n"
    )
    parts = [f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>\n']
    n = 0
    size = len(parts[0])
    while size < FEED_SIZE - 30:
        piece = item.format(i=i, n=n)
        parts.append(piece)
        size += len(piece)
        n += 1
    parts.append("</channel></rss>\n")
    return "".join(parts).encode()


# ---------------------------------------------------------------------------- server side


def serve(feeds: int, latency: float, compress: bool) -> None:
    """Run the feed server (in the subprocess); prints the port, then serves until killed."""
    from aiohttp import web

    bodies = [make_feed(i) for i in range(feeds)]
    if compress:
        bodies = [gzip.compress(b, 5) for b in bodies]
    headers = {"Content-Type": "application/rss+xml"}
    if compress:
        headers["Content-Encoding"] = "gzip"

    async def feed(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        i = int(request.match_info["i"])
        return web.Response(body=bodies[i], headers=headers)

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", feed)
        app.router.add_get("/robots.txt", robots)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------------------- client side


async def run_fetcher(urls: list[str], concurrency: int, transport: TransportName) -> int:
    """All URLs through one Fetcher on the given transport; the total body size."""
    from monitor.fetch import Fetcher, FetchPolicy, make_transport

    policy = FetchPolicy(concurrency=concurrency, per_host=concurrency, retries=0)
    async with Fetcher(policy, transport=make_transport(policy, transport)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    return sum(len(r.content) for r in results)


async def run_raw_aiohttp(urls: list[str], concurrency: int) -> int:
    """All URLs through a bare aiohttp session (the floor); the total body size."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> int:
            async with sem, session.get(url) as response:
                response.raise_for_status()
                return len(await response.read())

        sizes = await asyncio.gather(*(one(u) for u in urls))
    return sum(sizes)


def measure(job: Callable[[], Coroutine[Any, Any, int]], repeat: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds over ``repeat`` runs, each in a fresh event loop."""
    best_wall = best_cpu = float("inf")
    total = 0
    for _ in range(repeat):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        total = asyncio.run(job())
        best_wall = min(best_wall, time.perf_counter() - wall0)
        best_cpu = min(best_cpu, time.process_time() - cpu0)
    return best_wall, best_cpu, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--latency-ms", type=float, default=0.0, help="server delay per request")
    parser.add_argument("--gzip", action="store_true", help="serve gzip-compressed feeds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.feeds, args.latency_ms / 1000, args.gzip)
        return

    command = [sys.executable, __file__, "--serve", "--feeds", str(args.feeds)]
    command += ["--latency-ms", str(args.latency_ms)] + (["--gzip"] if args.gzip else [])
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        urls = [f"http://127.0.0.1:{port}/feed/{i}" for i in range(args.feeds)]
        expected = sum(len(make_feed(i)) for i in range(args.feeds))
        print(
            f"{args.feeds} feeds of ~{FEED_SIZE // 1024} KB, latency {args.latency_ms:g} ms,"
            f" gzip {'on' if args.gzip else 'off'}, best of {args.repeat}; client CPU only\n"
        )
        print(f"{'client':<26} {'conc':>5} {'wall s':>8} {'CPU s':>8} {'CPU ms/req':>11}")
        for concurrency in args.concurrency:
            jobs: list[tuple[str, Callable[[], Coroutine[Any, Any, int]]]] = [
                ("Fetcher + httpx transport", partial(run_fetcher, urls, concurrency, "httpx")),
                ("Fetcher + aiohttp transp.", partial(run_fetcher, urls, concurrency, "aiohttp")),
                ("raw aiohttp (floor)", partial(run_raw_aiohttp, urls, concurrency)),
            ]
            for name, job in jobs:
                wall, cpu, total = measure(job, args.repeat)
                if total != expected:
                    raise SystemExit(f"{name}: got {total} bytes, expected {expected}")
                per_request = cpu / args.feeds * 1000
                print(f"{name:<26} {concurrency:>5} {wall:>8.2f} {cpu:>8.2f} {per_request:>11.2f}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
