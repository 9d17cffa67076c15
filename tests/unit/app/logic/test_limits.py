"""The quick paths of `app.logic.limits` give what the character-by-character rules give."""

from __future__ import annotations

import json

import msgspec
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.logic.limits import has_hidden, is_hidden, ssid_raw_length
from app.logic.mac import normalize_mac
from app.logic.probe import _USUAL_PROBE, _checked_probe, _usual_probe

#: ASCII, backslash escapes and any Unicode, so both paths are exercised.
TEXT = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127)),
    st.text(alphabet=st.sampled_from(["\\", "x", "4", "1", "a", "é", "\u202e", "\x00", " "])),
    st.text(),
)


@given(TEXT)
def test_has_hidden_is_any_hidden_character(text: str) -> None:
    assert has_hidden(text) == any(is_hidden(ch) for ch in text)


@given(TEXT)
def test_raw_length_of_plain_ascii_is_its_length(text: str) -> None:
    slow = 0
    at = 0
    while at < len(text):
        pair = text[at + 2 : at + 4]
        if (
            text.startswith("\\x", at)
            and len(pair) == 2
            and all(c in "0123456789abcdefABCDEF" for c in pair)
        ):
            slow, at = slow + 1, at + 4
        else:
            slow, at = slow + len(text[at].encode("utf-8", "surrogatepass")), at + 1
    assert ssid_raw_length(text) == slow


@given(st.binary(min_size=6, max_size=6))
def test_a_canonical_mac_is_returned_as_it_is(octets: bytes) -> None:
    canonical = ":".join(f"{b:02x}" for b in octets)
    assert normalize_mac(canonical) == canonical
    assert normalize_mac(canonical.upper().replace(":", "-")) == canonical


CANONICAL_MAC = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
#: Mostly probes of the usual form, so the quick path is taken often; the rest probe its edges.
PROBE_FIELDS = st.fixed_dictionaries(
    {
        "mac": st.one_of(
            CANONICAL_MAC, CANONICAL_MAC, st.sampled_from(["AA-BB-CC-DD-EE-FF", "nope", 5])
        ),
        "ts": st.one_of(
            st.floats(0, 4.2e9), st.integers(-5, 4_200_000_000), st.floats(), st.booleans()
        ),
    },
    optional={
        "ssid": st.one_of(TEXT, st.none(), st.integers()),
        "ssid_hex": st.one_of(st.none(), st.sampled_from(["", "41", "zz"])),
        "rssi_dbm": st.one_of(st.none(), st.integers(-300, 300), st.booleans(), st.floats()),
        "freq_mhz": st.one_of(st.none(), st.integers(-1, 70_000)),
        "seq": st.one_of(st.none(), st.integers(-1, 5000)),
        "randomized": st.one_of(st.none(), st.booleans(), st.integers()),
        "sensor": st.one_of(st.none(), TEXT, st.text(min_size=120, max_size=140)),
        "ie_fingerprint": st.one_of(st.none(), TEXT),
    },
)


@settings(max_examples=1000)
@given(PROBE_FIELDS)
def test_the_usual_probe_path_accepts_only_what_the_checked_path_accepts(
    data: dict[str, object],
) -> None:
    try:
        usual = _usual_probe(_USUAL_PROBE.decode(json.dumps(data)))
    except msgspec.MsgspecError:  # not the usual form (or NaN, which is not JSON at all)
        return
    if usual is None:
        return
    assert usual == _checked_probe(data)


def test_what_the_sniffer_writes_takes_the_usual_path() -> None:
    """Plain, escaped and Unicode SSIDs, hex octets and a Unicode sensor all stay on it."""
    base = {
        "ts": 1_700_000_000.25,
        "mac": "da:a1:19:00:00:01",
        "ssid_hex": None,
        "rssi_dbm": -60,
        "freq_mhz": 2412,
        "seq": 4095,
        "randomized": True,
        "sensor": "roof",
        "ie_fingerprint": "0db43bd8855aa0f8",
    }
    for ssid, ssid_hex, sensor in [
        ("", None, "roof"),
        ("HomeNet", None, "roof"),
        ("Café Müller", None, "Küche"),
        ("\\xb2\\xe2\\xca\\xd4", "b2e2cad4", "roof"),
        ("a" * 32, None, "roof"),
    ]:
        data = {**base, "ssid": ssid, "ssid_hex": ssid_hex, "sensor": sensor}
        usual = _usual_probe(_USUAL_PROBE.decode(orjson.dumps(data)))
        assert usual is not None, data
        assert usual == _checked_probe(data)
