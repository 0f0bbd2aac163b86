"""A small raw-socket HTTP/1.1 test server that misbehaves in every way a client must survive.

It listens on 127.0.0.1 on a free port, serves each connection in its own thread, and answers
from a route table (exact path, query ignored) of handlers. A handler gets the parsed
:class:`Request` and a :class:`Conn` to write raw bytes, so it can send anything: correct
responses, lies about Content-Length, bodies that never end, bytes one at a time. The builders at
the bottom of this module cover the usual cases (normal responses, 304 logic, Retry-After,
redirects, endless and bomb bodies, truncation, slow headers...).

The server counts requests per path, records each request's headers and arrival time, and tracks
how many requests per path were being handled at once. Every loop is bounded and every wait
watches the stop event, so :meth:`HostileServer.stop` ends all threads within a second or so.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

import brotli

_MAX_HEAD = 64 * 1024
_MAX_REQUESTS_PER_CONN = 1000
_IDLE_LIMIT = 15.0  # seconds an idle keep-alive connection is kept
_CHUNK = 64 * 1024


class ClientGone(Exception):
    """The client closed the connection (or the server is stopping) while we were writing."""


@dataclass(frozen=True)
class Request:
    """One parsed request line and its headers (names lower-cased)."""

    method: str
    target: str
    path: str
    headers: dict[str, str]
    received_at: float  # time.monotonic() when the head was complete
    index: int  # 0 for the first request to this path, 1 for the next, ...


class Conn:
    """The connection a handler writes to; every write and wait honours the stop event."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop
        self.keep_alive = True

    def write(self, data: bytes) -> None:
        if self.stop.is_set():
            raise ClientGone("server stopping")
        try:
            self.sock.sendall(data)
        except OSError as exc:  # BrokenPipe, ConnectionReset, closed by stop()
            raise ClientGone(str(exc)) from None

    def wait(self, seconds: float) -> None:
        """Sleep, but give up at once when the server stops."""
        if self.stop.wait(seconds):
            raise ClientGone("server stopping")

    def send_head(
        self, status: int, headers: Iterable[tuple[str, str]] = (), reason: str = "X"
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        reason: str = "X",
    ) -> None:
        """A complete, well-formed response with a correct Content-Length."""
        hdrs = list(headers)
        if not any(k.lower() == "content-length" for k, _ in hdrs) and status != 304:
            hdrs.append(("Content-Length", str(len(body))))
        self.send_head(status, hdrs, reason)
        if body and status != 304:
            self.write(body)

    def close_after(self) -> None:
        """Close the connection once the handler returns (no keep-alive)."""
        self.keep_alive = False


Handler = Callable[[Request, Conn], None]


@dataclass
class _Stats:
    hits: Counter[str] = field(default_factory=Counter)
    requests: list[Request] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)


class HostileServer:
    """The server; use as a context manager or call :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self._stats = _Stats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self.errors: list[str] = []  # handler exceptions other than ClientGone

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> HostileServer:
        thread = threading.Thread(target=self._accept_loop, name="hostile-accept", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> list[threading.Thread]:
        """Stop and join every thread; returns the threads still alive (should be none)."""
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in self._threads if t.is_alive()]

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ test API

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def hits(self, path: str) -> int:
        """How many requests for ``path`` arrived."""
        with self._lock:
            return self._stats.hits[path]

    def requests(self, path: str | None = None) -> list[Request]:
        """The requests received (for ``path`` only, if given), oldest first."""
        with self._lock:
            return [r for r in self._stats.requests if path is None or r.path == path]

    def max_in_flight(self, path: str) -> int:
        """The most requests for ``path`` handled at the same moment."""
        with self._lock:
            return self._stats.max_in_flight[path]

    # ------------------------------------------------------------------ internals

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            sock.settimeout(0.05)
            with self._lock:
                if self._stop.is_set():
                    sock.close()
                    return
                self._conns.add(sock)
                self._threads = [t for t in self._threads if t.is_alive()]
                thread = threading.Thread(
                    target=self._serve, args=(sock,), name="hostile-conn", daemon=True
                )
                self._threads.append(thread)
            thread.start()

    def _read_head(self, sock: socket.socket, buf: bytearray) -> bytes | None:
        """The next request head, or None when the client went away or stayed idle too long."""
        idle_since = time.monotonic()
        while b"\r\n\r\n" not in buf:
            if self._stop.is_set() or len(buf) > _MAX_HEAD:
                return None
            if time.monotonic() - idle_since > _IDLE_LIMIT:
                return None
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not data:
                return None
            buf += data
        end = buf.index(b"\r\n\r\n") + 4
        head = bytes(buf[:end])
        del buf[:end]
        return head

    def _serve(self, sock: socket.socket) -> None:
        buf = bytearray()
        conn = Conn(sock, self._stop)
        try:
            for _ in range(_MAX_REQUESTS_PER_CONN):
                head = self._read_head(sock, buf)
                if head is None:
                    return
                request = self._parse(head)
                if request is None:
                    conn.send(400, b"bad request", [("Connection", "close")])
                    return
                handler = self.routes.get(request.path, _not_found)
                with self._lock:
                    self._stats.in_flight[request.path] += 1
                    self._stats.max_in_flight[request.path] = max(
                        self._stats.max_in_flight[request.path],
                        self._stats.in_flight[request.path],
                    )
                try:
                    handler(request, conn)
                except ClientGone:
                    return
                except Exception as exc:  # a bug in a test handler: record it, drop the conn
                    self.errors.append(f"{request.path}: {type(exc).__name__}: {exc}")
                    return
                finally:
                    with self._lock:
                        self._stats.in_flight[request.path] -= 1
                if not conn.keep_alive or request.headers.get("connection") == "close":
                    return
        finally:
            with self._lock:
                self._conns.discard(sock)
            sock.close()

    def _parse(self, head: bytes) -> Request | None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        method, target, _version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        path = target.split("?", 1)[0]
        with self._lock:
            index = self._stats.hits[path]
            self._stats.hits[path] += 1
            request = Request(method, target, path, headers, time.monotonic(), index)
            self._stats.requests.append(request)
        return request


# ---------------------------------------------------------------------- handler builders


def _not_found(request: Request, conn: Conn) -> None:
    conn.send(404, b"not found", [("Content-Type", "text/plain")])


def respond(
    body: bytes = b"",
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
    *,
    encoding: str | None = None,
    content_type: str = "application/rss+xml",
) -> Handler:
    """A fixed, well-formed response; ``encoding`` 'gzip', 'deflate' or 'br' compresses it."""
    payload = body
    hdrs = [("Content-Type", content_type), *headers]
    if encoding == "gzip":
        payload = gzip.compress(body)
    elif encoding == "deflate":
        payload = zlib.compress(body)
    elif encoding == "br":
        payload = brotli.compress(body)
    if encoding:
        hdrs.append(("Content-Encoding", encoding))

    def handler(request: Request, conn: Conn) -> None:
        conn.send(status, payload, hdrs)

    return handler


def conditional(
    body: bytes, *, etag: str | None = None, last_modified: str | None = None
) -> Handler:
    """200 with validators, or 304 when the request's If-None-Match / If-Modified-Since match."""
    hdrs = [("Content-Type", "application/rss+xml")]
    if etag:
        hdrs.append(("ETag", etag))
    if last_modified:
        hdrs.append(("Last-Modified", last_modified))

    def handler(request: Request, conn: Conn) -> None:
        inm = request.headers.get("if-none-match")
        ims = request.headers.get("if-modified-since")
        if (etag and inm == etag) or (not inm and last_modified and ims == last_modified):
            conn.send(304, b"", hdrs)
        else:
            conn.send(200, body, hdrs)

    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request to the path gets ``handlers[n]`` (the last one repeats)."""

    def handler(request: Request, conn: Conn) -> None:
        handlers[min(request.index, len(handlers) - 1)](request, conn)

    return handler


def status(code: int, headers: Iterable[tuple[str, str]] = ()) -> Handler:
    """An error status with a short text body."""
    return respond(f"status {code}".encode(), code, headers, content_type="text/plain")


def robots_txt(text: str) -> Handler:
    """A robots.txt with the given rules (route it at ``/robots.txt``)."""
    return respond(text.encode(), content_type="text/plain")


def retry_after(value: str, code: int = 503) -> Handler:
    return status(code, [("Retry-After", value)])


def redirect(location: str, code: int = 302) -> Handler:
    return status(code, [("Location", location)])


def delayed(seconds: float, then: Handler) -> Handler:
    """Wait before answering at all (slow headers)."""

    def handler(request: Request, conn: Conn) -> None:
        conn.wait(seconds)
        then(request, conn)

    return handler


def drip(body: bytes, interval: float = 1.0) -> Handler:
    """Send the headers at once, then the body one byte every ``interval`` seconds."""

    def handler(request: Request, conn: Conn) -> None:
        conn.send_head(200, [("Content-Length", str(len(body))), ("Content-Type", "text/xml")])
        for i in range(len(body)):
            conn.write(body[i : i + 1])
            conn.wait(interval)
        conn.close_after()

    return handler


def endless(
    size: int,
    *,
    declare_length: bool = True,
    fill: bytes = b"<x/>",
    prefix: bytes = b"",
    content_type: str = "text/plain",
) -> Handler:
    """A body of ``size`` bytes (``prefix`` then ``fill`` repeated) generated in 64 KB pieces,
    never stored; without a declared length it is close-delimited."""
    piece = (fill * (_CHUNK // len(fill) + 1))[:_CHUNK]

    def handler(request: Request, conn: Conn) -> None:
        hdrs = [("Content-Type", content_type)]
        hdrs.append(("Content-Length", str(size)) if declare_length else ("Connection", "close"))
        conn.send_head(200, hdrs)
        conn.close_after()
        conn.write(prefix)
        sent = len(prefix)
        while sent < size:
            n = min(_CHUNK, size - sent)
            conn.write(piece[:n])
            sent += n

    return handler


def gzip_bomb(size: int = 10 * 1024**3) -> Handler:
    """gzip of ``size`` zero bytes (10 GB by default), compressed on the fly, close-delimited."""

    def handler(request: Request, conn: Conn) -> None:
        conn.send_head(
            200,
            [
                ("Content-Type", "application/xml"),
                ("Content-Encoding", "gzip"),
                ("Connection", "close"),
            ],
        )
        conn.close_after()
        zeros = bytes(1024 * 1024)
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        for _ in range(size // len(zeros)):
            out = compressor.compress(zeros)
            if out:
                conn.write(out)
        conn.write(compressor.flush())

    return handler


def truncated_gzip(body: bytes, keep: float = 0.5) -> Handler:
    """A gzip body cut to ``keep`` of its length, with a Content-Length matching what is sent."""
    data = gzip.compress(body)
    data = data[: int(len(data) * keep)]
    return respond_raw(data, [("Content-Encoding", "gzip"), ("Content-Type", "text/xml")])


def respond_raw(data: bytes, headers: Iterable[tuple[str, str]] = ()) -> Handler:
    """Send ``data`` as the body exactly as given (with a correct Content-Length)."""
    hdrs = list(headers)

    def handler(request: Request, conn: Conn) -> None:
        conn.send(200, data, hdrs)

    return handler


def wrong_length(body: bytes, claimed: int) -> Handler:
    """Claim ``claimed`` bytes, send ``body`` (shorter), then close."""

    def handler(request: Request, conn: Conn) -> None:
        conn.send_head(200, [("Content-Length", str(claimed)), ("Content-Type", "text/xml")])
        conn.write(body)
        conn.close_after()

    return handler


def close_mid_body(body: bytes, chunks: int = 3) -> Handler:
    """Chunked transfer: send a few chunks of ``body`` and close without the final chunk."""

    def handler(request: Request, conn: Conn) -> None:
        conn.send_head(200, [("Transfer-Encoding", "chunked"), ("Content-Type", "text/xml")])
        for _ in range(chunks):
            conn.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
        conn.close_after()

    return handler
