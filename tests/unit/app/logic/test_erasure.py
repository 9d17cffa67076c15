"""Erasure records (`app.logic.erasure`), the raw zone's scrubbing (`app.logic.lake.erase`) and
the SSID index forgetting a device (`app.logic.ssids`)."""

from __future__ import annotations

import orjson
import pytest

from app.logic.erasure import (
    Erasure,
    InvalidErasure,
    decode_erasure,
    decode_user_erasure,
    erasure_record,
    looks_like_erasure,
    user_erasure_record,
)
from app.logic.lake.erase import scrub_line, scrub_user_line
from app.logic.ssids import apply_ssid_probes, is_empty

MAC = "f0:18:98:11:22:33"
OTHER = "f0:18:98:44:55:66"


def test_an_erasure_round_trips_and_is_told_from_probes_cheaply() -> None:
    key, value = erasure_record("F0-18-98-11-22-33", "cli", now=5.0, unseen_since=3.0)
    assert key == MAC.encode() and looks_like_erasure(value)
    assert decode_erasure(value) == Erasure(MAC, 5.0, "cli", 3.0)
    assert not looks_like_erasure(orjson.dumps({"ts": 1.0, "mac": MAC, "ssid": "erase"}))
    assert not looks_like_erasure(orjson.dumps([{"ts": 1.0, "mac": MAC}]))
    assert not looks_like_erasure(None)
    assert decode_erasure(b'{"erase": "' + MAC.encode() + b'", "by": "me"}').by == "other"


@pytest.mark.parametrize(
    "value",
    [b'{"erase": "nope"}', b'{"erase": 5}', b"{erase", b'{"erase": "%s", "unseen_since": "x"}'],
)
def test_a_bad_erasure_is_refused(value: bytes) -> None:
    with pytest.raises(InvalidErasure):
        decode_erasure(value.replace(b"%s", MAC.encode()))


def test_retention_spares_a_device_heard_since_its_cutoff() -> None:
    assert Erasure(MAC, 0.0, "retention", 100.0).applies_to(99.0)
    assert not Erasure(MAC, 0.0, "retention", 100.0).applies_to(100.0)
    assert Erasure(MAC, 0.0, "retention", 100.0).applies_to(None)
    assert Erasure(MAC, 0.0, "api").applies_to(1e12)


def _line(key: str | None, value: object) -> bytes:
    return orjson.dumps({"offset": 1, "timestamp": 0, "key": key, "value": value}) + b"\n"


def test_the_raw_zone_loses_the_erased_devices_and_keeps_the_others() -> None:
    erased = frozenset({MAC})
    mine = _line(MAC, {"ts": 1.0, "mac": MAC})
    theirs = _line(OTHER, {"ts": 1.0, "mac": OTHER})
    packed = _line(None, [{"ts": 1.0, "mac": MAC}, {"ts": 2.0, "mac": OTHER}])
    alone = _line(None, [{"ts": 1.0, "mac": MAC}])
    request = _line(MAC, {"erase": MAC, "by": "api"})
    assert scrub_line(mine, erased) is None and scrub_line(request, erased) is None
    assert scrub_line(theirs, erased) == theirs
    assert scrub_line(alone, erased) is None
    kept = scrub_line(packed, erased)
    assert kept is not None and MAC.encode() not in kept
    assert orjson.loads(kept)["value"] == [{"ts": 2.0, "mac": OTHER}]


def test_the_ssid_index_forgets_a_device_up_to_its_erasure() -> None:
    row = apply_ssid_probes(None, {"totals": {MAC: [3, 10.0, 4], OTHER: [2, 11.0, 5]}})
    assert row is not None and row["probe_count"] == 5
    assert apply_ssid_probes(row, {"forget": {MAC: 3}}) is None, "a later total survives"
    row = apply_ssid_probes(row, {"forget": {MAC: 9}})
    assert row is not None and row["probe_count"] == 2 and list(row["devices"]) == [OTHER]
    row = apply_ssid_probes(row, {"forget": {OTHER: 9}})
    assert row is not None and is_empty(row)
    assert apply_ssid_probes(None, {"forget": {MAC: 9}}) is None


def test_a_users_updates_leave_the_raw_zone_and_the_others_stay() -> None:
    users = frozenset({12})
    theirs = _line("-100", {"update_id": 1, "message": {"from": {"id": 12}, "text": "hi"}})
    edit = _line("-100", {"update_id": 2, "edited_message": {"from": {"id": 12}}})
    other = _line("-100", {"update_id": 3, "message": {"from": {"id": 120}, "text": "12"}})
    request = _line(None, orjson.loads(user_erasure_record(12, "api", now=1.0)))
    assert scrub_user_line(theirs, users) is None and scrub_user_line(edit, users) is None
    assert scrub_user_line(request, users) is None
    assert scrub_user_line(other, users) == other
    assert decode_user_erasure(user_erasure_record(12, "cli")) == 12
    for bad in (b'{"erase_user": -1}', b'{"erase_user": true}', b"nope"):
        with pytest.raises(InvalidErasure):
            decode_user_erasure(bad)
