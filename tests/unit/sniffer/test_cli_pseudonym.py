"""`probewatch-sniffer pseudonym-key`, `pseudonym`, and replay with pseudonyms (no Kafka)."""

from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path

import pytest

from sniffer import cli
from sniffer.capture import read_capture
from sniffer.parse import parse_frame
from sniffer.pseudonym import (
    fingerprint_pseudonym,
    key_from_hex,
    mac_pseudonym,
    ssid_pseudonym,
)
from tests.pcaps import capture
from tests.unit.sniffer.fakes import FakeProducer

KEY_HEX = bytes(range(7, 39)).hex()
CLI = "probewatch-sniffer"


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file only its owner reads, configured (pseudonymising itself still off)."""
    path = tmp_path / "pseudonym.key"
    path.write_text(KEY_HEX + "\n")
    path.chmod(0o600)
    for name in list(os.environ):
        if name.startswith("PROBEWATCH_PSEUDONYM"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROBEWATCH_PSEUDONYM_KEY_FILE", str(path))
    return path


def test_pseudonym_key_writes_a_new_key_only_its_owner_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new.key"
    old_umask = os.umask(0)  # even a permissive umask gives 0600
    try:
        assert cli.main(["pseudonym-key", str(path)]) == 0
    finally:
        os.umask(old_umask)
    out, err = capsys.readouterr()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(text.strip()) == 64 and text.endswith("\n")
    key_from_hex(text)  # a usable 256-bit key
    assert text.strip() not in out + err, "the key is never printed"
    assert f"PROBEWATCH_PSEUDONYM_KEY_FILE={path}" in out

    assert cli.main(["pseudonym-key", str(path)]) == 2, "an existing key is never replaced"
    assert "exists: not replaced" in capsys.readouterr().err
    assert path.read_text() == text
    assert cli.main(["pseudonym-key", str(tmp_path / "no" / "such" / "dir" / "k")]) == 2
    assert "cannot create" in capsys.readouterr().err


def test_pseudonym_prints_each_value_and_its_pseudonym(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROBEWATCH_PSEUDONYMIZE", "hmac")
    monkeypatch.setenv("PROBEWATCH_PSEUDONYM_SSIDS", "true")
    key = key_from_hex(KEY_HEX)
    args = ["pseudonym", "AA-BB-CC-DD-EE-FF", "0013.ce55.98ef", "--ssid", "HomeNet"]
    args += ["--ssid", "caf\\xe9", "--fingerprint", "0123456789ABCDEF"]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    cafe = ssid_pseudonym(key, b"caf\xe9")  # the octets the text form stands for
    assert out.splitlines() == [
        f"aa:bb:cc:dd:ee:ff\t{mac_pseudonym(key, 'aa:bb:cc:dd:ee:ff')}",
        f"00:13:ce:55:98:ef\t{mac_pseudonym(key, '00:13:ce:55:98:ef')}",
        f"HomeNet\t{ssid_pseudonym(key, b'HomeNet')}",
        f"caf\\xe9\t{cafe}",
        f"0123456789abcdef\t{fingerprint_pseudonym(key, '0123456789abcdef')}",
    ]
    assert KEY_HEX not in out + err

    monkeypatch.setenv("PROBEWATCH_PSEUDONYM_KEEP_OUI", "yes")
    assert cli.main(["pseudonym", "00:13:ce:55:98:ef"]) == 0
    assert capsys.readouterr().out.split("\t")[1].startswith("00:13:ce:")


def test_pseudonym_warns_when_the_sniffer_would_not_send_them(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["pseudonym", "00:11:22:33:44:55"]) == 0
    assert "PROBEWATCH_PSEUDONYMIZE is off" in capsys.readouterr().err
    monkeypatch.setenv("PROBEWATCH_PSEUDONYMIZE", "hmac")
    assert cli.main(["pseudonym", "--ssid", "HomeNet"]) == 0
    assert "PROBEWATCH_PSEUDONYM_SSIDS is off" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pseudonym"], "give at least one MAC, --ssid or --fingerprint"),
        (["pseudonym", "00:11:22:33:44"], "not a MAC address: '00:11:22:33:44'"),
        (["pseudonym", "--fingerprint", "xyz"], "ie_fingerprint is 16 lower-case hex"),
        (["pseudonym", "--ssid", ""], "the empty SSID is the wildcard"),
        (["pseudonym", "--ssid", "x" * 33], "at most 32 bytes"),
    ],
)
def test_pseudonym_refuses_bad_input_with_exit_2(
    key_file: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{CLI}: error: ") and message in err


def test_pseudonym_without_a_usable_key_exits_2(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file.chmod(0o644)
    assert cli.main(["pseudonym", "00:11:22:33:44:55"]) == 2
    err = capsys.readouterr().err
    assert "may be read or written by others (mode 0644)" in err
    assert KEY_HEX not in err
    monkeypatch.delenv("PROBEWATCH_PSEUDONYM_KEY_FILE")
    assert cli.main(["pseudonym", "00:11:22:33:44:55"]) == 2
    assert "no pseudonym key: set PROBEWATCH_PSEUDONYM_KEY_FILE" in capsys.readouterr().err


def test_replay_with_a_world_readable_key_exits_2_before_kafka(
    fake_kafka: type[FakeProducer],
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PROBEWATCH_PSEUDONYMIZE", "hmac")
    key_file.chmod(0o604)
    assert cli.main(["replay", str(capture("SamsungA53_01.pcap")), "--no-progress"]) == 2
    assert "PROBEWATCH_PSEUDONYM_KEY_FILE" in capsys.readouterr().err
    assert fake_kafka.instances == [], "nothing was sent"


def test_replay_sends_only_pseudonyms(
    fake_kafka: type[FakeProducer],
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(capture("SamsungA53_01.pcap"))
    assert cli.main(["replay", path, "--no-progress"]) == 0
    assert "pseudonyms:" not in capsys.readouterr().out
    real = fake_kafka.instances[0].events

    monkeypatch.setenv("PROBEWATCH_PSEUDONYMIZE", "hmac")
    monkeypatch.setenv("PROBEWATCH_PSEUDONYM_SSIDS", "true")
    assert cli.main(["replay", path, "--no-progress"]) == 0
    assert "pseudonyms:         hmac: MACs, ie_fingerprints, SSIDs" in capsys.readouterr().out
    sent = fake_kafka.instances[1].events
    key = key_from_hex(KEY_HEX)
    assert len(sent) == len(real) == 741
    for before, after in zip(real, sent, strict=True):
        assert after.mac == mac_pseudonym(key, before.mac)
        assert after.randomized == before.randomized
        assert after.ie_fingerprint == (
            before.ie_fingerprint and fingerprint_pseudonym(key, before.ie_fingerprint)
        )
        assert (after.ssid == "") == (before.ssid == "")
        assert (after.ts, after.seq, after.rssi_dbm) == (before.ts, before.seq, before.rssi_dbm)
    assert Counter(e.mac for e in sent).most_common(3) == [
        (mac_pseudonym(key, mac), count)
        for mac, count in Counter(e.mac for e in real).most_common(3)
    ], "each device keeps one pseudonym: the same counts"
    secrets = {e.mac for e in real} | {e.ssid for e in real if e.ssid}
    secrets |= {e.ie_fingerprint for e in real if e.ie_fingerprint}
    sent_json = b"".join(e.to_json() for e in sent).decode()
    assert not [value for value in secrets if value in sent_json]


@pytest.mark.parametrize("pseudonymize", ["off", "hmac"])
def test_the_sniffers_messages_never_name_a_device(
    fake_kafka: type[FakeProducer],
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pseudonymize: str,
) -> None:
    """Its summary, warnings and errors (a damaged file, undelivered probes) name files, places
    and counts: no MAC or SSID, pseudonymised or not."""
    monkeypatch.setenv("PROBEWATCH_PSEUDONYMIZE", pseudonymize)
    fake_kafka.fail_every = 50
    paths = [str(capture("SamsungA53_01.pcap")), str(capture("bad_rsn_parsing"))]
    assert cli.main(["replay", *paths]) == 1
    out, err = capsys.readouterr()
    assert "could not be read" in err and "not acknowledged" in err
    events = fake_kafka.instances[0].events
    names = {e.mac for e in events} | {e.ssid for e in events if len(e.ssid) > 3}
    plain = [e for lt, d, ts in read_capture(paths[0]) if (e := parse_frame(lt, d, ts, ""))]
    names |= {e.mac for e in plain} | {e.ssid for e in plain if len(e.ssid) > 3}
    assert len(names) > 90
    assert not [name for name in names if name in out + err]


def test_sample_mac_prints_the_pseudonym_when_pseudonymising(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sniffer.sample_mac import main as sample_mac

    monkeypatch.setenv("PROBEWATCH_PSEUDONYMIZE", "hmac")
    assert sample_mac([str(capture("wpa-psk-linksys"))]) == 0
    assert capsys.readouterr().out.strip() == mac_pseudonym(
        key_from_hex(KEY_HEX), "00:13:ce:55:98:ef"
    )
    key_file.chmod(0o640)
    assert sample_mac([str(capture("wpa-psk-linksys"))]) == 2
