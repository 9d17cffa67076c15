"""Live capture for real: frames of a monitor-mode capture written into a radiotap TAP.

The kernel's packet socket and BPF filter do the selecting, so these tests check what a sensor
would see: only probe requests arrive, parsed exactly like the same frames from the file.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

from sniffer import cli
from sniffer.capture import CaptureError, live_frames, read_capture
from sniffer.event import ProbeEvent
from sniffer.parse import parse_frame
from sniffer.pipeline import Counts, pump
from tests.harness import wait_for
from tests.live.tap import (
    ARPHRD_ETHER,
    TapInterface,
    radiotap_tap,
    tap_skip_reason,
    wait_for_listener,
    wait_for_signal_handlers,
)
from tests.pcaps import capture
from tests.unit.sniffer.fake_kafka_cli import FAKE_KAFKA_CLI, SENT_FILE, sent_count
from tests.unit.sniffer.fakes import FakeProducer, FakeSink
from tests.workdir import empty_workdir, python_env

__all__ = ["radiotap_tap"]  # the fixture, imported for pytest

_SKIP = tap_skip_reason()
pytestmark = [pytest.mark.live, pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")]


def _file_probes(path: Path) -> list[ProbeEvent]:
    found = (parse_frame(lt, data, 0.0, "live") for lt, data, _ts in read_capture(path))
    return [event for event in found if event is not None]


def _without_time(events: list[ProbeEvent]) -> list[ProbeEvent]:
    return [msgspec.structs.replace(event, ts=0.0) for event in events]


def test_only_probe_requests_arrive_parsed_as_from_the_file(radiotap_tap: TapInterface) -> None:
    path = capture("SamsungA53_01.pcap")  # beacons, probe responses, data ... and 741 probes
    records = list(read_capture(path))
    expected = _file_probes(path)
    assert len(records) == 8497 and len(expected) == 741

    stop = threading.Event()
    frames = live_frames(radiotap_tap.name, timeout=60, stop=stop)
    sink, counts = FakeSink(), Counts()
    receiver = threading.Thread(
        target=pump, args=(frames, sink, "live", counts), kwargs={"stop": stop}
    )
    receiver.start()
    started = time.time()
    try:
        radiotap_tap.replay(records, rate=8000)
        deadline = time.monotonic() + 15
        while counts.frames < len(expected) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything beyond the probe requests would arrive now
    finally:
        stop.set()
        receiver.join(timeout=5)
    assert counts == Counts(frames=741, probes=741, not_probe=0, malformed=0)
    assert _without_time(sink.events) == expected
    assert all(started - 1 <= event.ts <= time.time() + 1 for event in sink.events)


def test_cli_live_count_and_summary(
    radiotap_tap: TapInterface,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    FakeProducer.instances = []
    FakeProducer.fail_every = 0
    monkeypatch.setattr(cli, "ProbeProducer", FakeProducer)
    records = list(read_capture(capture("HuaweiTablet_01_filtered.pcapng")))

    def feed() -> None:
        wait_for_listener(radiotap_tap.name)
        radiotap_tap.replay(records[:300], rate=3000)

    writer = threading.Thread(target=feed)
    writer.start()
    argv = ["live", "--iface", radiotap_tap.name, "--count", "100", "--timeout", "30"]
    code = cli.main([*argv, "--no-progress", "--sensor", "tap"])
    writer.join(timeout=10)
    out = capsys.readouterr().out
    assert code == 0
    [producer] = FakeProducer.instances
    assert len(producer.events) == 100
    from_file = _without_time(_file_probes_of(records))[:100]
    assert _without_time(producer.events) == [
        msgspec.structs.replace(e, sensor="tap") for e in from_file
    ]
    assert "frames read:        100" in out
    assert "100 produced" in out


def _file_probes_of(records: list[tuple[int, bytes, float]]) -> list[ProbeEvent]:
    return [e for lt, d, _ts in records if (e := parse_frame(lt, d, 0.0, "live"))]


def test_cli_live_timeout_without_traffic(
    radiotap_tap: TapInterface,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "ProbeProducer", FakeProducer)
    started = time.monotonic()
    argv = ["live", "--iface", radiotap_tap.name, "--timeout", "0.5", "--no-progress"]
    assert cli.main(argv) == 0
    assert 0.4 < time.monotonic() - started < 5
    assert "frames read:        0" in capsys.readouterr().out


def test_sigterm_ends_live_capture_cleanly(radiotap_tap: TapInterface, tmp_path: Path) -> None:
    records = list(read_capture(capture("HuaweiTablet_01_filtered.pcapng")))
    sent = tmp_path / "sent"
    proc = subprocess.Popen(
        [*FAKE_KAFKA_CLI, "live", "--iface", radiotap_tap.name, "--no-progress"],
        cwd=empty_workdir(),
        env=python_env(**{SENT_FILE: str(sent)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_listener(radiotap_tap.name)
        wait_for_signal_handlers(proc.pid)
        radiotap_tap.replay(records, rate=5000)
        wait_for(lambda: sent_count(sent) == len(records), 30, "every frame captured and sent")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"probe requests:     {len(records)} produced" in out
    assert f"{len(records)} acknowledged" in out


def test_missing_interface(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CaptureError, match="no network interface named 'pwnothere0'"):
        live_frames("pwnothere0")
    assert cli.main(["live", "--iface", "pwnothere0"]) == 2
    assert "no network interface named 'pwnothere0'" in capsys.readouterr().err


def test_ethernet_tap_is_not_monitor_mode(capsys: pytest.CaptureFixture[str]) -> None:
    with TapInterface(arphrd=ARPHRD_ETHER) as tap:
        with pytest.raises(CaptureError, match=r"ARPHRD 1 \(Ethernet\), not 802.11"):
            live_frames(tap.name)
        assert cli.main(["live", "--iface", tap.name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("probewatch-sniffer: error: interface")
    assert "not in monitor mode" in err


def test_loopback_is_not_monitor_mode() -> None:
    with pytest.raises(CaptureError, match=r"'lo' has link type ARPHRD 772 \(loopback\)"):
        live_frames("lo")


def _drop_net_raw() -> None:
    """In the child: lose CAP_NET_RAW for good, which is what not being root means here."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_CAPBSET_DROP, _CAP_NET_RAW, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


_PR_CAPBSET_DROP = 24
_CAP_NET_RAW = 13


def test_not_root_is_a_clear_error(radiotap_tap: TapInterface) -> None:
    """Without CAP_NET_RAW (a normal user) opening the packet socket fails: say so clearly.

    The venv's interpreter may sit under /root, out of reach of a real unprivileged user, so
    the child stays uid 0 but loses the capability a packet socket needs.
    """
    result = subprocess.run(
        [sys.executable, "-m", "sniffer", "live", "--iface", radiotap_tap.name],
        cwd=empty_workdir(),
        capture_output=True,
        text=True,
        preexec_fn=_drop_net_raw,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"probewatch-sniffer: error: live capture on '{radiotap_tap.name}' needs root "
        "(or CAP_NET_RAW): run with sudo"
    )


def test_interface_is_removed_afterwards() -> None:
    with TapInterface() as tap:
        assert Path(f"/sys/class/net/{tap.name}/type").read_text().strip() == "803"
    assert not Path(f"/sys/class/net/{tap.name}").exists()
