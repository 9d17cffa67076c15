"""The record that crosses from the sniffer to the app: both sides agree on every value.

The sniffer and the app each define ProbeEvent, on purpose (the sniffer runs alone on a sensor
host). Whatever the sniffer makes of a frame, the app's decoder accepts unchanged, and both write
an SSID's octets in the same text form.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.logic.limits import check_ssid, ssid_from_octets, ssid_raw_length
from app.logic.mac import is_randomized
from app.logic.probe import decode_probe
from sniffer.parse import LINKTYPE_IEEE802_11_RADIOTAP, parse_frame
from sniffer.pseudonym import Pseudonymizer, PseudonymKey
from sniffer.ssid import ssid_text
from sniffer.synth import probe_request, radiotap_frame

OCTETS = st.one_of(
    st.binary(max_size=32),
    st.text(max_size=10).map(lambda t: t.encode()[:32]),
    st.lists(st.sampled_from([b"\x00", b"\xe2\x80\xae", b"\xff", b"\xc3", b"a", b"\\x"])).map(
        lambda parts: b"".join(parts)[:32]
    ),
)


@settings(max_examples=500, deadline=None)
@given(OCTETS)
def test_both_sides_write_an_ssid_in_the_same_text_form(raw: bytes) -> None:
    text, hex_octets = ssid_text(raw)
    assert (text, hex_octets) == ssid_from_octets(raw)
    assert check_ssid(text, allow_empty=True) == text
    assert ssid_raw_length(text) == len(raw)
    assert (bytes.fromhex(hex_octets) if hex_octets else text.encode()) == raw


def test_the_text_form_stands_for_one_byte_string() -> None:
    """A literal backslash-x is written so that it cannot be read as an escape."""
    assert ssid_text(b"\\x00") == ("\\x5cx00", b"\\x00".hex())
    assert ssid_text(b"\x00") == ("\\x00", "00")
    assert ssid_text(b"a\\b") == ("a\\b", None)


@settings(max_examples=300, deadline=None)
@given(
    mac=st.binary(min_size=6, max_size=6),
    seq=st.integers(0, 4095),
    ssid=OCTETS,
    freq=st.integers(0, 65535),
    signal=st.integers(-128, 127),
    ts=st.floats(min_value=0, max_value=4_102_444_799.0),
)
def test_every_probe_the_sniffer_writes_is_one_the_app_accepts_as_is(
    mac: bytes, seq: int, ssid: bytes, freq: int, signal: int, ts: float
) -> None:
    frame = radiotap_frame(probe_request(mac, seq, ssid), freq=freq, signal=signal)
    event = parse_frame(LINKTYPE_IEEE802_11_RADIOTAP, frame, ts, "sensor-1")
    assert event is not None
    decoded = decode_probe(event.to_json())
    for field in ("ts", "mac", "ssid", "ssid_hex", "rssi_dbm", "freq_mhz", "seq", "sensor"):
        assert getattr(decoded, field) == getattr(event, field), field
    assert (decoded.randomized, decoded.ie_fingerprint) == (event.randomized, event.ie_fingerprint)


KEY = PseudonymKey(bytes(range(32)))


@settings(max_examples=300, deadline=None)
@given(
    mac=st.binary(min_size=6, max_size=6),
    ssid=OCTETS,
    keep_oui=st.booleans(),
    elements=st.lists(st.sampled_from([b"\x01\x02\x82\x84", b"\x2d\x02\x01\x02", b"\x7f\x00"])),
)
def test_a_pseudonymised_probe_is_one_the_app_accepts_as_is(
    mac: bytes, ssid: bytes, keep_oui: bool, elements: list[bytes]
) -> None:
    """Pseudonyms keep the record contract: the app reads the same fields, and its own idea of
    `randomized` (the MAC's locally administered bit) agrees with the sniffer's."""
    frame = radiotap_frame(probe_request(mac, 7, ssid, b"".join(elements)), freq=2412, signal=-50)
    event = parse_frame(LINKTYPE_IEEE802_11_RADIOTAP, frame, 1_700_000_000.0, "sensor-1")
    assert event is not None
    out = Pseudonymizer(KEY, keep_oui=keep_oui, ssids=True)(event)
    decoded = decode_probe(out.to_json())
    for field in ("ts", "mac", "ssid", "ssid_hex", "rssi_dbm", "freq_mhz", "seq", "sensor"):
        assert getattr(decoded, field) == getattr(out, field), field
    assert (decoded.randomized, decoded.ie_fingerprint) == (out.randomized, out.ie_fingerprint)
    assert is_randomized(out.mac) == event.randomized
    assert (out.ssid == "") == (event.ssid == "")
