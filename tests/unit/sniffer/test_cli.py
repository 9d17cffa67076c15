"""The command line without Kafka: clear errors, exit codes, summary, synth."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sniffer import cli
from sniffer.synth import write_pcap, write_synthetic_pcap
from tests.harness import wait_for
from tests.live.tap import wait_for_signal_handlers
from tests.pcaps import capture
from tests.unit.sniffer.fake_kafka_cli import FAKE_KAFKA_CLI, SENT_FILE, sent_count
from tests.unit.sniffer.fakes import FakeProducer
from tests.workdir import empty_workdir, python_env


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
    assert "not 802.11 skipped: 0 frames" in out
    assert "unreadable skipped: 0 bytes in 0 places of 0 files" in out
    assert "frames/s" in out


def test_replay_counts_malformed_and_skipped_bytes(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str]
) -> None:
    """bad_rsn_parsing ends in one stray byte (360 bytes, the record ends at 359).

    That byte used to count as a malformed frame with exit 0; it is now a skipped byte: exit 3.
    """
    stray = str(capture("bad_rsn_parsing"))
    paths = [stray, str(capture("radiotap-heapoverflow"))]
    assert cli.main(["replay", *paths, "--no-progress"]) == 3
    out, err = capsys.readouterr()
    assert "frames read:        2\n" in out
    assert "malformed skipped:  1\n" in out
    assert "unreadable skipped: 1 byte in 1 place of 1 file\n" in out
    assert err.splitlines() == [
        f"probewatch-sniffer: warning: {stray}: skipped 1 byte that could not be read, in 1 "
        "place (at byte 359: record header cut off by the end of the file (1 of 16 bytes))",
        "probewatch-sniffer: error: input damaged: skipped 1 byte that could not be read, in 1 "
        "place of 1 file (see the warnings above); the probe requests that could be read were "
        "produced",
    ]


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


def test_kafka_failure_takes_precedence_over_damage(
    fake_kafka: type[FakeProducer], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_kafka.fail_every = 100
    paths = [str(capture("bad_rsn_parsing")), str(capture("position_2"))]
    assert cli.main(["replay", *paths, "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "unreadable skipped: 1 byte in 1 place of 1 file" in out
    assert "skipped 1 byte that could not be read" in err
    assert "42 of 4203 probe requests were not acknowledged by Kafka" in err
    assert "input damaged" not in err


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
        ["replay", "x.pcap", "--speed", "1e-300"],
        ["replay", "x.pcap", "--speed", "1e300"],
        ["replay", "x.pcap", "--speed", "nan"],
        ["replay", "x.pcap", "--speed", "inf"],
        ["replay", "x.pcap", "--speed", "0.0009"],
        ["replay", "x.pcap", "--speed", "1000001"],
        ["live", "--iface", "wlan0", "--timeout", "inf"],
        ["live", "--iface", "wlan0", "--timeout", "1e300"],
        ["live", "--iface", "wlan0", "--count", "1000000000001"],
        ["synth", "o.pcap", "--probes", "-1"],
        ["synth", "o.pcap", "--probes", "10000001"],
        ["synth", "o.pcap", "--devices", "0"],
        ["synth", "o.pcap", "--seed", "-1"],
        ["synth", "o.pcap", "--seed", "18446744073709551616"],
        ["synth", "o.pcap", "--rate", "1e-300"],
        ["synth", "o.pcap", "--rate", "nan"],
        ["synth", "o.pcap", "--start", "-1"],
        ["synth", "o.pcap", "--start", "4102444800"],
        ["synth", "o.pcap", "--start", "inf"],
        ["replay", "x.pcap", "--rate", "fast"],
        ["live"],
        ["live", "--iface", "wlan0", "--count", "0"],
        ["synth"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["replay", "x.pcap", "--speed", "1e-300"],
            "argument --speed: must be between 0.001 and 1,000,000: '1e-300'",
        ),
        (
            ["live", "--iface", "w", "--timeout", "inf"],
            "argument --timeout: must be between 0.001 and 31,622,400: 'inf'",
        ),
        (
            ["synth", "o.pcap", "--start", "4102444800"],
            "argument --start: must be between 0 and 4,102,444,799: '4102444800'",
        ),
        (["synth", "o.pcap", "--probes", "many"], "argument --probes: not a whole number: 'many'"),
    ],
)
def test_out_of_range_options_say_the_bounds(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert capsys.readouterr().err.strip().endswith(f"error: {message}")


def test_synth_that_would_run_past_2100_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "late.pcap"
    argv = ["synth", str(out), "--start", "4102000000", "--probes", "1000", "--rate", "0.001"]
    assert cli.main(argv) == 2
    assert "would not end before 2100-01-01" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S", "inf"),
        ("PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S", "1e300"),
        ("PROBEWATCH_PARTITIONS", "99999999999999999999"),
    ],
)
def test_absurd_settings_exit_2(
    fake_kafka: type[FakeProducer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert cli.main(["replay", str(capture("position_2"))]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err


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
        cwd=empty_workdir(),
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
    sent = tmp_path / "sent"
    proc = subprocess.Popen(
        [*FAKE_KAFKA_CLI, "replay", str(path), "--rate", "original", "--no-progress"],
        cwd=empty_workdir(),
        env=python_env(**{SENT_FILE: str(sent)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_signal_handlers(proc.pid)
    wait_for(lambda: sent_count(sent) >= 1, 30, "the first probe request produced")
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
