"""Sniffer settings from the environment and .env."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sniffer.settings import SnifferSettings, read_env_file


def test_defaults(tmp_path: Path) -> None:
    settings = SnifferSettings.from_env({}, env_file=tmp_path / "absent.env")
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.topic_prefix == ""
    assert settings.partitions == 8
    assert settings.sensor == socket.gethostname()
    assert settings.probes_topic == "probes"
    assert settings.delivery_timeout_s == 300.0


def test_environment(tmp_path: Path) -> None:
    env = {
        "PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
        "PROBEWATCH_TOPIC_PREFIX": "site1.",
        "PROBEWATCH_PARTITIONS": "12",
        "PROBEWATCH_SENSOR": "roof",
        "PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S": "2.5",
    }
    settings = SnifferSettings.from_env(env, env_file=None)
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.probes_topic == "site1.probes"
    assert settings.partitions == 12
    assert settings.sensor == "roof"
    assert settings.delivery_timeout_s == 2.5


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n"
        "export PROBEWATCH_TOPIC_PREFIX='test.'\n"
        'PROBEWATCH_SENSOR="from-file"\n'
        "PROBEWATCH_PARTITIONS=3\n"
        "OTHER=1\n"
    )
    settings = SnifferSettings.from_env({"PROBEWATCH_PARTITIONS": "4"}, env_file=env_file)
    assert settings.topic_prefix == "test."
    assert settings.sensor == "from-file"
    assert settings.partitions == 4
    assert read_env_file(env_file)["OTHER"] == "1"


@pytest.mark.parametrize("value", ["eight", "0", "-2", "1.5"])
def test_bad_partitions_name_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="PROBEWATCH_PARTITIONS"):
        SnifferSettings.from_env({"PROBEWATCH_PARTITIONS": value}, env_file=None)


def test_bad_delivery_timeout() -> None:
    with pytest.raises(ValueError, match="PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S"):
        SnifferSettings.from_env({"PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S": "0"}, env_file=None)


def test_blank_sensor_falls_back_to_hostname() -> None:
    settings = SnifferSettings.from_env({"PROBEWATCH_SENSOR": "  "}, env_file=None)
    assert settings.sensor == socket.gethostname()
