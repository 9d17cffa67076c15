"""The reference the suite checks against (tests/tshark.py) must itself be right, and loud.

Its SSID text is written from README's rule, independently of the product: here it meets README's
examples, and agrees with `sniffer.ssid.ssid_text` on any octets (two independent spellings of
one rule; a difference means one of them is wrong). A tshark that reads nothing fails the test
instead of handing an empty reference to a comparison that would then pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sniffer.ssid import ssid_text as product_ssid_text
from tests.pcaps import capture
from tests.tshark import (
    TSHARK,
    TsharkFailed,
    devices_by_tshark,
    ssid_text,
    tshark_probe_count,
    tshark_probes,
)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"eduroam", "eduroam"),
        ("Café Müller".encode(), "Café Müller"),
        (b"a\x00b", "a\\x00b"),  # a control
        ("evil\u202egnp.exe".encode(), "evil\\xe2\\x80\\xaegnp.exe"),  # RIGHT-TO-LEFT OVERRIDE
        ("line\u2028break".encode(), "line\\xe2\\x80\\xa8break"),  # line separator
        (b"\xb2\xe2\xca\xd4", "\\xb2\\xe2\\xca\\xd4"),  # GBK, not UTF-8
        (b"caf\xc3", "caf\\xc3"),  # cut in the middle of a character
        (b"C:\\x41", "C:\\x5cx41"),  # a literal backslash-x is escaped, so \x always is one
        (b"back\\slash\\", "back\\slash\\"),  # any other backslash is itself
        ("\U0001f4f6 wifi".encode(), "\U0001f4f6 wifi"),
        (b"", ""),
    ],
)
def test_ssid_text_follows_the_readme(raw: bytes, text: str) -> None:
    assert ssid_text(raw) == text


_PIECES = st.one_of(
    st.binary(max_size=4),
    st.sampled_from([b"\\", b"x", b"\\x", b"\x00", b"\x7f", b"\xc3", b"\xa9", b"\xed\xa0\x80"]),
    st.text(max_size=3).map(str.encode),
)


@given(st.lists(_PIECES, max_size=12).map(lambda parts: b"".join(parts)[:32]))
def test_ssid_text_agrees_with_the_product(raw: bytes) -> None:
    assert ssid_text(raw) == product_ssid_text(raw)[0]


needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


@needs_tshark
def test_a_capture_without_probe_requests_is_no_reference() -> None:
    empty = capture("aircrack-ng__test__wpa.cap")
    assert tshark_probes(empty) == []  # true, and fine frame by frame
    with pytest.raises(TsharkFailed, match="no probe request"):
        devices_by_tshark(empty)


@needs_tshark
def test_a_file_tshark_cannot_read_fails_loudly(tmp_path: Path) -> None:
    notes = tmp_path / "notes.pcap"
    notes.write_text("not a capture\n")
    for path in (notes, tmp_path / "missing.pcap"):
        with pytest.raises(TsharkFailed, match="tshark could not read"):
            tshark_probe_count(path)
        with pytest.raises(TsharkFailed):
            devices_by_tshark(path)


@needs_tshark
def test_a_damaged_capture_is_read_in_part_but_is_no_whole_reference() -> None:
    cut = capture("bad_rsn_parsing_overrides_ssid.pcap")  # one stray byte after the last record
    assert tshark_probes(cut) == []
    with pytest.raises(TsharkFailed, match="cut short"):
        tshark_probes(cut, damaged_ok=False)


@needs_tshark
def test_a_real_capture_gives_every_device() -> None:
    truth = devices_by_tshark(capture("wpa-psk-linksys.cap"))
    assert {mac: d.count for mac, d in truth.items()} == {"00:13:ce:55:98:ef": 9}
