import orjson
import pytest

from app.logic.probe import InvalidProbe, decode_probe


def _probe(**overrides: object) -> bytes:
    value = {
        "ts": 1700000000.25,
        "mac": "AA-BB-CC-DD-EE-FF",
        "ssid": "home",
        "ssid_hex": None,
        "rssi_dbm": -61,
        "freq_mhz": 2437,
        "seq": 17,
        "randomized": True,
        "sensor": "s1",
        "ie_fingerprint": "0f1e",
    }
    value.update(overrides)
    return orjson.dumps(value)


def test_a_well_formed_probe_decodes_with_a_normalised_mac() -> None:
    probe = decode_probe(_probe())
    assert probe.mac == "aa:bb:cc:dd:ee:ff"
    assert (probe.ts, probe.ssid, probe.rssi_dbm, probe.freq_mhz, probe.seq) == (
        1700000000.25,
        "home",
        -61,
        2437,
        17,
    )
    assert probe.randomized is True and probe.sensor == "s1" and probe.ie_fingerprint == "0f1e"


def test_optional_fields_may_be_absent_and_randomized_is_derived() -> None:
    probe = decode_probe(b'{"ts": 1, "mac": "02:00:00:00:00:01"}')
    assert probe.ssid == "" and probe.rssi_dbm is None and probe.randomized is True


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty_value"),
        (b"", "not_json"),
        (b"\xff\xfe garbage", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b'{"ts": 1}', "missing_field"),
        (b'{"mac": "aa:bb:cc:dd:ee:ff"}', "missing_field"),
        (b'{"ts": 1, "mac": "not-a-mac"}', "bad_mac"),
        (b'{"ts": 1, "mac": 42}', "bad_mac"),
        (b'{"ts": "yesterday", "mac": "aa:bb:cc:dd:ee:ff"}', "bad_field"),
        (b'{"ts": -5, "mac": "aa:bb:cc:dd:ee:ff"}', "bad_field"),
        (b'{"ts": true, "mac": "aa:bb:cc:dd:ee:ff"}', "bad_field"),
        (_probe(ssid=5), "bad_field"),
        (_probe(rssi_dbm="-40"), "bad_field"),
        (_probe(freq_mhz=2.4), "bad_field"),
        (_probe(seq=True), "bad_field"),
        (_probe(ssid="x" * 1000), "bad_field"),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidProbe) as caught:
        decode_probe(raw)
    assert caught.value.reason == reason
