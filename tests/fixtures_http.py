"""The ``hostile_server`` pytest fixture: a fresh :class:`HostileServer` per test.

Import it into ``tests/conftest.py`` to share it::

    from tests.fixtures_http import hostile_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile_server import HostileServer


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A running server on 127.0.0.1; stopped, with every thread joined, after the test."""
    server = HostileServer().start()
    try:
        yield server
    finally:
        alive = server.stop()
    assert not alive, f"hostile server threads still running: {alive}"
    assert not server.errors, f"hostile server handler errors: {server.errors}"
