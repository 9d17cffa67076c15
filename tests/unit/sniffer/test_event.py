"""ProbeEvent: the DESIGN.md contract on the wire."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from sniffer.event import FIELDS, ProbeEvent, encode_many

EVENT = ProbeEvent(
    ts=1_700_000_000.123456,
    mac="da:a1:19:63:32:22",
    ssid="Café",
    ssid_hex=None,
    rssi_dbm=-71,
    freq_mhz=2437,
    seq=697,
    randomized=True,
    sensor="roof",
    ie_fingerprint="0123456789abcdef",
)

DESIGN_FIELDS = [
    "ts",
    "mac",
    "ssid",
    "ssid_hex",
    "rssi_dbm",
    "freq_mhz",
    "seq",
    "randomized",
    "sensor",
    "ie_fingerprint",
]


def test_fields_are_exactly_the_design_table() -> None:
    assert [f.name for f in msgspec.structs.fields(ProbeEvent)] == DESIGN_FIELDS
    assert list(FIELDS) == DESIGN_FIELDS


def test_frozen_and_slotted() -> None:
    with pytest.raises(AttributeError):
        EVENT.mac = "x"  # type: ignore[misc]
    assert not hasattr(EVENT, "__dict__")


def test_a_packed_record_is_the_array_of_the_events_json() -> None:
    other = msgspec.structs.replace(EVENT, mac="02:00:00:00:00:01", ssid="", rssi_dbm=None)
    packed = encode_many([EVENT, other])
    assert packed == b"[" + EVENT.to_json() + b"," + other.to_json() + b"]"
    assert orjson.loads(packed) == [orjson.loads(EVENT.to_json()), orjson.loads(other.to_json())]


def test_to_json_keys_and_values() -> None:
    decoded = orjson.loads(EVENT.to_json())
    assert list(decoded) == DESIGN_FIELDS
    assert decoded == {
        "ts": 1_700_000_000.123456,
        "mac": "da:a1:19:63:32:22",
        "ssid": "Café",
        "ssid_hex": None,
        "rssi_dbm": -71,
        "freq_mhz": 2437,
        "seq": 697,
        "randomized": True,
        "sensor": "roof",
        "ie_fingerprint": "0123456789abcdef",
    }


def test_round_trip() -> None:
    assert ProbeEvent.from_dict(orjson.loads(EVENT.to_json())) == EVENT
    assert ProbeEvent.from_json(EVENT.to_json()) == EVENT
    odd = msgspec.structs.replace(
        EVENT, ssid="\\xb2\\xe2", ssid_hex="b2e2", rssi_dbm=None, seq=None
    )
    assert ProbeEvent.from_json(odd.to_json()) == odd


def test_from_dict_accepts_integer_ts() -> None:
    data = orjson.loads(EVENT.to_json()) | {"ts": 1_700_000_000}
    event = ProbeEvent.from_dict(data)
    assert event.ts == 1_700_000_000.0
    assert isinstance(event.ts, float)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ts", "yesterday"),
        ("ts", True),
        ("mac", 5),
        ("randomized", 1),
        ("rssi_dbm", "-70"),
        ("seq", 1.5),
        ("ssid_hex", 12),
        ("sensor", None),
    ],
)
def test_from_dict_rejects_wrong_types(field: str, value: object) -> None:
    data = orjson.loads(EVENT.to_json()) | {field: value}
    with pytest.raises(ValueError, match=field):
        ProbeEvent.from_dict(data)


def test_from_dict_names_missing_fields() -> None:
    data = orjson.loads(EVENT.to_json())
    del data["seq"], data["sensor"]
    with pytest.raises(ValueError, match="seq, sensor"):
        ProbeEvent.from_dict(data)


def test_from_json_rejects_non_objects() -> None:
    with pytest.raises(ValueError):
        ProbeEvent.from_json(b"[1, 2]")
