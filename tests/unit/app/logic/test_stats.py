from app.logic.stats import device_stats, fold_probe, iso_utc
from app.models import ProbeEvent


def _probe(ts: float, ssid: str = "", rssi: int | None = None, **kw: object) -> ProbeEvent:
    return ProbeEvent(ts=ts, mac="f0:18:98:11:22:33", ssid=ssid, rssi_dbm=rssi, **kw)  # type: ignore[arg-type]


def _fold(*probes: ProbeEvent, max_ssids: int = 1000) -> dict[str, object]:
    state = None
    for probe in probes:
        state = fold_probe(state, probe, max_ssids=max_ssids)
    assert state is not None
    return device_stats("f0:18:98:11:22:33", state)


def test_counts_times_ssids_and_signal() -> None:
    stats = _fold(
        _probe(100.0, "home", -70, freq_mhz=2412),
        _probe(101.5, "", -50, freq_mhz=2437),
        _probe(102.0, "café", -60, freq_mhz=5180, ie_fingerprint="ab"),
        _probe(103.0, "home", None),
    )
    assert stats["probe_count"] == 4
    assert stats["first_seen_ts"] == 100.0 and stats["last_seen_ts"] == 103.0
    assert stats["first_seen"] == "1970-01-01T00:01:40.000Z"
    assert stats["ssids"] == ["café", "home"] and stats["unique_ssids"] == 2
    assert stats["wildcard_probes"] == 1
    assert (stats["rssi_min_dbm"], stats["rssi_max_dbm"], stats["rssi_last_dbm"]) == (-70, -50, -60)
    assert stats["rssi_avg_dbm"] == -60.0
    assert stats["freq_mhz_last"] == 5180 and stats["ie_fingerprint"] == "ab"
    assert stats["vendor"] == "Apple, Inc." and stats["randomized"] is False


def test_out_of_order_probes_keep_first_and_last_seen_right() -> None:
    stats = _fold(_probe(200.0, rssi=-40), _probe(150.0, rssi=-80), _probe(250.0), _probe(120.0))
    assert (stats["first_seen_ts"], stats["last_seen_ts"]) == (120.0, 250.0)
    assert stats["rssi_last_dbm"] == -40, (
        "the newest probe with a signal wins, not the last to arrive"
    )


def test_ssid_list_is_bounded_and_says_so() -> None:
    stats = _fold(
        *(_probe(float(i), f"net{i:03d}") for i in range(10)), _probe(11.0, "net000"), max_ssids=4
    )
    assert stats["ssids"] == ["net000", "net001", "net002", "net003"]
    assert stats["ssids_truncated"] is True and stats["unique_ssids"] == 4


def test_iso_utc_has_milliseconds_and_z() -> None:
    assert iso_utc(1700000000.1234) == "2023-11-14T22:13:20.123Z"
