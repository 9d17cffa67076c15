"""The command line without Kafka: clear errors, exit codes, summary, synth."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sniffer import cli
from sniffer.synth import write_pcap, write_synthetic_pcap
from tests.live.tap import wait_for_signal_handlers
from tests.unit.sniffer.fakes import FakeProducer
from tests.unit.sniffer.pcaps import REPO_ROOT, capture


@pytest.fixture
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeProducer]]:
    FakeProducer.instances = []
    FakeProducer.fail_every = 0
    monkeypatch.setattr(cli, "ProbeProducer", FakeProducer)
    monkeypatch.chdir(REPO_ROOT)
    for name in ("PROBEWATCH_TOPIC_PREFIX", "PROBEWATCH_SENSOR", "PROBEWATCH_PARTITIONS"):
        monkeypatch.delenv(name, raising=False)
    yield FakeProducer


def test_replay_summary(fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str]) -> None:
    path = capture("SamsungA53_01.pcap")
    code = cli.main(
        ["replay", str(path), "--no-progress", "--topic-prefix", "t1.", "--sensor", "x"]
    )
    out = capsys.readouterr().out
    assert code == 0
    [producer] = fake_kafka.instances
    assert producer.topic == "t1.probes"
    assert producer.ensured == 8
    assert producer.flushed
    assert len(producer.events) == 741
    assert {e.sensor for e in producer.events} == {"x"}
    assert "frames read:        8497" in out
    assert "741 produced to 't1.probes', 741 acknowledged by Kafka, 0 failed" in out
    assert "not-probe frames:   7756" in out
    assert "malformed skipped:  0" in out
    assert "frames/s" in out


def test_replay_counts_malformed(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(capture("bad_rsn_parsing")), str(capture("radiotap-heapoverflow"))]
    assert cli.main(["replay", *paths, "--no-progress"]) == 0
    assert "malformed skipped:  2" in capsys.readouterr().out


def test_undelivered_messages_exit_1(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_kafka.fail_every = 100
    code = cli.main(["replay", str(capture("position_2")), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert "4203 produced" in captured.out
    assert "42 failed" in captured.out
    assert "42 of 4203 probe requests were not acknowledged by Kafka" in captured.err
    assert "Message timed out" in captured.err


def test_missing_file_exits_2(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "good.pcap"
    write_synthetic_pcap(good, probes=5, devices=1)
    code = cli.main(["replay", str(good), str(tmp_path / "missing.pcap")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"probewatch-sniffer: error: {tmp_path}/missing.pcap: no such file"
    ]
    assert fake_kafka.instances == [], "no Kafka connection before the inputs are checked"


def test_non_capture_file_exits_2(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a capture\n" * 20)
    assert cli.main(["replay", str(notes)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"probewatch-sniffer: error: {notes}: not a pcap or pcapng capture file")
    assert len(err.splitlines()) == 1


def test_ethernet_capture_exits_2(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    eth = tmp_path / "eth.pcap"
    with eth.open("wb") as out:
        write_pcap(out, 1, [(1.0, b"\x00" * 60)])
    assert cli.main(["replay", str(eth)]) == 2
    assert "link type 1 (Ethernet) is not 802.11" in capsys.readouterr().err


def test_bad_environment_exits_2(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROBEWATCH_PARTITIONS", "many")
    assert cli.main(["replay", str(capture("position_2"))]) == 2
    assert "PROBEWATCH_PARTITIONS must be a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["replay"],
        ["replay", "x.pcap", "--rate", "original", "--speed", "2"],
        ["replay", "x.pcap", "--speed", "0"],
        ["replay", "x.pcap", "--rate", "fast"],
        ["live"],
        ["live", "--iface", "wlan0", "--count", "0"],
        ["synth"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_kafka_unreachable_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "CONNECT_TIMEOUT_S", 1.0)
    path = str(capture("position_2"))
    code = cli.main(["replay", path, "--bootstrap-servers", "127.0.0.1:1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in err


def test_live_missing_interface_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["live", "--iface", "pw-missing0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "probewatch-sniffer: error: no network interface named 'pw-missing0' (see `ip link`)"
    )


def test_live_wrong_link_type_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/sys/class/net/lo/type").exists():
        pytest.skip("needs Linux /sys/class/net")
    assert cli.main(["live", "--iface", "lo"]) == 2
    assert "ARPHRD 772 (loopback), not 802.11" in capsys.readouterr().err


def test_synth_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.pcap"
    argv = ["synth", str(out), "--probes", "500", "--devices", "20", "--seed", "3", "--rate", "50"]
    assert cli.main(argv) == 0
    first = out.read_bytes()
    assert "500 probe requests from 20 devices" in capsys.readouterr().out
    assert cli.main(argv) == 0
    assert out.read_bytes() == first


def test_synth_unwritable_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["synth", str(tmp_path / "no" / "such" / "dir.pcap")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_python_dash_m(tmp_path: Path) -> None:
    out = tmp_path / "m.pcap"
    result = subprocess.run(
        [sys.executable, "-m", "sniffer", "synth", str(out), "--probes", "10"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 24
    usage = subprocess.run(
        [sys.executable, "-m", "sniffer", "--help"], capture_output=True, text=True
    )
    assert "replay" in usage.stdout and "live" in usage.stdout and "synth" in usage.stdout


def test_sigint_stops_replay_with_summary_and_130(tmp_path: Path) -> None:
    """A paced replay interrupted by Ctrl-C still flushes and reports what it produced."""
    path = tmp_path / "slow.pcap"
    write_synthetic_pcap(path, probes=20, devices=2, rate=2.0)  # ~10 s at the original rate
    runner = (
        "import sys\n"
        "from sniffer import cli\n"
        "from tests.unit.sniffer.fakes import FakeProducer\n"
        "cli.ProbeProducer = FakeProducer\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", runner, "replay", str(path), "--rate", "original", "--no-progress"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_signal_handlers(proc.pid)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "interrupted: stopped before the end of the input" in err
    produced = int(out.split("probe requests:")[1].split()[0])
    assert 1 <= produced < 20
    assert f"{produced} acknowledged by Kafka" in out


def test_sample_mac_prints_the_busiest_sender(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sniffer.sample_mac import main as sample_mac

    assert sample_mac([str(capture("wpa-psk-linksys"))]) == 0
    assert capsys.readouterr().out.strip() == "00:13:ce:55:98:ef"  # its only prober
    assert sample_mac([str(capture("wpa.cap"))]) == 1  # no probe requests at all
    assert sample_mac([str(tmp_path / "missing.pcap")]) == 2
    assert sample_mac([]) == 2
