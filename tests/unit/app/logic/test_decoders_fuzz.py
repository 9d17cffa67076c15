"""Every decoder of every input topic, fed what any producer could write.

The property: a decoder either returns a value that every later step can hold (fold into a row,
encode as JSON, show as a date, send as an alert), or raises the one error its agent counts and
dead-letters. Nothing else may escape: an escaping exception is a stopped stream.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.bot.format import format_time
from app.bot.updates import InvalidUpdate, decode_update
from app.logic.alerts import InvalidAlert, decode_alert, make_alert
from app.logic.limits import INT64, MAX_TS, ssid_raw_length
from app.logic.mac import InvalidMac, normalize_mac
from app.logic.names import InvalidName, decode_name_value
from app.logic.probe import InvalidProbe, decode_probe
from app.logic.ssids import InvalidSsidProbes, apply_ssid_probes, ssid_view
from app.logic.stats import device_stats, fold_probe
from app.logic.subscriptions import InvalidSubscription, decode_subscription, parse_chat_id
from app.logic.tshark_ek import probe_from_tshark_ek
from app.logic.watchlist import InvalidWatch, clean_ssid, decode_watch_value

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Numbers at and around every edge a field has: widths, date limits, non-finite values.
EDGE_NUMBERS = st.sampled_from(
    [
        0,
        -1,
        1,
        -128,
        -129,
        127,
        128,
        4095,
        4096,
        65535,
        65536,
        2**31,
        2**63 - 1,
        2**63,
        2**64 - 1,
        -(2**63),
        MAX_TS,
        MAX_TS - 0.001,
        253402300800,
        1e300,
        -1e300,
        1e-300,
        0.5,
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    EDGE_NUMBERS,
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\u202eb", "<MISSING>", "0x0004", "4", "inf", "1e30", "-61"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _as_json(value: Any) -> bytes:
    """JSON as any producer might write it (NaN, Infinity and huge integers included)."""
    return json.dumps(value, allow_nan=True).encode()


def _objects(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """JSON objects with a random subset of the known fields, each any JSON value or a
    plausible one, plus now and then a field nobody knows."""
    return st.fixed_dictionaries(
        {}, optional={name: JSON_VALUES | good for name, good in fields.items()}
    ).map(_as_json)


def _raw(objects: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes | None]:
    return st.one_of(objects, st.binary(max_size=64), st.none(), JSON_VALUES.map(_as_json))


MACS = st.sampled_from(["f0:18:98:11:22:33", "F0-18-98-11-22-33", "02:00:00:00:00:01", "x"])
PROBES = _objects(
    {
        "ts": st.floats(min_value=0, max_value=5e9) | EDGE_NUMBERS,
        "mac": MACS,
        "ssid": st.text(max_size=40),
        "ssid_hex": st.text("0123456789abcdef", max_size=70),
        "rssi_dbm": st.integers(-200, 200) | EDGE_NUMBERS,
        "freq_mhz": st.integers(0, 70000) | EDGE_NUMBERS,
        "seq": st.integers(-1, 5000) | EDGE_NUMBERS,
        "randomized": st.booleans(),
        "sensor": st.text(max_size=140),
        "ie_fingerprint": st.text(max_size=140),
    }
)


def _one_of_ek(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return values | st.lists(values, max_size=2)


TSHARK_FRAMES = _objects(
    {
        "timestamp": _one_of_ek(st.sampled_from(["1700000000000", "1e303", "-5", "x", "inf"])),
        "frame_time_epoch": _one_of_ek(st.sampled_from(["1700000000.5", "1e300", "nan"])),
        "wlan_fc_type_subtype": _one_of_ek(st.sampled_from(["4", "0x0004", "0x0008", "probe"])),
        "wlan_sa": _one_of_ek(MACS),
        "wlan_ssid": _one_of_ek(st.text(max_size=40) | st.text("0123456789abcdef:", max_size=80)),
        "wlan_radio_signal_dbm": _one_of_ek(st.sampled_from(["-61", "inf", "1e30", "-1e30"])),
        "wlan_radio_frequency": _one_of_ek(st.sampled_from(["2437", "99999999999", "nan"])),
        "wlan_seq": _one_of_ek(st.sampled_from(["17", "4096", "-1"])),
    }
)
ALERTS = _objects(
    {
        "ts": EDGE_NUMBERS,
        "mac": MACS,
        "ssid": st.text(max_size=40),
        "reason": st.text(max_size=10),
        "name": st.text(max_size=10),
        "vendor": st.text(max_size=10),
        "rssi_dbm": EDGE_NUMBERS,
        "sensor": st.text(max_size=10),
    }
)
SHARES = st.lists(EDGE_NUMBERS | st.integers(-10, 10**6), min_size=3, max_size=3)
SSID_PROBES = st.one_of(
    st.fixed_dictionaries({"devices": st.dictionaries(MACS, SHARES | JSON_VALUES, max_size=3)}),
    JSON_VALUES,
).map(_as_json)


def _storable(value: Any) -> None:
    """What a table write, a changelog record and an HTTP answer do with a value."""
    orjson.dumps(value)


@FUZZ
@given(_raw(PROBES))
@example(b'{"mac": "f0:18:98:11:22:33", "ts": 1, "rssi_dbm": 18446744073709551615}')
@example(b'{"mac": "f0:18:98:11:22:33", "ts": 1e300, "ssid": "w"}')
def test_probes_decode_into_rows_every_step_can_hold(raw: bytes | None) -> None:
    try:
        probe = decode_probe(raw)
    except InvalidProbe:
        return
    state = None
    for _ in range(2):  # twice: sums must stay within what a row can hold
        state = fold_probe(state, probe, max_ssids=1000)
    assert state is not None
    _storable(state)
    stats = device_stats(probe.mac, state)
    _storable(stats)
    assert stats["first_seen"] is not None and stats["last_seen"] is not None
    if probe.ssid:
        _storable(make_alert(probe, "reason", None))
        format_time(probe.ts, ZoneInfo("Pacific/Kiritimati"))
    assert ssid_raw_length(probe.ssid) <= 32


@FUZZ
@given(_raw(TSHARK_FRAMES))
@example(b'{"timestamp": "1e303", "wlan_fc_type_subtype": ["4"], "wlan_sa": ["f0:18:98:11:22:33"]}')
@example(
    b'{"timestamp": "1", "wlan_fc_type_subtype": ["4"], "wlan_sa": ["f0:18:98:11:22:33"],'
    b' "wlan_radio_signal_dbm": ["inf"]}'
)
def test_tshark_frames_become_probes_the_probes_decoder_accepts(raw: bytes | None) -> None:
    try:
        frame = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return  # the agent counts these as not_json
    try:
        probe = probe_from_tshark_ek(frame)
    except InvalidProbe:
        return
    if probe is not None:
        assert decode_probe(orjson.dumps(probe.as_json_dict())) == probe


@FUZZ
@given(_raw(ALERTS))
def test_alerts_decode_into_messages_that_can_be_written(raw: bytes | None) -> None:
    try:
        alert = decode_alert(raw)
    except InvalidAlert:
        return
    format_time(alert.ts, ZoneInfo("Pacific/Kiritimati"))
    format_time(alert.ts, ZoneInfo("America/Adak"))


@FUZZ
@given(st.text(max_size=40), SSID_PROBES)
def test_ssid_probes_fold_into_rows_that_can_be_stored(key: str, raw: bytes) -> None:
    try:
        ssid = clean_ssid(key)
        row = apply_ssid_probes(None, orjson.loads(raw))
        if row is not None:
            row = apply_ssid_probes(row, orjson.loads(raw)) or row
    except (InvalidWatch, InvalidSsidProbes, orjson.JSONDecodeError):
        return
    if row is not None:
        _storable(row)
        _storable(ssid_view(ssid, row))
        assert 0 <= row["probe_count"] <= INT64[1]


@FUZZ
@given(st.binary(max_size=40) | st.text(max_size=40).map(str.encode), _raw(_objects({})))
def test_list_topic_records_are_accepted_or_refused_with_a_reason(
    key: bytes, raw: bytes | None
) -> None:
    for check_key, decode, errors in (
        (normalize_mac, decode_name_value, (InvalidMac, InvalidName)),
        (clean_ssid, decode_watch_value, (InvalidWatch,)),
        (parse_chat_id, decode_subscription, (InvalidSubscription,)),
    ):
        try:
            check_key(key.decode("utf-8"))
            _storable(decode(raw))
        except (UnicodeDecodeError, *errors):
            continue


@FUZZ
@given(_raw(_objects({"update_id": EDGE_NUMBERS, "message": JSON_VALUES})))
def test_telegram_updates_decode_or_are_refused_with_a_reason(raw: bytes | None) -> None:
    try:
        decode_update(raw or b"")
    except InvalidUpdate:
        return


@pytest.mark.parametrize(
    "ssid",
    ["a\x00b", "evil\u202egnp.exe", "line\u2028break", "x" * 33, "é" * 17, "\\xff" * 33, ""],
)
def test_ssids_no_screen_can_show_safely_are_refused_everywhere(ssid: str) -> None:
    with pytest.raises(InvalidWatch):
        clean_ssid(ssid)
    probe = orjson.dumps({"ts": 1, "mac": "f0:18:98:11:22:33", "ssid": ssid})
    if ssid:
        with pytest.raises(InvalidProbe):
            decode_probe(probe)


def test_an_ssid_in_the_sniffers_text_form_passes_everywhere() -> None:
    text = "caf\\xe9 \\x00" + "x" * 26  # 32 octets: 4 + space + NUL + 26
    assert ssid_raw_length(text) == 32
    assert clean_ssid(text) == text
    assert decode_probe(orjson.dumps({"ts": 1, "mac": "f0:18:98:11:22:33", "ssid": text})).ssid
