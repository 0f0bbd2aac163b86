"""The HTTP fetching stage: one shared client, polite to every host, safe against hostile servers.

A :class:`Fetcher` owns one connection pool and every limit that must hold across all the sources
polled through it: a global cap on requests in flight, a per-host cap and start-to-start delay
(raised by a robots.txt ``Crawl-delay``), connect/read timeouts plus a total deadline per attempt,
and a cap on the *decompressed* body size enforced while streaming (the bytes are decoded here,
with bounded output per step, so a gzip bomb is never inflated into memory).

Redirects are followed by hand so that each hop can be checked: every redirect target, and every
URL passed with ``trusted=False``, must resolve to public addresses only (SSRF protection); plain
``http`` hops that were checked are then connected to the very address that was checked, so a DNS
answer that changes between check and connect (DNS rebinding) has no effect. Every failure ends as
a :class:`~monitor.errors.FetchError` (or its subclass :class:`~monitor.errors.BlockedURLError`)
with a message a user can act on; nothing else escapes except cancellation.

Known limitations, by choice or for now:

* DNS rebinding: pinning covers plain http only. An https hop is checked, then resolved again by
  the transport; a rebinding attacker would still need a certificate valid for its own name on
  the internal host, so this is accepted. A pinned hop uses the first checked address only (no
  fallback to the others when it refuses).
* robots.txt: an unreachable one (5xx, timeout, network error) means allow all, cached for 10
  minutes (RFC 9309 says disallow; a monitor should not stop for a broken robots.txt). Only the
  first ``robots_max_bytes`` of a huge one are parsed (RFC 9309). ``urllib.robotparser`` applies
  the first matching rule, not the longest, and knows no ``*``/``$`` wildcards. Crawl-delay is
  capped at ``max_crawl_delay`` and must be an integer (robotparser ignores fractions).
* Proxy environment variables are ignored; HTTP/2 is not used (the aiohttp transport is
  HTTP/1.1 only). Content-Encoding zstd is not supported (not advertised either).
* A Fetcher belongs to the event loop it is first used in.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import functools
import ipaddress
import random
import socket
import ssl
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Literal, Protocol
from urllib.robotparser import RobotFileParser

from monitor.errors import BlockedURLError, FetchError
from monitor.items import FetchResult

# httpx imports its command-line client when rich, pygments and click are installed (25 ms of
# every poll's start-up); a None entry makes that import fail as if they were not, and httpx
# then defines a stub in its place. The monitor never runs httpx's client.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

try:  # brotli is a dependency; without it we simply do not advertise "br"
    import brotli
except ImportError:  # pragma: no cover - exercised only on a broken install
    brotli = None

__all__ = [
    "DEFAULT_TRANSPORT",
    "FetchPolicy",
    "Fetcher",
    "TransportName",
    "aiohttp_transport",
    "check_public_address",
    "httpx_transport",
    "make_transport",
    "parse_retry_after",
]

TransportName = Literal["aiohttp", "httpx"]

#: Chosen by ``benchmarks/bench_fetch.py`` (1,000 feeds of 150 KB from a local server, client
#: CPU per request): httpx's own pool 3.0 ms at 16 connections and 9.1 ms at 64; the aiohttp
#: transport 0.6-0.7 ms at both (raw aiohttp: 0.15-0.2 ms). Rerun it after upgrading either.
DEFAULT_TRANSPORT: TransportName = "aiohttp"

DEFAULT_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.8, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate, br" if brotli is not None else "gzip, deflate"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_DECODE_STEP = 64 * 1024  # most bytes one decompression step may produce
_RAW_SLACK = 64 * 1024  # compressed data may exceed its plain size by a little
_CACHE_SIZE = 10_000  # robots.txt entries and idle host gates kept
_ERROR_ROBOTS_TTL = 600.0  # re-try an unreachable robots.txt after 10 min, not after the full TTL
# Headers the fetcher owns: a caller may not set them (they would break decoding or framing).
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "accept-encoding",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
    }
)
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class FetchPolicy:
    """Every limit of a :class:`Fetcher`; the defaults suit polling news feeds and pages."""

    user_agent: str = "monitor/0.1 (+https://github.com/monitor/monitor)"
    concurrency: int = 32  # global limit of requests in flight
    per_host: int = 2  # requests in flight per host
    min_delay: float = 0.0  # seconds between the starts of two requests to one host
    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # longest silence while waiting for headers or body bytes
    total_timeout: float = 60.0  # one attempt, from sending the request to the last body byte
    max_body: int = 10 * 1024 * 1024  # bytes, decompressed
    max_redirects: int = 5
    retries: int = 2  # for transient errors only
    backoff: float = 0.5  # base of exponential backoff with jitter
    max_retry_after: float = 30.0  # longest Retry-After waited inside one fetch
    allow_private_addresses: bool = False
    respect_robots: bool = True
    robots_ttl: float = 3600.0  # how long a fetched robots.txt is trusted
    robots_max_bytes: int = 512 * 1024  # only this prefix of a robots.txt is parsed (RFC 9309)
    robots_timeout: float = 10.0  # total deadline for fetching one robots.txt
    max_crawl_delay: float = 60.0  # a robots.txt Crawl-delay above this is capped to it

    def __post_init__(self) -> None:
        problems = [
            name
            for name in ("concurrency", "per_host", "max_body", "robots_max_bytes")
            if getattr(self, name) < 1
        ]
        problems += [
            name
            for name in ("connect_timeout", "read_timeout", "total_timeout", "robots_timeout")
            if not getattr(self, name) > 0
        ]
        problems += [
            name
            for name in ("min_delay", "backoff", "max_retry_after", "robots_ttl", "max_crawl_delay")
            if getattr(self, name) < 0
        ]
        problems += [n for n in ("max_redirects", "retries") if getattr(self, n) < 0]
        if problems:
            raise ValueError(f"invalid FetchPolicy values: {', '.join(problems)}")


# --------------------------------------------------------------------------- transports


def _limits(policy: FetchPolicy) -> httpx.Limits:
    # The semaphores of the Fetcher keep requests in flight <= concurrency; the pool only needs
    # room for those plus idle keep-alive connections.
    return httpx.Limits(
        max_connections=policy.concurrency,
        max_keepalive_connections=policy.concurrency,
        keepalive_expiry=30.0,
    )


def httpx_transport(policy: FetchPolicy) -> httpx.AsyncBaseTransport:
    """httpx's own transport (httpcore + anyio): the fallback when aiohttp is unavailable."""
    return httpx.AsyncHTTPTransport(limits=_limits(policy), retries=0)


def aiohttp_transport(policy: FetchPolicy) -> httpx.AsyncBaseTransport:
    """The ``httpx-aiohttp`` transport over an aiohttp session configured for fetching.

    The session never decompresses (we decode with a cap), keeps no cookies across sources
    (a per-fetch jar handles cookies within one redirect chain) and ignores proxy variables.
    """
    import aiohttp
    from httpx_aiohttp import AiohttpTransport
    from httpx_aiohttp.transport import map_aiohttp_exceptions

    chunk_size = 256 * 1024  # httpx-aiohttp's stream reads 16 KB at a time

    class Transport(AiohttpTransport):
        """httpx-aiohttp's transport; the Fetcher sends its GETs through :meth:`get_reply`."""

        async def get_reply(
            self, url: httpx.URL, headers: dict[str, str], *, timeouts: dict[str, float | None]
        ) -> _Reply:
            """A GET straight on the aiohttp session, its errors raised as httpx's (as from
            handle_async_request), and no httpx request or response object made."""
            if not isinstance(self.client, aiohttp.ClientSession):
                self.client = self.get_client()
            with map_aiohttp_exceptions():
                response = await self.client.request(
                    "GET",
                    str(url),
                    headers=headers,
                    allow_redirects=False,
                    auto_decompress=False,
                    compress=False,
                    timeout=aiohttp.ClientTimeout(
                        sock_connect=timeouts.get("connect"),
                        sock_read=timeouts.get("read"),
                        connect=timeouts.get("pool"),
                    ),
                ).__aenter__()

            async def pieces(whole: bool) -> AsyncIterator[bytes]:
                with map_aiohttp_exceptions():
                    if whole:  # aiohttp reads no more than the declared length
                        yield await response.read()
                        return
                    async for piece in response.content.iter_chunked(chunk_size):
                        yield piece

            async def close() -> None:
                with map_aiohttp_exceptions():
                    await response.__aexit__(None, None, None)

            return _Reply(response.status, header_lines(response.raw_headers), pieces, close)

    ssl_context = httpx.create_ssl_context()

    def make_session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=policy.concurrency,
            limit_per_host=0,
            ssl=ssl_context,
            keepalive_timeout=30.0,
            ttl_dns_cache=60,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    return Transport(client=make_session, limits=_limits(policy), verify=ssl_context)


def make_transport(
    policy: FetchPolicy, name: TransportName | None = None
) -> httpx.AsyncBaseTransport:
    """The transport called ``name`` (default: :data:`DEFAULT_TRANSPORT`), falling back to httpx."""
    if (name or DEFAULT_TRANSPORT) == "aiohttp":
        try:
            return aiohttp_transport(policy)
        except ImportError:  # pragma: no cover - httpx-aiohttp is a dependency
            pass
    return httpx_transport(policy)


# --------------------------------------------------------------------------- small helpers


def _human_size(n: int) -> str:
    """``10485760`` -> ``10 MB``; ``1536`` -> ``1.5 KB``."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


def _too_large(limit: int, status: int | None) -> FetchError:
    return FetchError(f"response body exceeds the {_human_size(limit)} limit", status=status)


def _status_text(status: int) -> str:
    """``404`` -> ``HTTP 404 Not Found``, using the standard phrase, never the server's."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None if invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header_safe(value: str | None) -> str | None:
    """A stored validator fit to send back, or None (it could break the request line framing)."""
    if not value or not value.isascii() or not value.isprintable():
        return None  # CR/LF would break the framing; non-ASCII cannot be sent back as it came
    return value.strip() or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_header(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if url.port is None else f"{host}:{url.port}"


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


_CACHED_URL_LENGTH = 2048  # longer configured URLs are parsed every time


def _parse_url(raw: str, *, base: httpx.URL | None = None, cache: bool = False) -> httpx.URL:
    """A parsed absolute http(s) URL, or FetchError / BlockedURLError saying what is wrong.

    ``cache``: the URL is one of the configured sources', parsed again by every poll of a
    long-running service (16-50 us with httpx); URLs found in content are not kept.
    """
    if cache and base is None and isinstance(raw, str) and len(raw) <= _CACHED_URL_LENGTH:
        return _parse_configured(raw)
    return _parse_uncached(raw, base)


@functools.lru_cache(maxsize=8192)
def _parse_configured(raw: str) -> httpx.URL:
    """:func:`_parse_url` of a configured URL, cached (a URL is immutable; errors are not)."""
    return _parse_uncached(raw, None)


def _parse_uncached(raw: str, base: httpx.URL | None) -> httpx.URL:
    try:
        url = base.join(raw) if base is not None else httpx.URL(raw)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError(f"invalid URL {raw!r}: {exc}") from None
    if url.scheme not in ("http", "https"):
        scheme = url.scheme or "(none)"
        raise BlockedURLError(f"unsupported URL scheme {scheme!r} in {raw!r} (only http and https)")
    if not url.host:
        raise FetchError(f"invalid URL {raw!r}: no host")
    return url.copy_with(fragment=None) if url.fragment else url


# --------------------------------------------------------------------------- address checks


def _unsafe_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``ip`` is not a public unicast address (e.g. ``loopback``), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _unsafe_kind(embedded)
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if not ip.is_global:  # shared (100.64/10), documentation, benchmarking ranges, ...
        return "non-public"
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def check_public_address(address: str) -> None:
    """Raise BlockedURLError unless ``address`` (an IP literal) is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    kind = _unsafe_kind(ip)
    if kind is not None:
        article = "an" if kind[0] in "aeiou" else "a"
        raise BlockedURLError(f"refused: {address} is {article} {kind} address")


async def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """The addresses ``host`` resolves to, through the event loop's getaddrinfo."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise FetchError(f"DNS lookup for {host} timed out", transient=True) from None
    except socket.gaierror as exc:
        raise _dns_error(host, exc) from None
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"DNS lookup failed for {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(f"DNS lookup failed for {host}: no addresses")
    return addresses


def _dns_error(host: str, exc: socket.gaierror) -> FetchError:
    temporary = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
    reason = exc.strerror or str(exc)
    return FetchError(f"DNS lookup failed for {host}: {reason}", transient=temporary)


# --------------------------------------------------------------------------- capped decoding


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def finish(self) -> Iterator[bytes]: ...


class _ZlibDecoder:
    """gzip (also multi-member) or deflate (zlib-wrapped or raw), at most 64 KB output a step.

    As browsers and feed readers do, a body labelled gzip that does not start with the gzip
    magic bytes is passed through unchanged (servers that label plain bodies are common).
    """

    def __init__(self, kind: Literal["gzip", "deflate"]) -> None:
        self.kind = kind
        self._d: zlib._Decompress | None = None
        self._head = b""  # the first bytes, until we know the format
        self._passthrough = False
        self._done = False  # a complete stream was seen; later garbage is ignored

    def _start(self, data: bytes) -> None:
        if self.kind == "gzip":
            if not data.startswith(b"\x1f\x8b"):
                self._passthrough = True
                return
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            zlib_header = (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d is None and not self._passthrough:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._start(data)
        if self._passthrough:
            yield data
            return
        yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while not self._done:
            d = self._d
            assert d is not None
            if d.eof:  # a complete stream; only another gzip member may follow
                if not data:
                    return
                if self.kind != "gzip" or not data.startswith(b"\x1f\x8b"):
                    self._done = True  # trailing garbage after the stream: ignored
                    return
                d = self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = d.decompress(data, _DECODE_STEP)
            except zlib.error as exc:
                raise FetchError(f"the {self.kind} body is corrupt: {exc}") from None
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                continue
            data = d.unconsumed_tail
            if not data and len(out) < _DECODE_STEP:
                return  # all input used and no output pending

    def finish(self) -> Iterator[bytes]:
        if self._head:  # the whole body was a single byte
            if self.kind == "gzip" and self._head != b"\x1f":
                yield self._head
                return
            raise FetchError(f"the {self.kind} body is truncated")
        if self._passthrough or self._d is None:
            return
        if not self._done and not self._d.eof:
            raise FetchError(
                f"the {self.kind} body is truncated (the compressed stream ended early)"
            )


class _BrotliDecoder:
    """Brotli, at most about 64 KB output a step."""

    def __init__(self) -> None:
        assert brotli is not None
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d.is_finished():
            return  # trailing garbage after the stream: ignored
        try:
            out = self._d.process(data, output_buffer_limit=_DECODE_STEP)
            while True:
                if out:
                    yield out
                if not out and self._d.can_accept_more_data():
                    return
                out = self._d.process(b"", output_buffer_limit=_DECODE_STEP)
        except brotli.error as exc:
            raise FetchError(f"the br body is corrupt: {exc}") from None

    def finish(self) -> Iterator[bytes]:
        if not self._d.is_finished():
            raise FetchError("the br body is truncated (the compressed stream ended early)")
        yield from ()


def _decoders(content_encoding: str | None) -> list[_Decoder]:
    """Decoders for a Content-Encoding, in the order they must be applied (last coding first)."""
    decoders: list[_Decoder] = []
    for coding in reversed((content_encoding or "").lower().split(",")):
        coding = coding.strip()
        if coding in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder("gzip"))
        elif coding == "deflate":
            decoders.append(_ZlibDecoder("deflate"))
        elif coding == "br" and brotli is not None:
            decoders.append(_BrotliDecoder())
        elif coding in ("br", "zstd", "compress", "x-compress", "xz", "lzma", "bzip2"):
            raise FetchError(f"unsupported Content-Encoding {coding!r}")
        # "", "identity" and unknown labels (e.g. "utf-8", sent by broken servers): as is
    return decoders


def _run_chain(decoders: list[_Decoder], data: bytes, start: int = 0) -> Iterator[bytes]:
    if start == len(decoders):
        if data:
            yield data
        return
    for piece in decoders[start].feed(data):
        yield from _run_chain(decoders, piece, start + 1)


def _finish_chain(decoders: list[_Decoder]) -> Iterator[bytes]:
    for i, decoder in enumerate(decoders):
        for piece in decoder.finish():
            yield from _run_chain(decoders, piece, i + 1)


@dataclass(slots=True)
class _Reply:
    """A response as the Fetcher reads it, whichever transport brought it: the status, the
    header lines, and the raw body (``pieces(whole)``: with ``whole``, in one read where the
    transport offers one), which ``close()`` releases."""

    status: int
    lines: list[tuple[str, str]]  # every header line as sent, names lower-cased
    pieces: Callable[[bool], AsyncIterator[bytes]]
    close: Callable[[], Awaitable[None]]


def _httpx_reply(response: httpx.Response) -> _Reply:
    """The reply of a transport that speaks httpx (httpx's own, a test's MockTransport)."""

    async def pieces(whole: bool) -> AsyncIterator[bytes]:
        async for raw in response.aiter_raw():
            yield raw

    return _Reply(response.status_code, response.headers.multi_items(), pieces, response.aclose)


def header_lines(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Raw header lines decoded as httpx decodes them: names lower-cased, and every line as
    ASCII, else every line as UTF-8, else as Latin-1."""
    raw = list(raw)
    for encoding in ("ascii", "utf-8"):
        try:
            return [(k.lower().decode(encoding), v.decode(encoding)) for k, v in raw]
        except UnicodeDecodeError:
            continue
    return [(k.lower().decode("latin-1"), v.decode("latin-1")) for k, v in raw]


def _joined(lines: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header lines as one value per name, a repeated header's values joined by ", "."""
    joined: dict[str, str] = {}
    for key, value in lines:
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


async def _read_body(
    reply: _Reply, headers: Mapping[str, str], limit: int, *, truncate: bool
) -> bytes:
    """The decoded body, refusing (or with ``truncate``, cutting) it past ``limit`` bytes."""
    decoders = _decoders(headers.get("content-encoding"))
    declared = headers.get("content-length", "")
    if not decoders and not truncate and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, reply.status)
    raw_limit = limit + _RAW_SLACK
    raw_size = size = 0
    parts: list[bytes] = []
    # a body whose declared length is within the limit can be read in one call, where the
    # transport offers one (aiohttp reads no more than the declared length)
    whole = declared.isdigit() and int(declared) <= raw_limit
    async for raw in reply.pieces(whole):
        raw_size += len(raw)
        if raw_size > raw_limit and not truncate:
            raise _too_large(limit, reply.status)
        for piece in _run_chain(decoders, raw):
            size += len(piece)
            parts.append(piece)
            if size > limit:
                if truncate:
                    return b"".join(parts)[:limit]
                raise _too_large(limit, reply.status)
        if truncate and raw_size > raw_limit:
            return b"".join(parts)
    for piece in _finish_chain(decoders):
        size += len(piece)
        parts.append(piece)
        if size > limit and not truncate:
            raise _too_large(limit, reply.status)
    return b"".join(parts)[:limit]


# --------------------------------------------------------------------------- network errors


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it was raised from, including members of exception groups."""
    seen: set[int] = set()
    stack = [exc]
    while stack and len(seen) < 50:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        for nxt in (e.__cause__, e.__context__, getattr(e, "os_error", None)):
            if isinstance(nxt, BaseException):
                stack.append(nxt)


def _detail(exc: BaseException) -> str:
    """The gist of an exception's message on one line, at most 160 characters."""
    message = getattr(exc, "message", None)  # aiohttp's ClientResponseError: skip url/status
    text = " ".join(str(message if isinstance(message, str) else exc).split())
    text = text or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _network_error(exc: BaseException, url: httpx.URL, policy: FetchPolicy) -> FetchError:
    """A FetchError with a plain message for whatever the transport raised.

    Both transports are understood: httpx's exceptions, and the aiohttp exceptions that the
    httpx-aiohttp transport wraps (its mapping is coarse: e.g. a server that disconnects arrives
    as ``httpx.ConnectTimeout``), so the whole cause chain is inspected.
    """
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    chain = list(_causes(exc))
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    from_aiohttp = [e for e in chain if type(e).__module__.startswith("aiohttp")]
    # a timeout really is one only if aiohttp (when involved) says so too
    timed_out = isinstance(exc, httpx.TimeoutException | TimeoutError) and all(
        isinstance(e, TimeoutError) for e in from_aiohttp
    )

    def first(kind: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kind)), None)

    gai = first(socket.gaierror)
    if isinstance(gai, socket.gaierror):
        return _dns_error(url.host, gai)
    if "ClientConnectorDNSError" in names or "name or service not known" in text:
        return FetchError(f"DNS lookup failed for {url.host}: Name or service not known")
    cert = first(ssl.SSLCertVerificationError)
    if isinstance(cert, ssl.SSLCertVerificationError):
        reason = cert.verify_message or cert.reason or str(cert)
        return FetchError(f"TLS certificate of {url.host} could not be verified: {reason}")
    tls = first(ssl.SSLError)
    if tls is not None or "ClientConnectorCertificateError" in names:
        reason = getattr(tls, "reason", None) or _detail(tls or exc)
        return FetchError(f"TLS error with {where}: {reason}", transient=True)
    if first(ConnectionRefusedError) is not None or "connection refused" in text:
        return FetchError(f"connection refused by {where}", transient=True)
    if timed_out:
        if isinstance(exc, httpx.ConnectTimeout) or "ConnectionTimeoutError" in names:
            secs = f"{policy.connect_timeout:g}"
            return FetchError(f"timed out connecting to {where} (after {secs} s)", transient=True)
        if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout) or "SocketTimeoutError" in names:
            secs = f"{policy.read_timeout:g}"
            return FetchError(
                f"timed out waiting for {where} (no data for {secs} s)", transient=True
            )
        if isinstance(exc, httpx.PoolTimeout):
            return FetchError("timed out waiting for a free connection", transient=True)
        return FetchError(f"timed out talking to {where}", transient=True)
    if (
        "peer closed connection without sending complete message body" in text
        or "ContentLengthError" in names
        or "TransferEncodingError" in names
        or "not enough data to satisfy" in text
        or "response payload is not completed" in text
    ):
        return FetchError(
            f"{where} closed the connection before the whole body was sent", transient=True
        )
    if (
        "ServerDisconnectedError" in names
        or "server disconnected" in text
        or "connection closed" in text
    ):
        return FetchError(f"{where} closed the connection without answering", transient=True)
    if first(ConnectionResetError) is not None:
        return FetchError(f"{where} reset the connection", transient=True)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"invalid URL {str(url)!r}: {_detail(exc)}")
    if isinstance(exc, httpx.RemoteProtocolError) or "ClientResponseError" in names:
        detail = _detail(next((e for e in from_aiohttp if hasattr(e, "message")), exc))
        return FetchError(f"{where} sent a malformed HTTP response: {detail}", transient=True)
    if isinstance(exc, httpx.LocalProtocolError):
        return FetchError(f"could not send the request to {where}: {_detail(exc)}")
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"could not connect to {where}: {_detail(exc)}", transient=True)
    if isinstance(exc, httpx.NetworkError | OSError) or from_aiohttp:
        return FetchError(f"network error with {where}: {_detail(exc)}", transient=True)
    return FetchError(f"fetching {url} failed: {type(exc).__name__}: {_detail(exc)}")


# --------------------------------------------------------------------------- the client


# --------------------------------------------------------------------------- per-host state


class _HostGate:
    """Per-host budget: requests in flight, start-to-start delay, and a server-requested pause."""

    __slots__ = ("blocked_status", "blocked_until", "delay", "next_start", "sem", "users")

    def __init__(self, per_host: int, delay: float) -> None:
        self.sem = asyncio.Semaphore(per_host)
        self.next_start = 0.0  # monotonic time before which no request may start
        self.delay = delay
        self.blocked_until = 0.0  # a long Retry-After: fail fast until then
        self.blocked_status: int | None = None
        self.users = 0

    def idle(self, now: float) -> bool:
        return self.users == 0 and self.next_start <= now and self.blocked_until <= now


@dataclass(frozen=True, slots=True)
class _Robots:
    parser: RobotFileParser | None  # None: everything allowed
    crawl_delay: float | None
    expires: float


@dataclass(frozen=True, slots=True)
class _Response:
    url: httpx.URL  # the logical URL (never the pinned address)
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header's values joined by ", "
    content: bytes
    lines: list[tuple[str, str]]  # every header line as sent (Set-Cookie cannot be joined)


# --------------------------------------------------------------------------- the fetcher


class Fetcher:
    """Fetches URLs under one :class:`FetchPolicy`; an async context manager owning one client.

    One Fetcher serves every concurrent caller of a poll: its limits are shared by all of them.
    It must be used (and closed) inside one event loop.
    """

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        p = self.policy
        # Requests go to the transport directly, not through an httpx.AsyncClient: this class
        # does what the client would (redirects by hand, a cookie jar per redirect chain, no
        # proxies from the environment), and the client's own layers (merging default
        # headers, auth and redirect hooks, a client-wide cookie jar) cost as much CPU as the
        # aiohttp transport under them: a 304 answer took 165 us through it, 100 us without.
        # The default transport is made on the first request: importing aiohttp takes 85 ms
        # and 9 MB, which `monitor poll` thus leaves out of the parse workers it forks first.
        self._given_transport = transport
        self._timeouts = httpx.Timeout(
            connect=p.connect_timeout,
            read=p.read_timeout,
            write=p.read_timeout,
            pool=p.connect_timeout,
        ).as_dict()
        self._global = asyncio.Semaphore(p.concurrency)
        self._gates: dict[str, _HostGate] = {}
        self._robots_cache: OrderedDict[tuple[str, str, int | None], _Robots] = OrderedDict()
        self._robots_tasks: dict[tuple[str, str, int | None], asyncio.Task[_Robots]] = {}
        self._closed = False

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection; pending robots.txt loads are cancelled."""
        self._closed = True
        tasks = list(self._robots_tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        transport = self.__dict__.get("_transport", self._given_transport)  # made or given
        if transport is not None:
            await transport.aclose()

    @functools.cached_property
    def _transport(self) -> httpx.AsyncBaseTransport:
        if self._closed:  # a request that was under way when the fetcher closed
            raise FetchError("the fetcher is closed")
        if self._given_transport is not None:
            return self._given_transport
        try:
            return make_transport(self.policy)
        except Exception as exc:  # a missing CA bundle, say: no request can be sent at all
            raise FetchError(f"cannot set up the HTTP client: {exc!r}") from exc

    @functools.cached_property
    def _exchange(self) -> Callable[[httpx.URL, dict[str, str]], Awaitable[_Reply]]:
        """Send one GET and return its reply: straight through the aiohttp transport, which
        answers without httpx's request and response objects (their headers, URL and stream
        cost more CPU than aiohttp's own work for a 304 answer), or through any httpx one."""
        transport = self._transport
        timeouts = self._timeouts
        direct = getattr(transport, "get_reply", None)
        if direct is not None:
            return functools.partial(direct, timeouts=timeouts)

        async def through_httpx(url: httpx.URL, headers: dict[str, str]) -> _Reply:
            request = httpx.Request("GET", url, headers=headers, extensions={"timeout": timeouts})
            response = await transport.handle_async_request(request)
            response.request = request
            return _httpx_reply(response)

        return through_httpx

    # ----------------------------------------------------------------- public entry point

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        trusted: bool = True,
        ignore_robots: bool = False,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url`` under the policy; a 304 answer gives ``not_modified=True``.

        ``trusted=False`` (URLs found in fetched content) adds the private-address check that
        every redirect target gets anyway. Raises FetchError / BlockedURLError, nothing else.
        """
        if self._closed:
            raise FetchError("the fetcher is closed")
        started = time.monotonic()
        p = self.policy
        sent = {
            "User-Agent": p.user_agent,
            "Accept": accept or DEFAULT_ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        for name, value in (headers or {}).items():
            if name.lower() not in _RESERVED_HEADERS:
                sent[name] = value
        if (etag := _header_safe(etag)) is not None:
            sent["If-None-Match"] = etag
        if (last_modified := _header_safe(last_modified)) is not None:
            sent["If-Modified-Since"] = last_modified
        first = _parse_url(url, cache=trusted)
        if first.userinfo:  # user:password@ in a configured URL: HTTP Basic, never in the URL
            if not any(name.lower() == "authorization" for name in sent):
                username, password = first.username, first.password or ""  # already decoded
                token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
                sent["Authorization"] = f"Basic {token}"
            first = first.copy_with(username=None, password=None)
        response, permanent = await self._follow(
            first,
            sent,
            trusted=trusted,
            check_robots=p.respect_robots and not ignore_robots,
            max_redirects=p.max_redirects,
            max_bytes=p.max_body,
            timeout=p.total_timeout,
            retries=p.retries,
            truncate=False,
        )
        status = response.status
        where = "" if response.url == first else f" (at {response.url})"
        if status == 304 or 200 <= status < 300:
            return FetchResult(
                url=str(response.url),
                status=status,
                content=response.content if status != 304 else b"",
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag") or (etag if status == 304 else None),
                last_modified=response.headers.get("last-modified")
                or (last_modified if status == 304 else None),
                not_modified=status == 304,
                permanent_redirect=permanent,
                headers=response.headers,
                elapsed=time.monotonic() - started,
            )
        if status in _REDIRECTS:
            raise FetchError(
                f"{_status_text(status)} without a Location header{where}", status=status
            )
        if status == 410:
            raise FetchError(f"HTTP 410 Gone: the source was removed{where}", status=status)
        transient = status >= 500 and status != 501
        raise FetchError(f"{_status_text(status)}{where}", status=status, transient=transient)

    # ----------------------------------------------------------------- redirects

    async def _follow(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        *,
        trusted: bool,
        check_robots: bool,
        max_redirects: int,
        max_bytes: int,
        timeout: float,
        retries: int,
        truncate: bool,
    ) -> tuple[_Response, str | None]:
        """Follow redirects by hand, checking each hop; the final response and any permanent
        redirect of the first URL (the end of the leading run of 301/308 hops)."""
        chain = [url]
        visited: set[tuple[str, str | None]] = set()  # (URL, cookies sent): a repeat is a loop
        permanent: str | None = None
        still_permanent = True
        jar: httpx.Cookies | None = None  # cookies live for one redirect chain only
        for hop in range(max_redirects + 1):
            pin = None
            checked = (hop > 0 or not trusted) and not self.policy.allow_private_addresses
            if checked:
                pin = await self._check_url(url)
            if check_robots:  # robots.txt lives on the same host: it gets the same check
                await self._check_robots(url, trusted=not checked)
            hop_headers = dict(headers)
            cookie = self._cookie_header(jar, url)
            if cookie:
                hop_headers["Cookie"] = cookie
            visited.add((str(url), cookie))
            response = await self._get(
                url, hop_headers, pin=pin, max_bytes=max_bytes, timeout=timeout, retries=retries,
                truncate=truncate,
            )  # fmt: skip
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or not location:
                return response, permanent
            jar = jar if jar is not None else httpx.Cookies()  # made at the first redirect
            jar.extract_cookies(
                httpx.Response(
                    response.status,
                    headers=response.lines,
                    request=httpx.Request("GET", url),
                )
            )
            target = _parse_url(location.strip(), base=url)
            if response.status in _PERMANENT_REDIRECTS and still_permanent:
                permanent = str(target)
            else:
                still_permanent = False
            # Coming back with new cookies is how consent walls work; with the same, a loop.
            if (str(target), self._cookie_header(jar, target)) in visited:
                path = " -> ".join(str(u) for u in [*chain, target])
                raise FetchError(f"redirect loop: {path}", status=response.status)
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
            chain.append(target)
            url = target
        raise FetchError(
            f"too many redirects (more than {max_redirects}): {chain[0]} -> ... -> {chain[-1]}"
        )

    @staticmethod
    def _cookie_header(jar: httpx.Cookies | None, url: httpx.URL) -> str | None:
        if not jar:
            return None
        probe = httpx.Request("GET", url)
        jar.set_cookie_header(probe)
        cookie: str | None = probe.headers.get("cookie")
        return cookie

    async def _check_url(self, url: httpx.URL) -> str | None:
        """Refuse ``url`` unless its host resolves to public addresses only.

        Returns the checked address to connect to for plain http (defeats DNS rebinding), or
        None for https, where the certificate check already ties the connection to the name.
        """
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await _resolve(url.host, port, self.policy.connect_timeout)
        for address in addresses:
            try:
                check_public_address(address)
            except BlockedURLError as exc:
                kind = str(exc).rsplit(" is ", 1)[-1]  # "a loopback address"
                literal = _is_ip(url.host)
                what = f"{url.host} is" if literal else f"{url.host} resolves to {address},"
                raise BlockedURLError(f"refused {url}: {what} {kind}") from None
        return addresses[0] if url.scheme == "http" else None

    # ----------------------------------------------------------------- retries

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of ``backoff * 2**attempt``."""
        base = self.policy.backoff * (2**attempt)
        return random.uniform(base / 2, base)

    async def _get(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        *,
        pin: str | None,
        max_bytes: int,
        timeout: float,
        retries: int,
        truncate: bool,
    ) -> _Response:
        """One hop, retried for transient failures; any final status is returned, not raised."""
        p = self.policy
        for attempt in range(retries + 1):
            last = attempt == retries
            suffix = f" (gave up after {attempt + 1} attempts)" if attempt else ""
            try:
                response = await self._send(
                    url, headers, pin=pin, max_bytes=max_bytes, timeout=timeout, truncate=truncate
                )
            except BlockedURLError:
                raise
            except FetchError as exc:
                if not exc.transient or last or exc.retry_after is not None:
                    if suffix and exc.args:
                        exc.args = (f"{exc.args[0]}{suffix}",)
                    raise
                await asyncio.sleep(self._backoff(attempt))
                continue
            status = response.status
            if status in _RETRY_AFTER_STATUSES:
                wait = parse_retry_after(response.headers.get("retry-after"))
                gate = self._gate(url.host)
                if wait is not None and wait > p.max_retry_after:
                    if status == 429:  # rate limiting is about this client: pause the whole host
                        now = time.monotonic()
                        gate.blocked_until = max(gate.blocked_until, now + wait)
                        gate.blocked_status = status
                    # a 503 speaks for this URL: its source backs off, the host's others go on
                    raise FetchError(
                        f"{_status_text(status)}: the server asks to wait {wait:.0f} s",
                        status=status,
                        retry_after=wait,
                        transient=True,
                    )
                if last:
                    raise FetchError(
                        f"{_status_text(status)}{suffix}",
                        status=status,
                        retry_after=wait,
                        transient=True,
                    )
                delay = wait if wait is not None else self._backoff(attempt)
                gate.next_start = max(gate.next_start, time.monotonic() + delay)  # whole host
                await asyncio.sleep(delay)
                continue
            if status >= 500 and status != 501 and not last:
                await asyncio.sleep(self._backoff(attempt))
                continue
            if status >= 500 and suffix:
                raise FetchError(f"{_status_text(status)}{suffix}", status=status, transient=True)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------------- one request

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            if len(self._gates) >= _CACHE_SIZE:
                now = time.monotonic()
                for key in [k for k, g in self._gates.items() if g.idle(now)]:
                    del self._gates[key]
            gate = self._gates[host] = _HostGate(self.policy.per_host, self.policy.min_delay)
        return gate

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Wait for this host's budget (in flight and start delay), then for a global slot.

        The host slot is taken first so that callers queued behind one busy host never hold
        global slots; the start time is reserved only once the global slot is held, so two
        requests to one host never start closer than the delay.
        """
        gate = self._gate(host)
        gate.users += 1
        try:
            async with gate.sem:
                while True:
                    wait = gate.next_start - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                        continue
                    await self._global.acquire()
                    now = time.monotonic()
                    if now >= gate.next_start:
                        gate.next_start = now + gate.delay
                        break
                    self._global.release()  # someone moved the start time meanwhile
                try:
                    yield
                finally:
                    self._global.release()
        finally:
            gate.users -= 1

    async def _send(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        *,
        pin: str | None,
        max_bytes: int,
        timeout: float,
        truncate: bool,
    ) -> _Response:
        """One attempt: request and body under the total deadline, errors as FetchError."""
        target = url
        if pin is not None:
            target = url.copy_with(host=pin)
            headers = {**headers, "Host": _host_header(url)}
        deadline = asyncio.timeout(timeout)
        async with self._slot(url.host):
            gate = self._gate(url.host)
            remaining = gate.blocked_until - time.monotonic()
            if remaining > 0:  # the host asked for a long pause (Retry-After): honour it
                status = gate.blocked_status or 503
                raise FetchError(
                    f"{_status_text(status)}: the server asked to wait; {remaining:.0f} s left",
                    status=status,
                    retry_after=remaining,
                    transient=True,
                )
            try:
                async with deadline:
                    reply = await self._exchange(target, headers)
                    try:
                        status = reply.status
                        joined = _joined(reply.lines)
                        content = b""
                        if 200 <= status < 300 and status != 204:
                            content = await _read_body(reply, joined, max_bytes, truncate=truncate)
                    finally:
                        await reply.close()
            except FetchError:
                raise
            except TimeoutError as exc:
                if deadline.expired():
                    raise FetchError(
                        f"timed out: the whole request took longer than {timeout:g} s",
                        transient=True,
                    ) from None
                raise _network_error(exc, url, self.policy) from exc
            except Exception as exc:  # every transport failure becomes a FetchError
                raise _network_error(exc, url, self.policy) from exc
        return _Response(url=url, status=status, headers=joined, content=content, lines=reply.lines)

    # ----------------------------------------------------------------- robots.txt

    async def _check_robots(self, url: httpx.URL, *, trusted: bool) -> None:
        """Raise BlockedURLError if robots.txt disallows ``url``; apply its Crawl-delay."""
        robots = await self._robots(url, trusted=trusted)
        p = self.policy
        crawl_delay = min(robots.crawl_delay or 0.0, p.max_crawl_delay)
        self._gate(url.host).delay = max(p.min_delay, crawl_delay)
        if robots.parser is not None and not robots.parser.can_fetch(
            self.policy.user_agent, str(url)
        ):
            raise BlockedURLError(f"disallowed by robots.txt: {url}")

    async def _robots(self, url: httpx.URL, *, trusted: bool) -> _Robots:
        key = _origin(url)
        entry = self._robots_cache.get(key)
        if entry is not None and entry.expires > time.monotonic():
            self._robots_cache.move_to_end(key)
            return entry
        task = self._robots_tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load_robots(url, trusted=trusted))
            self._robots_tasks[key] = task
            task.add_done_callback(lambda _t: self._robots_tasks.pop(key, None))
        # shielded: one caller's cancellation must not cancel the load others wait for
        return await asyncio.shield(task)

    async def _load_robots(self, url: httpx.URL, *, trusted: bool) -> _Robots:
        """Fetch and parse robots.txt for the origin of ``url``; store it in the cache.

        A 2xx is parsed (only its first ``robots_max_bytes``, as RFC 9309 allows); 4xx means
        allow all (RFC 9309). Unlike RFC 9309, an unreachable robots.txt (5xx, timeout, network
        error, too many redirects) also means allow all, cached for 10 minutes only: a news
        monitor should not stop polling a site whose robots.txt is broken.
        """
        p = self.policy
        now = time.monotonic()
        robots_url = url.copy_with(path="/robots.txt", query=None, fragment=None)
        headers = {
            "User-Agent": p.user_agent,
            "Accept": "text/plain, */*;q=0.5",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        entry = _Robots(None, None, now + min(p.robots_ttl, _ERROR_ROBOTS_TTL))
        try:
            response, _ = await self._follow(
                robots_url,
                headers,
                trusted=trusted,
                check_robots=False,
                max_redirects=5,
                max_bytes=p.robots_max_bytes,
                timeout=min(p.robots_timeout, p.total_timeout),
                retries=0,
                truncate=True,
            )
        except FetchError:
            pass
        else:
            if 200 <= response.status < 300:
                cut = len(response.content) >= p.robots_max_bytes
                entry = _parse_robots(response.content, p.user_agent, now + p.robots_ttl, cut=cut)
            elif 400 <= response.status < 500 and response.status != 429:
                entry = _Robots(None, None, now + p.robots_ttl)
        self._robots_cache[_origin(url)] = entry
        self._robots_cache.move_to_end(_origin(url))
        while len(self._robots_cache) > _CACHE_SIZE:
            self._robots_cache.popitem(last=False)
        return entry


def _parse_robots(content: bytes, user_agent: str, expires: float, *, cut: bool) -> _Robots:
    """Parse robots.txt bytes; of a ``cut`` prefix, the last (partial) line is dropped."""
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if cut and lines:
        lines = lines[:-1]
    parser = RobotFileParser()
    parser.parse(lines)
    delay = parser.crawl_delay(user_agent)
    return _Robots(parser, float(delay) if delay else None, expires)
