"""Keyed pseudonyms (sniffer/pseudonym.py): the bit rules, determinism, separation, the cache."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sniffer.event import ProbeEvent
from sniffer.pseudonym import (
    CACHE_SIZE,
    Pseudonymizer,
    PseudonymKey,
    fingerprint_pseudonym,
    key_from_bytes,
    key_from_hex,
    mac_pseudonym,
    new_key_text,
    normalize_mac,
    ssid_pseudonym,
)

KEY_OCTETS = bytes(range(32))
KEY = PseudonymKey(KEY_OCTETS)
OTHER_KEY = PseudonymKey(bytes(range(1, 33)))
MACS = st.binary(min_size=6, max_size=6).map(lambda raw: raw.hex(":"))


def _hmac(context: bytes, value: bytes, key: bytes = KEY_OCTETS) -> bytes:
    """The README's rule, written again here: HMAC-SHA256(key, context NUL value)."""
    return hmac.new(key, context + b"\x00" + value, hashlib.sha256).digest()


def test_the_pseudonyms_follow_the_documented_rule() -> None:
    """Pseudonyms must not change between releases (a device would become a new one): the
    rule is pinned by an independent computation and by literal values."""
    mac = "00:13:ce:55:98:ef"  # globally administered
    digest = _hmac(b"probewatch pseudonym v1: mac", bytes.fromhex("0013ce5598ef"))
    expected = bytes([digest[0] & 0xFC]) + digest[1:6]
    assert mac_pseudonym(KEY, mac) == expected.hex(":")
    kept = _hmac(b"probewatch pseudonym v1: mac keeping its oui", bytes.fromhex("0013ce5598ef"))
    assert mac_pseudonym(KEY, mac, keep_oui=True) == "00:13:ce:" + kept[:3].hex(":")
    local = "da:a1:19:00:00:01"
    digest = _hmac(b"probewatch pseudonym v1: mac", bytes.fromhex(local.replace(":", "")))
    assert mac_pseudonym(KEY, local) == (bytes([digest[0] & 0xFC | 0x02]) + digest[1:6]).hex(":")
    fingerprint = _hmac(b"probewatch pseudonym v1: ie_fingerprint", bytes.fromhex("00" * 8))
    assert fingerprint_pseudonym(KEY, "0" * 16) == fingerprint[:8].hex()
    ssid = _hmac(b"probewatch pseudonym v1: ssid", b"HomeNet")
    assert ssid_pseudonym(KEY, b"HomeNet") == "~" + ssid[:8].hex()
    # Literal values: the same as the lines above, so a change of either shows here.
    assert mac_pseudonym(KEY, mac) == "fc:a9:e9:5c:b0:65"
    assert mac_pseudonym(KEY, mac, keep_oui=True) == "00:13:ce:8f:73:04"
    assert ssid_pseudonym(KEY, b"HomeNet") == "~58f428bc666166c3"


@settings(max_examples=300, deadline=None)
@given(MACS, st.booleans())
def test_a_pseudonym_is_a_mac_with_the_real_locally_administered_bit(
    mac: str, keep_oui: bool
) -> None:
    pseudonym = mac_pseudonym(KEY, mac, keep_oui=keep_oui)
    assert normalize_mac(pseudonym) == pseudonym  # canonical: lower case, colons
    first, real_first = int(pseudonym[:2], 16), int(mac[:2], 16)
    assert first & 0x02 == real_first & 0x02, "randomized stays what it was"
    assert first & 0x01 == 0, "never a group (multicast) address"
    assert pseudonym == mac_pseudonym(KEY, mac, keep_oui=keep_oui), "deterministic"
    assert pseudonym != mac_pseudonym(OTHER_KEY, mac, keep_oui=keep_oui), "another key"


@settings(max_examples=200, deadline=None)
@given(MACS)
def test_the_oui_is_kept_only_for_globally_administered_macs(mac: str) -> None:
    kept = mac_pseudonym(KEY, mac, keep_oui=True)
    plain = mac_pseudonym(KEY, mac)
    real_first = int(mac[:2], 16)
    if real_first & 0x02:  # randomized: its first octets are random bits of the real address
        assert kept == plain
    else:
        assert kept[:8] == f"{real_first & 0xFE:02x}{mac[2:8]}"
        assert kept[9:] != plain[9:], "the two settings are separate pseudonyms"


def test_many_devices_get_distinct_pseudonyms_and_keys_do_not_share_them() -> None:
    macs = [f"02:00:00:{n >> 16:02x}:{n >> 8 & 255:02x}:{n & 255:02x}" for n in range(20_000)]
    mine = {mac_pseudonym(KEY, mac) for mac in macs}
    theirs = {mac_pseudonym(OTHER_KEY, mac) for mac in macs}
    assert len(mine) == len(macs)
    assert not mine & theirs
    assert not mine & set(macs)


def test_kinds_are_separated() -> None:
    """The same octets as a MAC, a fingerprint and an SSID give unrelated pseudonyms."""
    octets = bytes.fromhex("0013ce5598ef0102")
    as_fingerprint = fingerprint_pseudonym(KEY, octets.hex())
    as_ssid = ssid_pseudonym(KEY, octets)[1:]
    as_mac = mac_pseudonym(KEY, octets[:6].hex(":")).replace(":", "")
    as_ssid6 = ssid_pseudonym(KEY, octets[:6])[1:13]
    assert as_fingerprint != as_ssid
    assert as_mac[2:] != as_ssid6[2:]  # past the first octet, whose bits are set by rule
    assert len({as_fingerprint, as_ssid}) == 2


def test_forms_stay_what_consumers_expect() -> None:
    fingerprint = fingerprint_pseudonym(KEY, "0123456789abcdef")
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert fingerprint != "0123456789abcdef"
    assert ssid_pseudonym(KEY, b"") == "", "the wildcard stays the wildcard"
    ssid = ssid_pseudonym(KEY, "Café ☕".encode())
    assert ssid.startswith("~") and len(ssid) == 17 and ssid.isascii()
    with pytest.raises(ValueError, match="16 lower-case hex"):
        fingerprint_pseudonym(KEY, "not hex")


def _event(**changes: object) -> ProbeEvent:
    fields: dict[str, object] = {
        "ts": 1_700_000_000.5,
        "mac": "da:a1:19:00:00:01",
        "ssid": "caf\\xe9",
        "ssid_hex": "636166e9",
        "rssi_dbm": -61,
        "freq_mhz": 2437,
        "seq": 1234,
        "randomized": True,
        "sensor": "roof",
        "ie_fingerprint": "0123456789abcdef",
    }
    fields.update(changes)
    return ProbeEvent(**fields)  # type: ignore[arg-type]


def test_an_event_keeps_every_other_field() -> None:
    event = _event()
    out = Pseudonymizer(KEY)(event)
    assert out.mac == mac_pseudonym(KEY, event.mac)
    assert out.ie_fingerprint == fingerprint_pseudonym(KEY, "0123456789abcdef")
    assert (out.ssid, out.ssid_hex) == (event.ssid, event.ssid_hex), "SSIDs only when asked"
    assert (out.ts, out.rssi_dbm, out.freq_mhz, out.seq, out.randomized, out.sensor) == (
        event.ts,
        event.rssi_dbm,
        event.freq_mhz,
        event.seq,
        event.randomized,
        event.sensor,
    )
    hashed = Pseudonymizer(KEY, ssids=True)(event)
    assert hashed.ssid == ssid_pseudonym(KEY, bytes.fromhex("636166e9"))  # the octets, not text
    assert hashed.ssid_hex is None, "the octets would give the SSID away"
    wildcard = Pseudonymizer(KEY, ssids=True)(_event(ssid="", ssid_hex=None, ie_fingerprint=None))
    assert (wildcard.ssid, wildcard.ie_fingerprint) == ("", None)
    plain = Pseudonymizer(KEY, ssids=True)(_event(ssid="HomeNet", ssid_hex=None))
    assert plain.ssid == ssid_pseudonym(KEY, b"HomeNet")


def test_the_cache_is_bounded_and_never_changes_an_answer() -> None:
    pseudonyms = Pseudonymizer(KEY, ssids=True, cache_size=3)
    macs = [f"00:00:00:00:00:{n:02x}" for n in range(10)]
    for _ in range(2):
        for n, mac in enumerate(macs):
            event = pseudonyms(_event(mac=mac, ssid=f"net{n}", ssid_hex=None))
            assert event.mac == mac_pseudonym(KEY, mac)
            assert event.ssid == ssid_pseudonym(KEY, f"net{n}".encode())
            assert len(pseudonyms._macs) <= 3
            assert len(pseudonyms._ssid_texts) <= 3
    assert Pseudonymizer(KEY).cache_size == CACHE_SIZE


def test_the_key_is_never_shown_or_pickled() -> None:
    assert KEY_OCTETS.hex() not in repr(KEY) + str(KEY) + f"{KEY}"
    assert repr(KEY) == "PseudonymKey(<secret>)"
    with pytest.raises(TypeError, match="never leaves"):
        pickle.dumps(KEY)


def test_keys_shorter_than_256_bits_or_placeholders_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        PseudonymKey(bytes(range(31)))
    with pytest.raises(ValueError, match="placeholder"):
        PseudonymKey(b"\x00" * 64)
    with pytest.raises(ValueError, match="hex digits"):
        key_from_hex("zz" * 32)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        key_from_hex("ab" * 31)


def test_a_key_file_holds_hex_or_raw_octets() -> None:
    text = new_key_text()
    assert len(text) == 64
    from_hex = key_from_bytes(f"  {text}\n".encode())
    assert mac_pseudonym(from_hex, "00:11:22:33:44:55") == mac_pseudonym(
        key_from_hex(text), "00:11:22:33:44:55"
    )
    raw = bytes(range(200, 240))
    assert mac_pseudonym(key_from_bytes(raw), "00:11:22:33:44:55") == mac_pseudonym(
        PseudonymKey(raw), "00:11:22:33:44:55"
    )
    assert new_key_text() != text


@pytest.mark.parametrize(
    ("text", "mac"),
    [
        ("AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff"),
        ("aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff"),
        ("aabbccddeeff", "aa:bb:cc:dd:ee:ff"),
        ("0:1:2:3:4:5", "00:01:02:03:04:05"),
    ],
)
def test_macs_are_read_in_the_usual_spellings(text: str, mac: str) -> None:
    assert normalize_mac(text) == mac


@pytest.mark.parametrize("text", ["", "nope", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "gg" * 6])
def test_anything_else_is_not_a_mac(text: str) -> None:
    with pytest.raises(ValueError, match="not a MAC address"):
        normalize_mac(text)
