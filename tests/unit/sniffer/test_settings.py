"""Sniffer settings from the environment and .env."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sniffer.pseudonym import mac_pseudonym
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


# Pseudonyms: PROBEWATCH_PSEUDONYMIZE, the key (a file only its owner reads, or hex), options.

KEY_HEX = bytes(range(100, 132)).hex()


def _key_file(tmp_path: Path, text: str = KEY_HEX, mode: int = 0o600) -> Path:
    path = tmp_path / "pseudonym.key"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def test_pseudonyms_are_off_by_default() -> None:
    settings = SnifferSettings.from_env({}, env_file=None)
    assert settings.pseudonymize == "off"
    assert settings.pseudonym_key is None
    assert settings.pseudonymizer() is None
    assert (settings.pseudonym_keep_oui, settings.pseudonym_ssids) == (False, False)


def test_hmac_with_a_key_file(tmp_path: Path) -> None:
    env = {
        "PROBEWATCH_PSEUDONYMIZE": "HMAC",
        "PROBEWATCH_PSEUDONYM_KEY_FILE": str(_key_file(tmp_path)),
        "PROBEWATCH_PSEUDONYM_KEEP_OUI": "true",
        "PROBEWATCH_PSEUDONYM_SSIDS": "1",
    }
    settings = SnifferSettings.from_env(env, env_file=None)
    pseudonyms = settings.pseudonymizer()
    assert pseudonyms is not None
    assert (pseudonyms.keep_oui, pseudonyms.ssids) == (True, True)
    from_env = SnifferSettings.from_env(
        {"PROBEWATCH_PSEUDONYMIZE": "hmac", "PROBEWATCH_PSEUDONYM_KEY": KEY_HEX}, env_file=None
    ).pseudonymizer()
    assert from_env is not None
    assert mac_pseudonym(pseudonyms.key, "00:11:22:33:44:55") == mac_pseudonym(
        from_env.key, "00:11:22:33:44:55"
    ), "the same key from a file or from the environment"


def test_the_key_is_never_in_the_settings_repr(tmp_path: Path) -> None:
    env = {
        "PROBEWATCH_PSEUDONYMIZE": "hmac",
        "PROBEWATCH_PSEUDONYM_KEY_FILE": str(_key_file(tmp_path)),
    }
    settings = SnifferSettings.from_env(env, env_file=None)
    assert KEY_HEX not in repr(settings)
    assert bytes.fromhex(KEY_HEX).decode("latin-1") not in repr(settings)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o700 | 0o004])
def test_a_key_file_others_may_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = _key_file(tmp_path, mode=mode)
    env = {"PROBEWATCH_PSEUDONYMIZE": "hmac", "PROBEWATCH_PSEUDONYM_KEY_FILE": str(path)}
    with pytest.raises(ValueError, match=r"PROBEWATCH_PSEUDONYM_KEY_FILE.*chmod 600") as err:
        SnifferSettings.from_env(env, env_file=None)
    assert f"mode {mode:04o}" in str(err.value)
    assert KEY_HEX not in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ab" * 31, "at least 32 bytes"),  # 248 bits of hex
        ("short raw key", "at least 32 bytes"),
        ("00" * 32, "placeholder"),
    ],
)
def test_a_short_or_placeholder_key_file_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _key_file(tmp_path, text)
    with pytest.raises(ValueError, match=rf"PROBEWATCH_PSEUDONYM_KEY_FILE: .*{message}") as err:
        SnifferSettings.from_env({"PROBEWATCH_PSEUDONYM_KEY_FILE": str(path)}, env_file=None)
    assert text not in str(err.value)


def test_a_raw_key_file_is_read_as_octets(tmp_path: Path) -> None:
    path = tmp_path / "raw.key"
    path.write_bytes(bytes(range(256))[::-1][:48])
    path.chmod(0o600)
    settings = SnifferSettings.from_env({"PROBEWATCH_PSEUDONYM_KEY_FILE": str(path)}, None)
    assert settings.pseudonym_key is not None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROBEWATCH_PSEUDONYMIZE": "sha1"}, "PROBEWATCH_PSEUDONYMIZE must be one of off, hmac"),
        ({"PROBEWATCH_PSEUDONYMIZE": "hmac"}, "PROBEWATCH_PSEUDONYMIZE=hmac needs a key"),
        ({"PROBEWATCH_PSEUDONYM_KEY": "ab" * 16}, "PROBEWATCH_PSEUDONYM_KEY: .*at least 32"),
        ({"PROBEWATCH_PSEUDONYM_KEY": "not hex" * 10}, "PROBEWATCH_PSEUDONYM_KEY: .*hex"),
        ({"PROBEWATCH_PSEUDONYM_KEY_FILE": "/nonexistent/key"}, "no such file"),
        ({"PROBEWATCH_PSEUDONYM_KEY_FILE": "/"}, "not a regular file"),
        ({"PROBEWATCH_PSEUDONYM_KEY": KEY_HEX, "PROBEWATCH_PSEUDONYM_KEY_FILE": "k"}, "both"),
        ({"PROBEWATCH_PSEUDONYM_SSIDS": "maybe"}, "PROBEWATCH_PSEUDONYM_SSIDS must be true"),
        ({"PROBEWATCH_PSEUDONYM_KEEP_OUI": "2"}, "PROBEWATCH_PSEUDONYM_KEEP_OUI must be true"),
    ],
)
def test_unusable_pseudonym_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SnifferSettings.from_env(env, env_file=None)


def test_a_key_in_the_env_file_needs_an_env_file_only_its_owner_reads(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"PROBEWATCH_PSEUDONYMIZE=hmac\nPROBEWATCH_PSEUDONYM_KEY={KEY_HEX}\n")
    env_file.chmod(0o644)
    with pytest.raises(ValueError, match=r"read from .*\.env.*mode 0644.*chmod 600"):
        SnifferSettings.from_env({}, env_file=env_file)
    env_file.chmod(0o600)
    assert SnifferSettings.from_env({}, env_file=env_file).pseudonymizer() is not None
    env_file.chmod(0o644)  # the environment's own key does not come from the file
    settings = SnifferSettings.from_env({"PROBEWATCH_PSEUDONYM_KEY": KEY_HEX[::-1]}, env_file)
    assert settings.pseudonymizer() is not None
