"""Alerts as the notifier reads them: decoded, checked, and the subscribers they go to."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.logic.alerts import InvalidAlert, decode_alert
from app.logic.subscriptions import subscribers_from
from app.models import Alert, Subscriber

MAC = "f0:18:98:11:22:33"
#: An Alert as the fold agent writes it (app.logic.alerts.make_alert).
ALERT: dict[str, Any] = {
    "ts": 1795277343.0,
    "time": "2026-11-21T16:09:03.000Z",
    "mac": MAC,
    "name": None,
    "vendor": "Apple, Inc.",
    "ssid": "Free WiFi ☕",
    "reason": "phishing bait",
    "rssi_dbm": -60,
    "sensor": "sensor-1",
}


def test_an_alert_is_decoded() -> None:
    assert decode_alert(orjson.dumps(ALERT)) == Alert(
        ts=1795277343.0,
        mac=MAC,
        ssid="Free WiFi ☕",
        reason="phishing bait",
        name=None,
        vendor="Apple, Inc.",
        rssi_dbm=-60,
        sensor="sensor-1",
    )


def test_optional_fields_may_be_missing() -> None:
    minimal = {"ts": 1, "mac": "F0-18-98-11-22-33", "ssid": "x"}
    assert decode_alert(orjson.dumps(minimal)) == Alert(1.0, MAC, "x", "", None, None, None, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "not_json"),
        (None, "not_json"),
        (b"[1]", "not_an_object"),
        (orjson.dumps({**ALERT, "ts": "yesterday"}), "bad_ts"),
        (orjson.dumps({**ALERT, "ts": True}), "bad_ts"),
        (orjson.dumps({**ALERT, "ts": 1e300}), "bad_ts"),
        (orjson.dumps({**ALERT, "ts": -1}), "bad_ts"),
        (orjson.dumps({**ALERT, "mac": "nope"}), "bad_mac"),
        (orjson.dumps({**ALERT, "mac": None}), "bad_mac"),
        (orjson.dumps({**ALERT, "ssid": ""}), "bad_ssid"),
        (orjson.dumps({**ALERT, "ssid": 5}), "bad_ssid"),
        (orjson.dumps({**ALERT, "rssi_dbm": "-60"}), "bad_field"),
        (orjson.dumps({**ALERT, "name": ["x"]}), "bad_field"),
    ],
)
def test_a_malformed_alert_is_refused_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidAlert) as refused:
        decode_alert(value)
    assert refused.value.reason == reason


def test_subscribers_come_from_the_mirror() -> None:
    items = [
        ("1001", {"subscribed": True, "bot": 42}),
        ("-100123", {"subscribed": True, "bot": None}),
        ("not-a-chat", {"subscribed": True, "bot": 42}),
    ]
    assert subscribers_from(items) == [Subscriber(1001, 42), Subscriber(-100123, None)]
