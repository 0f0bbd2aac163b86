"""Text helpers shared by every parser: decoding bytes, cleaning text, stripping HTML, URLs.

Decoding follows the order browsers and feed readers use: a byte-order mark, then the HTTP
``Content-Type`` charset, then the XML prolog, then an HTML ``<meta>`` declaration, and only then
a guess (UTF-8 if the bytes are valid UTF-8, else charset-normalizer). ISO-8859-1 and US-ASCII
labels are read as windows-1252, as the WHATWG encoding standard prescribes, because servers
that say "latin-1" nearly always send Windows text with curly quotes in 0x80-0x9F.
"""

from __future__ import annotations

import codecs
import html
import re
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

TITLE_MAX = 1_000
SUMMARY_MAX = 5_000
CONTENT_MAX = 100_000
AUTHOR_MAX = 200
LANGUAGE_MAX = 35
URL_MAX = 4_096

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Labels that browsers decode as windows-1252 (WHATWG Encoding Standard).
_AS_CP1252 = frozenset({"ascii", "latin_1", "iso8859-1", "iso8859_1", "cp1252", "cp819"})

# Latin-script single-byte code pages: when charset-normalizer guesses one of these for text
# that is also valid windows-1252, windows-1252 is the likelier truth for English/French/Spanish.
_LATIN_GUESSES = frozenset(
    {
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "cp775",
        "cp850",
        "cp852",
        "cp858",
        "latin_1",
        "iso8859_2",
        "iso8859_3",
        "iso8859_4",
        "iso8859_9",
        "iso8859_10",
        "iso8859_13",
        "iso8859_14",
        "iso8859_15",
        "iso8859_16",
        "mac_latin2",
        "mac_roman",
        "mac_iceland",
    }
)

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([\w.:+-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([\w.:+-]+)\s*["']""")
_XML_DECL_TEXT = re.compile(r"""^\s*<\?xml[^>]*\?>""")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:+-]+)""", re.IGNORECASE
)  # matches both <meta charset="x"> and <meta http-equiv content="text/html; charset=x">

# C0 controls except \t \n \r, DEL, C1 controls, BOM and non-characters. C1 controls are almost
# always windows-1252 bytes that went through a latin-1 decoder, or numeric references such as
# &#146; in XML: they are mapped to the character the author meant; the rest are dropped.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff\ud800-\udfff]")
_ASCII_BAD = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_C1_MAP = {chr(b): bytes([b]).decode("cp1252", errors="ignore") for b in range(0x80, 0xA0)}

_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "svg", "head"]
_BLOCK_TAGS = (
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "dl",
    "hr",
    "aside",
    "nav",
    "form",
    "address",
    "td",
    "th",
)
# The start of a block tag: a paragraph mark goes before it so words either side stay apart.
_BLOCK_START = re.compile(r"<(?=/?(?:" + "|".join(_BLOCK_TAGS) + r")\b)", re.IGNORECASE)
_PARA = "\ue000"  # a private-use character marking paragraph breaks between parsing and output


def _codec(label: str | None) -> str | None:
    """Return the Python codec name for a charset label, or None when Python doesn't know it."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # "base64", "zlib", "rot13": codecs, but not character encodings
    name = info.name
    if name in _AS_CP1252 or name.replace("-", "_") in _AS_CP1252:
        return "cp1252"
    return name


def charset_from_content_type(content_type: str | None) -> str | None:
    """The codec named by a ``Content-Type`` header's ``charset`` parameter, if valid."""
    if not content_type:
        return None
    m = _CHARSET_PARAM.search(content_type)
    return _codec(m.group(1)) if m else None


def _sniff_utf16_32(head: bytes) -> str | None:
    """Detect BOM-less UTF-16/32 XML by the NUL pattern around the leading ``<``."""
    if head.startswith(b"<\x00\x00\x00"):
        return "utf-32-le"
    if head.startswith(b"\x00\x00\x00<"):
        return "utf-32-be"
    if head.startswith(b"<\x00?\x00") or head.startswith(b"<\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<\x00?") or head.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _guess(content: bytes) -> str:
    """Last resort: UTF-8 if it decodes, else charset-normalizer, biased to windows-1252."""
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # imported lazily: rarely needed, slow to import

    best = from_bytes(content[:65_536]).best()
    guess = _codec(best.encoding) if best is not None else None
    if guess is None or guess in _LATIN_GUESSES:
        try:
            content.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return guess or "cp1252"


def detect_encoding(content: bytes, content_type: str | None = None) -> str:
    """Choose the codec for ``content``: BOM, HTTP charset, XML prolog, HTML meta, then a guess.

    One correction to that order: a declared single-byte charset on bytes that are valid,
    non-ASCII UTF-8 is taken as UTF-8, because servers often default ``text/*`` to ISO-8859-1
    while the document is UTF-8, and real windows-1252 text is almost never valid UTF-8.
    """
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    head = content[:1024]
    declared = charset_from_content_type(content_type)
    if declared is None:
        m = _XML_DECL.match(head)
        declared = _codec(m.group(1).decode("ascii")) if m else _sniff_utf16_32(head)
    if declared is None:
        m = _META_CHARSET.search(content[:4096])
        if m:
            declared = _codec(m.group(1).decode("ascii"))
    if declared and declared.startswith(("utf-16", "utf-32")):
        # BOM-less UTF-16/32: the NUL pattern gives the byte order, or shows the label is wrong.
        declared = _sniff_utf16_32(head)
    if declared is None:
        return _guess(content)
    if declared != "utf-8" and _is_single_byte(declared) and _is_non_ascii_utf8(content):
        return "utf-8"
    return declared


def _is_single_byte(codec_name: str) -> bool:
    return codec_name.startswith(("cp", "iso8859", "latin", "mac", "koi8", "windows", "tis"))


def _is_non_ascii_utf8(content: bytes) -> bool:
    if content.isascii():
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode ``content`` to text; return ``(text, codec)``. Undecodable bytes become U+FFFD.

    A BOM is removed, and so is the XML declaration's ``encoding`` (the text is no longer in
    that encoding, and lxml refuses str input that declares one).
    """
    codec = detect_encoding(content, content_type)
    try:
        text = content.decode(codec)
    except UnicodeDecodeError:
        # A wrong label: try UTF-8, the usual truth, before replacing bad bytes.
        try:
            text, codec = content.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text = content.decode(codec, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, codec


def decode_text(content: bytes, content_type: str | None = None) -> str:
    """Decode ``content`` to ``str`` (see :func:`decode`)."""
    return decode(content, content_type)[0]


def strip_xml_declaration(text: str) -> str:
    """Remove a leading ``<?xml ...?>`` so lxml accepts the already decoded text."""
    return _XML_DECL_TEXT.sub("", text, count=1) if text.lstrip().startswith("<?xml") else text


def _fix_char(m: re.Match[str]) -> str:
    return _C1_MAP.get(m.group(0), "")


def strip_controls(s: str) -> str:
    """Remove control characters, BOMs and non-characters; C1 controls become cp1252 text."""
    if s.isascii():
        # The common case, 4x faster than the search below: only C0 controls and DEL are bad in
        # ASCII, and bytes.translate deletes them in one pass over a copy made by memcpy.
        raw = s.encode("ascii")
        if len(raw.translate(None, _ASCII_BAD)) == len(raw):
            return s
    elif _BAD_CHARS.search(s) is None:
        return s
    return _BAD_CHARS.sub(_fix_char, s)


def clean_text(s: str | None, *, multiline: bool = False) -> str:
    """Drop control characters and collapse whitespace.

    Single-line mode (titles, authors) folds all whitespace to single spaces. Multiline mode
    (summaries, article text) keeps line breaks, folds other whitespace, trims each line and
    allows at most one blank line between paragraphs.
    """
    if not s:
        return ""
    s = strip_controls(s)
    if not multiline:
        return " ".join(s.split())
    out: list[str] = []
    blank = False
    for line in s.splitlines():
        line = " ".join(line.split())
        if line:
            out.append(line)
            blank = False
        elif out and not blank:
            out.append("")
            blank = True
    if blank:
        out.pop()
    return "\n".join(out)


def cap(s: str, limit: int) -> str:
    """Cut ``s`` to at most ``limit`` characters, at a word boundary when one is near, with '…'."""
    if len(s) <= limit:
        return s
    cut = s[: limit - 1]
    space = cut.rfind(" ", max(0, limit - 80))
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + "…"


def cap_title(s: str) -> str:
    """Cap a title at :data:`TITLE_MAX` characters."""
    return cap(s, TITLE_MAX)


def cap_summary(s: str) -> str:
    """Cap a summary at :data:`SUMMARY_MAX` characters."""
    return cap(s, SUMMARY_MAX)


def html_to_text(fragment: str | None, *, multiline: bool = True) -> str:
    """Plain text of an HTML fragment: scripts and styles dropped, entities decoded.

    Block elements (p, div, br, li...) end a line in multiline mode, so paragraphs stay apart;
    in single-line mode they become a space. Source whitespace is folded as a browser does.
    Text without ``<`` skips the HTML parser, which keeps feed parsing fast.
    """
    if not fragment:
        return ""
    if "<" not in fragment:
        if "&" in fragment:
            fragment = html.unescape(fragment)
        return clean_text(fragment)
    tree = LexborHTMLParser(_BLOCK_START.sub(_PARA + "<", fragment))
    tree.strip_tags(_DROP_TAGS)  # cheaper than searching the fragment for them first
    root = tree.body
    text = root.text(deep=True, separator="", strip=False) if root is not None else ""
    return _finish(text, multiline)


def _finish(text: str, multiline: bool) -> str:
    """Parsed text with paragraph marks to clean text: one line per block, or a single line."""
    if _PARA not in text:
        return clean_text(text)
    if not multiline:
        return clean_text(text.replace(_PARA, " "))
    text = strip_controls(text)
    return "\n".join(p for p in (" ".join(part.split()) for part in text.split(_PARA)) if p)


# Batching: the parser costs a fixed ~10 µs per call, a third of the time on a 3 KB item, so
# the fragments of one feed are parsed as one document, split by a separator paragraph.
# Fragments that could leak into their neighbours are parsed alone: raw-text and comment
# constructs, table parts (foster parenting reorders text), foreign content, an unfinished
# tag at the end. If the separators do not all come back as text, the batch is redone alone.
_BATCH_MARK = "\ue001"
_BATCH_SEPARATOR = "<p>" + _BATCH_MARK + "</p>"
_BATCH_UNSAFE = re.compile(
    r"<(?:[!?]|/[^a-z]|script|style|textarea|title\b|xmp|plaintext|iframe|noembed|noframes|"
    r"noscript|template|table|tbody|thead|tfoot|caption|colgroup|col\b|t[rdh]\b|select|"
    r"option|svg|math|frameset|frame\b|head\b|body\b|html\b|base\b|meta\b|link\b)"
)  # searched in the lower-cased fragment: much faster than an IGNORECASE search


def _batchable(fragment: str) -> bool:
    return (
        _BATCH_MARK not in fragment
        and fragment.rfind("<") < fragment.rfind(">")
        and _BATCH_UNSAFE.search(fragment.lower()) is None
    )


def html_to_texts(fragments: list[str]) -> list[str]:
    """``[html_to_text(f) for f in fragments]`` (multiline), parsing most of them in one go."""
    out = [""] * len(fragments)
    batch: list[int] = []
    for i, fragment in enumerate(fragments):
        if fragment and "<" in fragment and _batchable(fragment):
            batch.append(i)
        else:
            out[i] = html_to_text(fragment)
    if len(batch) < 2:
        for i in batch:
            out[i] = html_to_text(fragments[i])
        return out
    joined = _BATCH_SEPARATOR.join(_BLOCK_START.sub(_PARA + "<", fragments[i]) for i in batch)
    tree = LexborHTMLParser(joined)
    tree.strip_tags(_DROP_TAGS)
    root = tree.body
    parts = root.text(deep=True, separator="", strip=False).split(_BATCH_MARK) if root else []
    if len(parts) != len(batch):
        for i in batch:
            out[i] = html_to_text(fragments[i])
        return out
    for i, part in zip(batch, parts, strict=True):
        out[i] = _finish(part, True)
    return out


# An absolute http(s) URL whose host starts plainly (IPv6 literals take the slow path).
_PLAIN_ABSOLUTE = re.compile(r"https?://(?:[^/?#@\s]*@)?[A-Za-z0-9][^/?#@\s]*(?:[/?#]|$)")


_URL_JUNK = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def resolve_url(link: str | None, base: str | None) -> str | None:
    """Resolve ``link`` against ``base``; return an absolute http(s) URL or None.

    Surrounding whitespace and embedded control characters (tabs, newlines, escape sequences,
    bidi overrides) are dropped and backslashes read as
    slashes, as browsers do. Other schemes (javascript:, mailto:, data:) give None, and so
    does a relative link with no usable base.
    """
    if not link:
        return None
    link = link.strip()
    if not link or len(link) > URL_MAX:
        return None
    if _URL_JUNK.search(link):  # control, bidi-override and zero-width characters: never a URL's
        link = _URL_JUNK.sub("", link)
    if "\\" in link:
        link = link.replace("\\", "/")
    if _PLAIN_ABSOLUTE.match(link):  # the common case, without urljoin's cost
        return link.replace(" ", "%20") if " " in link else link
    try:
        url = urljoin(base or "", link) if base else link
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.replace(" ", "%20") if " " in url else url
