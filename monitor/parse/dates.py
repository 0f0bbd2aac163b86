"""Parse the dates that feeds, sitemaps and web pages print, into timezone-aware UTC datetimes.

Handles RFC 822/2822 (with named zones such as EST or EAT), ISO 8601 / W3C datetime, Unix
timestamps, and written dates in English, French, Spanish, Haitian Creole and Swahili
("March 5, 2024", "mar., 05 mars 2024 10:00:00 +0100", "lundi 5 mars 2024 à 10h30",
"05 de marzo de 2024", "5 Machi 2024"). A date without a zone is taken as UTC. Numeric dates
are read day first (as in Haiti, Kenya and Latin America) unless that is impossible. What
cannot be read gives None, never the current time, so an undated item is never mistaken for
a fresh one.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

MIN_YEAR = 1900
MAX_YEAR = 2200

_MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    (
        "january jan janvier janv enero ene januari janvye",
        "february feb febr fevrier fevr fev febrero februari fevriye",
        "march mar mars marzo machi mas",
        "april apr avril avr abril abr aprili",
        "may mai mayo mei me",
        "june jun juin junio juni jen",
        "july jul juillet juil julio julai jiye",
        "august aug aout agosto ago agosti out",
        "september sep sept septembre septiembre setiembre set septemba septanm",
        "october oct octobre octubre octoba oktob",
        "november nov novembre noviembre novemba novanm",
        "december dec decembre diciembre dic desemba desanm",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _num)

# Zone names seen in feeds. Ambiguous ones take their most common meaning in news feeds.
_ZONES: dict[str, int] = {
    "ut": 0,
    "utc": 0,
    "gmt": 0,
    "z": 0,
    "wet": 0,
    "est": -300,
    "edt": -240,
    "cst": -360,
    "cdt": -300,
    "mst": -420,
    "mdt": -360,
    "pst": -480,
    "pdt": -420,
    "akst": -540,
    "akdt": -480,
    "hst": -600,
    "ast": -240,
    "adt": -180,
    "bst": 60,
    "cet": 60,
    "cest": 120,
    "met": 60,
    "mest": 120,
    "west": 60,
    "wat": 60,
    "eet": 120,
    "eest": 180,
    "cat": 120,
    "sast": 120,
    "eat": 180,
    "msk": 180,
    "ist": 330,
    "pkt": 300,
    "ict": 420,
    "sgt": 480,
    "hkt": 480,
    "jst": 540,
    "kst": 540,
    "aest": 600,
    "aedt": 660,
    "acst": 570,
    "awst": 480,
    "nzst": 720,
    "nzdt": 780,
}

_ISO = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_YEAR_MONTH = re.compile(r"(\d{4})(?:-(\d{2}))?")
_EPOCH = re.compile(r"\d{9,13}(?:\.\d+)?")
# day [of|de] month [de|del] year — "5 mars 2024", "05 de marzo de 2024", "5th of March 2024"
_DMY = re.compile(
    r"(?<![\d:])(\d{1,2})(?:er|st|nd|rd|th|o|º)?\.?\s*(?:de\s+|of\s+)?([a-z]{2,10})\.?,?\s*"
    r"(?:de\s+|del\s+)?(\d{4}|\d{2})(?![\d:])"
)
# month day, year — "March 5, 2024", "Mar 5th 2024"
_MDY = re.compile(r"\b([a-z]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")
_NUM_YMD = re.compile(r"(?<!\d)(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?!\d)")
_NUM_DMY = re.compile(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?![\d/.-])")
_TIME = re.compile(
    r"(?<![\d.:])(\d{1,2})\s*(?::|h|H)\s*(\d{2})(?:\s*(?::|m|min)\s*(\d{2}))?(?:[.,]\d+)?"
    r"(?:\s*(a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z]))?"
    r"|(?<![\d.:])(\d{1,2})\s*(a\.?m\.?|p\.?m\.?|h)(?![a-z0-9])",
)
_ZONE = re.compile(
    r"\s*\(?\s*(?:(?:utc|gmt)\s*)?([+-])\s?(\d{1,2})(?::?(\d{2}))?(?!\d)"
    r"|\s*\(?\s*([a-z]{1,5})\b"
)


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _year(raw: str) -> int:
    """Four-digit year as is; two digits pivot at 70 like RFC 2822 (70-99 -> 19xx)."""
    year = int(raw)
    if len(raw) <= 2:
        year += 1900 if year >= 70 else 2000
    return year


def _build(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    micro: int = 0,
    offset_minutes: int | None = 0,
) -> datetime | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        if second == 60:  # a leap second: keep the instant just before
            second = 59
        if hour == 24 and minute == 0 and second == 0:
            base = datetime(year, month, day) + timedelta(days=1)
            hour, year, month, day = 0, base.year, base.month, base.day
        tz = UTC if not offset_minutes else timezone(timedelta(minutes=offset_minutes))
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _parse_iso(text: str) -> datetime | None:
    m = _ISO.fullmatch(text)
    if m is None:
        m2 = _YEAR_MONTH.fullmatch(text)  # W3C allows "YYYY" and "YYYY-MM"
        if m2 is None:
            return None
        return _build(int(m2.group(1)), int(m2.group(2) or 1), 1)
    year, month, day, hour, minute, second, frac, zone = m.groups()
    offset = 0
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        if len(digits) not in (2, 4):
            return None
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))
        if abs(offset) >= 24 * 60:
            return None
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return _build(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        offset,
    )


def _parse_time_zone(text: str, start: int) -> tuple[int, int, int, int] | None:
    """Find a time of day at or after ``start`` (or anywhere) and the zone right after it.

    Returns (hour, minute, second, offset_minutes) or None when no valid time is present.
    """
    m = _TIME.search(text, start) or _TIME.search(text)
    if m is None:
        return None
    if m.group(1) is not None:
        hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        meridiem = m.group(4)
    else:
        hour, minute, second = int(m.group(5)), 0, 0
        meridiem = None if m.group(6) == "h" else m.group(6)
    if meridiem:
        if hour > 12:
            return None
        pm = meridiem.startswith("p")
        hour = (hour % 12) + (12 if pm else 0)
    if hour > 24 or minute > 59 or second > 60:
        return None
    offset = 0
    z = _ZONE.match(text, m.end())
    if z is not None:
        if z.group(1):
            sign = -1 if z.group(1) == "-" else 1
            offset = sign * (int(z.group(2)) * 60 + int(z.group(3) or 0))
            if abs(offset) >= 24 * 60:
                offset = 0
        else:
            offset = _ZONES.get(z.group(4), 0)  # unknown words and military letters: UTC
    return hour, minute, second, offset


def _parse_written(text: str) -> datetime | None:
    """Dates with a month name, or numeric day/month/year, anywhere in ``text``."""
    year = month = day = None
    end = 0
    for m in _DMY.finditer(text):
        mon = _MONTHS.get(m.group(2))
        if mon:
            day, month, year, end = int(m.group(1)), mon, _year(m.group(3)), m.end()
            break
    if month is None:
        for m in _MDY.finditer(text):
            mon = _MONTHS.get(m.group(1))
            if mon:
                month, day, year, end = mon, int(m.group(2)), int(m.group(3)), m.end()
                break
    if month is None and (ymd := _NUM_YMD.search(text)):
        year, month, day, end = int(ymd.group(1)), int(ymd.group(2)), int(ymd.group(3)), ymd.end()
    if month is None and (dmy := _NUM_DMY.search(text)):
        a, b = int(dmy.group(1)), int(dmy.group(2))
        # Day first, as in Haiti, Kenya, Europe and Latin America, unless impossible.
        day, month = (b, a) if b > 12 >= a else (a, b)
        year, end = _year(dmy.group(3)), dmy.end()
    if year is None or month is None or day is None:
        return None
    found = _parse_time_zone(text, end)
    if found is None:
        return _build(year, month, day)
    hour, minute, second, offset = found
    return _build(year, month, day, hour, minute, second, 0, offset)


def _parse_epoch(text: str) -> datetime | None:
    value = float(text)
    if len(text.split(".")[0]) == 13:
        value /= 1000.0
    try:
        result = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return result if MIN_YEAR <= result.year <= MAX_YEAR else None


def parse_date(text: str | None, *, fmt: str | None = None) -> datetime | None:
    """Parse ``text`` into a timezone-aware UTC datetime, or None when it holds no date.

    ``fmt`` is an optional :func:`datetime.strptime` format tried first (listing pages can
    configure one); if it fails the generic readers still run.
    """
    if not text:
        return None
    text = text.strip()
    if not text or len(text) > 300 or _DIGIT.search(text) is None:
        return None
    if fmt:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            if MIN_YEAR <= parsed.year <= MAX_YEAR:
                return parsed.astimezone(UTC)
    if text[0].isdigit():
        try:
            iso = datetime.fromisoformat(text)  # C speed for the common W3C dates of Atom
        except ValueError:
            pass
        else:
            if MIN_YEAR <= iso.year <= MAX_YEAR and len(text) >= 10:
                return (iso if iso.tzinfo else iso.replace(tzinfo=UTC)).astimezone(UTC)
        result = _parse_iso(text)
        if result is not None:
            return result
        if _EPOCH.fullmatch(text):
            return _parse_epoch(text)
    rfc = _RFC822.fullmatch(text)
    if rfc is not None and (month := _MONTHS.get(rfc.group(2).lower())):
        return _parse_rfc822(rfc, month)
    normalized = _strip_accents(text).lower()
    return _parse_written(normalized)


# The canonical RSS pubDate, "Tue, 05 Mar 2024 10:00:00 +0000", read without the generic scan.
_RFC822 = re.compile(
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2})(?::(\d{2}))?"
    r" (?:([+-])(\d{2})(\d{2})|GMT|UTC?|Z)"
)


def _parse_rfc822(m: re.Match[str], month: int) -> datetime | None:
    offset = 0
    if m.group(7):
        offset = int(m.group(8)) * 60 + int(m.group(9))
        offset = -offset if m.group(7) == "-" else offset
        if offset >= 24 * 60 or offset <= -24 * 60:
            return None
    return _build(
        int(m.group(3)),
        month,
        int(m.group(1)),
        int(m.group(4)),
        int(m.group(5)),
        int(m.group(6) or 0),
        0,
        offset,
    )
