"""Decoding, text cleaning, HTML stripping and URL resolution (monitor/parse/encoding.py)."""

from __future__ import annotations

import codecs
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.parse.encoding import (
    SUMMARY_MAX,
    TITLE_MAX,
    cap,
    cap_summary,
    cap_title,
    clean_text,
    decode,
    decode_text,
    detect_encoding,
    html_to_text,
    html_to_texts,
    resolve_url,
    strip_controls,
    strip_xml_declaration,
)

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
FRENCH = "Le président haïtien a déclaré à Port-au-Prince que la mission était prête"


# --- detect_encoding / decode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_bom_wins_over_every_declaration(prefix: bytes, codec: str) -> None:
    body = '<?xml version="1.0" encoding="iso-8859-1"?><a>é</a>'.encode(codec)
    assert detect_encoding(prefix + body, "text/xml; charset=windows-1251") == codec
    assert decode(prefix + body)[0] == '<?xml version="1.0" encoding="iso-8859-1"?><a>é</a>'


def test_http_charset_wins_over_xml_prolog() -> None:
    body = '<?xml version="1.0" encoding="utf-8"?><a>Привет</a>'.encode("koi8-r")
    assert detect_encoding(body, "application/xml; charset=KOI8-R") == "koi8-r"
    assert "Привет" in decode_text(body, "application/xml; charset=KOI8-R")


def test_xml_prolog_used_without_http_charset() -> None:
    body = '<?xml version="1.0" encoding="windows-1252"?><a>“quoted”</a>'.encode("cp1252")
    assert detect_encoding(body, "application/rss+xml") == "cp1252"
    assert "“quoted”" in decode_text(body)


def test_iso_8859_1_label_is_read_as_windows_1252() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><a>l’aube – 5 €</a>'.encode("cp1252")
    assert detect_encoding(body) == "cp1252"
    assert "l’aube – 5 €" in decode_text(body)
    assert detect_encoding(b"<a>x</a>", "text/html; charset=us-ascii") == "cp1252"


def test_html_meta_charset_and_http_equiv() -> None:
    page = '<html><head><meta charset="windows-1252"><title>Pétion</title>'.encode("cp1252")
    assert detect_encoding(page) == "cp1252"
    equiv = b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">'
    assert detect_encoding(equiv) == "iso8859-15"


def test_latin1_label_on_valid_utf8_bytes_is_utf8() -> None:
    """Servers default text/* to ISO-8859-1 while sending UTF-8: the bytes decide."""
    body = "<rss><title>Haïti – Pétion-Ville</title></rss>".encode()
    assert detect_encoding(body, "text/xml; charset=ISO-8859-1") == "utf-8"
    assert "Haïti – Pétion-Ville" in decode_text(body, "text/xml; charset=ISO-8859-1")


@pytest.mark.parametrize("label", ["x-no-such-charset", "base64", "zlib", "rot13", "hex"])
def test_unknown_or_non_text_label_falls_through_to_the_next_source(label: str) -> None:
    body = '<?xml version="1.0" encoding="utf-8"?><a>é</a>'.encode()
    assert detect_encoding(body, f"text/xml; charset={label}") == "utf-8"
    assert decode_text(b'<?xml version="1.0" encoding="' + label.encode() + b'"?><a/>') == (
        '<?xml version="1.0" encoding="' + label + '"?><a/>'
    )


def test_undeclared_windows_1252_is_guessed() -> None:
    body = f"<p>{FRENCH} – “ok”</p>".encode("cp1252")
    assert detect_encoding(body) == "cp1252"
    assert FRENCH in decode_text(body)


def test_undeclared_ascii_and_utf8_are_utf8() -> None:
    assert detect_encoding(b"<rss></rss>") == "utf-8"
    assert detect_encoding("<rss>Kenya – Haïti</rss>".encode()) == "utf-8"


def test_bomless_utf16_is_sniffed() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><a>Pòtoprens</a>'.encode("utf-16-le")
    assert detect_encoding(body) == "utf-16-le"
    assert "Pòtoprens" in decode_text(body)


def test_utf16_label_on_single_byte_content_is_ignored() -> None:
    body = b'<?xml version="1.0" encoding="UTF-16"?><a>plain</a>'
    assert detect_encoding(body) == "utf-8"


def test_wrong_label_falls_back_and_undecodable_bytes_are_replaced() -> None:
    assert decode("é".encode(), "text/html; charset=ascii") == ("é", "utf-8")
    assert decode("é".encode("cp1252"), "text/html; charset=utf-8") == ("\ufffd", "utf-8")
    text, codec = decode(b"<a>\xff broken</a>", "text/html; charset=utf-8")
    assert (text, codec) == ("<a>\ufffd broken</a>", "utf-8")


def test_fixture_encodings() -> None:
    assert detect_encoding((FEEDS / "cp1252.xml").read_bytes()) == "cp1252"
    assert detect_encoding((FEEDS / "iso8859_1.xml").read_bytes()) == "cp1252"
    assert detect_encoding((FEEDS / "utf8_bom.xml").read_bytes()) == "utf-8"
    assert detect_encoding((FEEDS / "utf16.xml").read_bytes()) == "utf-16-le"
    assert decode_text((FEEDS / "utf8_bom.xml").read_bytes()).startswith("<?xml")


def test_strip_xml_declaration() -> None:
    assert strip_xml_declaration('<?xml version="1.0" encoding="utf-16"?><a/>') == "<a/>"
    assert strip_xml_declaration("<a/>") == "<a/>"


# --- clean_text / cap ---------------------------------------------------------------------


def test_clean_text_removes_controls_and_collapses_whitespace() -> None:
    assert clean_text("  Kenya\x00 police\x0b in \t Haiti \n ") == "Kenya police in Haiti"
    assert clean_text(None) == ""
    assert clean_text("\ufeffBOM") == "BOM"


def test_clean_text_multiline_keeps_paragraphs() -> None:
    text = "First  line\r\nsecond\tline\n\n\n\nThird \x07paragraph\n"
    assert clean_text(text, multiline=True) == "First line\nsecond line\n\nThird paragraph"


def test_c1_controls_become_windows_1252_characters() -> None:
    assert clean_text("It\x92s a \x93test\x94 \x96 ok") == "It’s a “test” – ok"
    assert strip_controls("a\x81b") == "ab"  # 0x81 is undefined in windows-1252


def test_cap() -> None:
    assert cap("short", 10) == "short"
    words = "word " * 400
    capped = cap(words, 100)
    assert len(capped) <= 100
    assert capped.endswith("…")
    assert not capped[:-1].endswith(" ")
    assert len(cap_title("x" * 100_000)) == TITLE_MAX
    assert len(cap_summary("y" * 100_000)) == SUMMARY_MAX


# --- html_to_text -------------------------------------------------------------------------


def test_html_to_text_drops_scripts_and_styles_and_decodes_entities() -> None:
    html = (
        "<p>Kenya &amp; Haiti: P&eacute;tion-Ville&nbsp;today</p>"
        "<script>alert('x')</script><style>p{color:red}</style><noscript>enable js</noscript>"
        "<p>Second &#8220;paragraph&#8221; &#150; end</p>"
    )
    assert html_to_text(html) == "Kenya & Haiti: Pétion-Ville today\nSecond “paragraph” – end"


def test_html_to_text_keeps_inline_words_together_and_blocks_apart() -> None:
    html = (
        "<div><h2>Title</h2><p>Port-au-<em>Prince</em>, <a href='/x'>Haiti</a>.</p>"
        "line<br>two</div>"
    )
    assert html_to_text(html) == "Title\nPort-au-Prince, Haiti.\nline\ntwo"
    assert html_to_text(html, multiline=False) == "Title Port-au-Prince, Haiti. line two"


def test_html_to_text_plain_text_and_empty() -> None:
    assert html_to_text("Plain   text &amp; more") == "Plain text & more"
    assert html_to_text("") == ""
    assert html_to_text(None) == ""
    assert html_to_text("Rates < 5% and > 2%") == "Rates < 5% and > 2%"


def test_html_to_text_malformed_markup() -> None:
    assert html_to_text("<p>Unclosed <b>bold<p>Next") == "Unclosed bold\nNext"
    assert html_to_text("<div><p>a</div></div></p>b") == "a\nb"


_SNIPPETS = st.sampled_from(
    [
        "Kenya",
        " police ",
        "Haïti",
        " & ",
        "&amp;",
        "&nbsp;",
        "&eacute;",
        "&#8217;",
        "&#150;",
        "x<y",
        "a < b",
        " > ",
        "\n",
        "\t",
        "\x00",
        "\x92",
        "Port-au-",
        "Prince",
        "<p>",
        "</p>",
        "<b>",
        "</b>",
        "<em>",
        "</em>",
        "<a href='/x'>",
        "</a>",
        "<br>",
        "<br/>",
        '<div class="c">',
        "</div>",
        "<ul>",
        "<li>",
        "</li>",
        "</ul>",
        "<h2>",
        "</h2>",
        "<span>",
        "</span>",
        "<img src=x alt='>'>",
        "<blockquote>",
        "<pre>",
        "</pre>",
        "<table><tr><td>",
        "</td></tr></table>",
        "<td>",
        "<script>var a = '<p>';",
        "</script>",
        "<style>p{}",
        "</style>",
        "<!--",
        "-->",
        "</ ",
        "<a hre",
        "<?php",
        "<textarea>",
        "<title>",
        "<svg>",
        "<select><option>",
        "</html>",
        "</body>",
        '<p title="x',
    ]
)
_FRAGMENTS = st.lists(_SNIPPETS, max_size=12).map("".join)


@given(st.lists(_FRAGMENTS, max_size=8))
@settings(max_examples=400, deadline=None)
def test_batched_html_to_texts_equals_one_by_one(fragments: list[str]) -> None:
    assert html_to_texts(fragments) == [html_to_text(f) for f in fragments]


def test_batched_html_to_texts_on_feed_like_fragments() -> None:
    fragments = [f"<p>Item {i}: Kenyan <b>police</b> in Haiti.</p><p>Second</p>" for i in range(30)]
    fragments += ["plain text", "", "<p>unclosed <a href='/x'>link", "<table><td>cell</td>"]
    texts = html_to_texts(fragments)
    assert texts[0] == "Item 0: Kenyan police in Haiti.\nSecond"
    assert texts[29] == "Item 29: Kenyan police in Haiti.\nSecond"
    assert texts[30:] == ["plain text", "", "unclosed link", "cell"]


# --- resolve_url --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a/b.html", "https://example.org/x/y", "https://example.org/a/b.html"),
        ("b.html", "https://example.org/x/y", "https://example.org/x/b.html"),
        ("../b.html", "https://example.org/x/y/z", "https://example.org/x/b.html"),
        ("//cdn.example.org/p", "https://example.org/", "https://cdn.example.org/p"),
        ("  https://example.org/p \n", None, "https://example.org/p"),
        ("https://exa\nmple.org/p", None, "https://example.org/p"),
        ("/a b", "http://example.org/", "http://example.org/a%20b"),
        ("?page=2", "https://example.org/list?page=1", "https://example.org/list?page=2"),
    ],
)
def test_resolve_url(link: str, base: str | None, expected: str) -> None:
    assert resolve_url(link, base) == expected


@pytest.mark.parametrize(
    ("link", "base"),
    [
        ("javascript:void(0)", "https://example.org/"),
        ("mailto:desk@example.org", "https://example.org/"),
        ("data:text/html,hi", "https://example.org/"),
        ("relative/path", None),
        ("relative/path", ""),
        ("", "https://example.org/"),
        (None, "https://example.org/"),
        ("http://[::1", None),
        ("https://example.org/" + "a" * 5000, None),
    ],
)
def test_resolve_url_rejects(link: str | None, base: str | None) -> None:
    assert resolve_url(link, base) is None


_HOST = st.from_regex(
    r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,10}){0,2}\.[a-z]{2,6}", fullmatch=True
)
_SEGMENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=@",
    min_size=1,
    max_size=12,
)
_BASES = st.builds(
    lambda scheme, host, port, segments, query: (
        f"{scheme}://{host}{port}/{'/'.join(segments)}{query}"
    ),
    st.sampled_from(["http", "https"]),
    _HOST,
    st.sampled_from(["", ":8080", ":443"]),
    st.lists(_SEGMENT, max_size=4),
    st.sampled_from(["", "?q=1", "#frag"]),
)
_RELATIVE = st.builds(
    lambda prefix, segments, suffix: prefix + "/".join(segments) + suffix,
    st.sampled_from(["", "/", "./", "../", "../../"]),
    st.lists(_SEGMENT, min_size=1, max_size=5),
    st.sampled_from(["", "?a=1&b=2", "#section", "?x=y#z"]),
)


@given(base=_BASES, link=_RELATIVE)
@settings(max_examples=300)
def test_relative_link_resolves_to_absolute_url_on_the_base_host(base: str, link: str) -> None:
    resolved = resolve_url(link, base)
    assert resolved is not None
    got, want = urlsplit(resolved), urlsplit(base)
    assert got.scheme == want.scheme
    assert got.hostname == want.hostname
    assert got.port == want.port
    assert got.path.startswith("/")


@given(link=st.text(max_size=200), base=st.one_of(st.none(), _BASES))
@settings(max_examples=300)
def test_resolve_url_never_raises_and_returns_http_urls_only(link: str, base: str | None) -> None:
    resolved = resolve_url(link, base)
    assert resolved is None or urlsplit(resolved).scheme in ("http", "https")


@given(st.text(alphabet=st.characters(max_codepoint=0xA0) | st.sampled_from("é\ufeff\ufffe")))
def test_strip_controls_takes_out_exactly_the_bad_characters(text: str) -> None:
    """The ASCII fast path and the general one agree with the definition, character by character."""
    from monitor.parse.encoding import _BAD_CHARS, _fix_char

    assert strip_controls(text) == _BAD_CHARS.sub(_fix_char, text)
