"""Date parsing (monitor/parse/dates.py): formats seen in feeds and pages, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.parse.dates import parse_date


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 822 / 2822
        ("Tue, 05 Mar 2024 10:00:00 GMT", _utc(2024, 3, 5, 10)),
        ("Tue, 05 Mar 2024 10:00:00 +0100", _utc(2024, 3, 5, 9)),
        ("Tue, 5 Mar 2024 10:00 -0500", _utc(2024, 3, 5, 15)),
        ("Tue, 5 Mar 24 10:00:00 -0500 (EST)", _utc(2024, 3, 5, 15)),
        ("Sat, 09 Mar 2024 09:15:00 EST", _utc(2024, 3, 9, 14, 15)),
        ("Mon, 04 Mar 2024 18:45:00 EAT", _utc(2024, 3, 4, 15, 45)),
        ("Mon, 04 Mar 2024 18:45:00 UT", _utc(2024, 3, 4, 18, 45)),
        ("Wed, 06 Mar 2024 10:00:00 GMT+3", _utc(2024, 3, 6, 7)),
        ("Mon, 32 Mar 2024 10:00:00 GMT", None),
        # ISO 8601 / W3C
        ("2024-03-05T10:00:00Z", _utc(2024, 3, 5, 10)),
        ("2024-03-05T10:00:00+01:00", _utc(2024, 3, 5, 9)),
        ("2024-03-05T10:00:00.123456789-04:00", _utc(2024, 3, 5, 14, 0, 0, 123456)),
        ("2024-03-05T10:00+05:30", _utc(2024, 3, 5, 4, 30)),
        ("2024-03-05 10:00:00", _utc(2024, 3, 5, 10)),
        ("2024-03-05 10:00:00 EST", _utc(2024, 3, 5, 15)),
        ("2024-03-05", _utc(2024, 3, 5)),
        ("2024-03", _utc(2024, 3, 1)),
        ("20240305T101500Z", _utc(2024, 3, 5, 10, 15)),
        ("2024-02-30", None),
        ("0000-00-00 00:00:00", None),
        # French (Haitian outlets), Spanish, Creole, Swahili
        ("mar., 05 mars 2024 10:00:00 +0100", _utc(2024, 3, 5, 9)),
        ("5 mars 2024", _utc(2024, 3, 5)),
        ("lundi 5 mars 2024 à 10h30", _utc(2024, 3, 5, 10, 30)),
        ("Publié le 1er févr. 2024 à 8h", _utc(2024, 2, 1, 8)),
        ("13 août 2024", _utc(2024, 8, 13)),
        ("05 de marzo de 2024", _utc(2024, 3, 5)),
        ("martes, 25 de junio de 2024 18:30:00 -0400", _utc(2024, 6, 25, 22, 30)),
        ("martes, 5 de marzo de 2024 a las 10:30", _utc(2024, 3, 5, 10, 30)),
        ("dom, 23 jun 2024 21:00:00 -0400", _utc(2024, 6, 24, 1)),
        ("12 desanm 2024", _utc(2024, 12, 12)),
        ("5 Machi 2024", _utc(2024, 3, 5)),
        # English written dates
        ("March 5, 2024", _utc(2024, 3, 5)),
        ("Mar 5th 2024 3:15 pm EAT", _utc(2024, 3, 5, 12, 15)),
        ("5th of March, 2024", _utc(2024, 3, 5)),
        ("10:00 AM, March 5, 2024", _utc(2024, 3, 5, 10)),
        ("Updated: June 26, 2024 | 12:30 pm", _utc(2024, 6, 26, 12, 30)),
        ("Nov. 16, 2023", _utc(2023, 11, 16)),
        # numeric, day first unless impossible
        ("05/03/2024 14:00", _utc(2024, 3, 5, 14)),
        ("3/25/2024", _utc(2024, 3, 25)),
        ("2024/03/05", _utc(2024, 3, 5)),
        ("05.03.2024", _utc(2024, 3, 5)),
        # Unix timestamps (data-timestamp attributes)
        ("1709632800", _utc(2024, 3, 5, 10)),
        ("1709632800000", _utc(2024, 3, 5, 10)),
    ],
)
def test_formats(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "now", "today", "hier", "il y a 3 heures", "not a date at all", "Haiti"],
)
def test_undated_text_gives_none_never_now(text: str | None) -> None:
    assert parse_date(text) is None


def test_results_are_aware_utc() -> None:
    for text in ("2024-03-05T10:00:00+03:00", "5 mars 2024", "Tue, 05 Mar 2024 10:00:00 EST"):
        parsed = parse_date(text)
        assert parsed is not None
        assert parsed.tzinfo is UTC


def test_naive_times_are_utc() -> None:
    assert parse_date("2024-03-05T10:00:00") == _utc(2024, 3, 5, 10)
    assert parse_date("March 5, 2024 10:00") == _utc(2024, 3, 5, 10)


def test_strptime_format_is_tried_first() -> None:
    # Ambiguous numeric date: the configured format decides month-first.
    assert parse_date("03/05/2024", fmt="%m/%d/%Y") == _utc(2024, 3, 5)
    assert parse_date("03/05/2024") == _utc(2024, 5, 3)
    # A format that does not match falls back to the generic readers.
    assert parse_date("5 mars 2024", fmt="%Y-%m-%d") == _utc(2024, 3, 5)
    aware = parse_date("2024-03-05 10:00 +0300", fmt="%Y-%m-%d %H:%M %z")
    assert aware == _utc(2024, 3, 5, 7)


_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
_AWARE = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 12, 30),
    timezones=st.one_of(st.just(UTC), _OFFSETS),
)


@given(_AWARE)
@settings(max_examples=400)
def test_rfc822_round_trip(moment: datetime) -> None:
    assert parse_date(format_datetime(moment)) == moment.replace(microsecond=0)


@given(_AWARE)
@settings(max_examples=400)
def test_iso8601_round_trip(moment: datetime) -> None:
    assert parse_date(moment.isoformat()) == moment
    assert parse_date(moment.isoformat(timespec="seconds")) == moment.replace(microsecond=0)


@given(st.text(max_size=120))
@settings(max_examples=500)
def test_garbage_never_raises(text: str) -> None:
    parsed = parse_date(text)
    assert parsed is None or (parsed.tzinfo is UTC and 1900 <= parsed.year <= 2200)


@given(st.text(max_size=120).map(lambda s: "".join(c for c in s if not c.isdigit())))
@settings(max_examples=300)
def test_text_without_digits_is_none(text: str) -> None:
    assert parse_date(text) is None
