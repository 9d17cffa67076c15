"""The canonical SSID text: examples worked out by hand, then properties over any 0..32 bytes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sniffer.ssid import ESCAPED_CATEGORIES, MAX_SSID_TEXT, ssid_text


@pytest.mark.parametrize(
    ("raw", "text", "hex_"),
    [
        (b"", "", None),
        (b"eduroam", "eduroam", None),
        ("Café Müller".encode(), "Café Müller", None),
        ("星巴克WiFi 📶".encode(), "星巴克WiFi 📶", None),
        (b"a\\x41", "a\\x5cx41", "615c783431"),  # a literal backslash-x is escaped: unambiguous
        (b"a\\b", "a\\b", None),  # any other backslash is plain text
        (b"\xb2\xe2\xca\xd4", "\\xb2\\xe2\\xca\\xd4", "b2e2cad4"),  # GBK: invalid UTF-8
        (b"\x00\x00", "\\x00\\x00", "0000"),
        (b"Home\nWiFi", "Home\\x0aWiFi", "486f6d650a57694669"),
        (b"\x1b[31mred", "\\x1b[31mred", "1b5b33316d726564"),
        (b"DEL\x7f", "DEL\\x7f", "44454c7f"),
        (
            "evil\u202etxt.exe".encode(),
            "evil\\xe2\\x80\\xaetxt.exe",
            "6576696ce280ae7478742e657865",
        ),
        ("a\u2028b\u2029".encode(), "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9", "61e280a862e280a9"),
        ("\ufeffbom".encode(), "\\xef\\xbb\\xbfbom", "efbbbf626f6d"),
        ("nel\u0085".encode(), "nel\\xc2\\x85", "6e656cc285"),
        ("soft\u00adhyphen".encode(), "soft\\xc2\\xadhyphen", "736f6674c2ad68797068656e"),
        (b"\xed\xa0\x80", "\\xed\\xa0\\x80", "eda080"),  # an encoded surrogate is invalid UTF-8
        (b"ok\xc3", "ok\\xc3", "6f6bc3"),  # cut multi-byte sequence
        ("é".encode() + b"\xff\x00", "é\\xff\\x00", "c3a9ff00"),
        ("\u00a0nbsp".encode(), "\u00a0nbsp", None),  # Zs is not escaped
    ],
)
def test_examples(raw: bytes, text: str, hex_: str | None) -> None:
    assert ssid_text(raw) == (text, hex_)


def test_invalid_utf8_is_escaped_as_backslashreplace_did() -> None:
    raw = b"\xb2\xe2\xca\xd4 caf\xc3\xa9 \xf0\x9f"
    assert ssid_text(raw)[0] == raw.decode("utf-8", "backslashreplace")


def test_more_than_32_bytes_is_refused() -> None:
    assert ssid_text(b"x" * 32)[0] == "x" * 32
    with pytest.raises(ValueError, match="at most 32 bytes"):
        ssid_text(b"x" * 33)


def test_the_longest_text_is_128_characters() -> None:
    text, hex_ = ssid_text(b"\x00" * 32)
    assert len(text) == MAX_SSID_TEXT == 128
    assert hex_ == "00" * 32


def _raw_of(text: str, hex_: str | None) -> bytes:
    return bytes.fromhex(hex_) if hex_ is not None else text.encode()


@given(st.binary(max_size=32))
def test_any_bytes(raw: bytes) -> None:
    text, hex_ = ssid_text(raw)
    assert not any(unicodedata.category(c) in ESCAPED_CATEGORIES for c in text)
    assert len(text) <= 128
    assert _raw_of(text, hex_) == raw
    assert (hex_ is None) == (text.encode() == raw)
    assert hex_ is None or hex_ == raw.hex()


@given(st.text(max_size=32).map(lambda t: t.encode("utf-8", "surrogatepass")[:32]))
@example(raw=b"\\x")  # plain text, yet escaped: a backslash before `x` (found by hypothesis)
def test_any_text(raw: bytes) -> None:
    """Mostly valid UTF-8 (cut where 32 bytes end, surrogates encoded): the same properties,
    and text that needs no escaping comes out unchanged."""
    text, hex_ = ssid_text(raw)
    assert not any(unicodedata.category(c) in ESCAPED_CATEGORIES for c in text)
    assert len(text) <= 128
    assert _raw_of(text, hex_) == raw
    try:
        plain = raw.decode("utf-8")
    except UnicodeDecodeError:
        assert hex_ == raw.hex()
        return
    # A backslash before a literal `x` is escaped too, so that `\x` always means an escape.
    if not any(unicodedata.category(c) in ESCAPED_CATEGORIES for c in plain) and "\\x" not in plain:
        assert (text, hex_) == (plain, None)
    else:
        assert hex_ == raw.hex()
