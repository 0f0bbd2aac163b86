"""Logs never show credentials; --log-format json gives one JSON object per line."""

from __future__ import annotations

import json
import logging

import pytest

from monitor.logs import JsonFormatter, RedactingFormatter, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("fetching https://alice:s3cret@feeds.example/rss", "s3cret"),
        ("postgresql+psycopg://monitor:hunter2@db/monitor", "hunter2"),
        ("headers {'Authorization': 'Bearer abc.def'}", "abc.def"),
        ("Cookie: session=xyz123", "xyz123"),
        ("api_key=K-998877 in query", "K-998877"),
        ("https://token@feeds.example/private", "token@"),
    ],
)
def test_credentials_are_redacted(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_plain_urls_are_left_alone() -> None:
    text = "poll haiti: ok http=200 items=20 https://feeds.example/rss?q=haiti&page=2"
    assert redact(text) == text


def record(message: str, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("monitor.poll", logging.INFO, __file__, 1, message, (), None)
    rec.fields = fields  # type: ignore[attr-defined]
    return rec


def test_json_lines_carry_the_fields_and_are_redacted() -> None:
    line = JsonFormatter().format(record("poll x: ok", source="x", items_new=3,
                                         url="https://u:pw@feeds.example/rss"))  # fmt: skip
    data = json.loads(line)
    assert data["level"] == "info" and data["message"] == "poll x: ok"
    assert data["source"] == "x" and data["items_new"] == 3
    assert "pw@" not in line


def test_text_lines_are_redacted() -> None:
    formatter = RedactingFormatter("%(message)s")
    assert (
        formatter.format(record("GET https://u:pw@feeds.example/rss"))
        == "GET https://***@feeds.example/rss"
    )
