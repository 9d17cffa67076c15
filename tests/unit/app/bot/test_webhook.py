"""Who sent a webhook request: the peer, X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

import ipaddress

from app.bot.config import parse_networks
from app.bot.webhook import client_address, network_allowed, secret_matches

TELEGRAM = parse_networks("149.154.160.0/20, 91.108.4.0/22", "test")
PROXY = parse_networks("127.0.0.1/32, 10.0.0.0/8", "test")
ip = ipaddress.ip_address


def test_without_trusted_proxies_the_peer_counts() -> None:
    assert client_address("203.0.113.9", "149.154.167.1", ()) == ip("203.0.113.9")
    assert client_address("::ffff:149.154.167.1", None, ()) == ip("149.154.167.1")
    assert client_address(None, None, ()) is None


def test_behind_a_trusted_proxy_the_right_most_other_hop_counts() -> None:
    forged_then_real = "149.154.167.1, 203.0.113.9, 10.1.2.3"
    assert client_address("127.0.0.1", forged_then_real, PROXY) == ip("203.0.113.9")
    assert client_address("127.0.0.1", "149.154.167.1", PROXY) == ip("149.154.167.1")
    assert client_address("127.0.0.1", "garbage", PROXY) is None
    assert client_address("127.0.0.1", None, PROXY) == ip("127.0.0.1")
    assert client_address("203.0.113.9", "149.154.167.1", PROXY) == ip("203.0.113.9")


def test_the_network_allow_list() -> None:
    assert network_allowed(ip("203.0.113.9"), ())
    assert network_allowed(ip("149.154.167.1"), TELEGRAM)
    assert not network_allowed(ip("203.0.113.9"), TELEGRAM)
    assert not network_allowed(ip("2001:db8::1"), TELEGRAM)
    assert not network_allowed(None, TELEGRAM)


def test_the_secret_header() -> None:
    assert secret_matches("s3cret", "s3cret")
    assert not secret_matches("s3cret2", "s3cret")
    assert not secret_matches("", "s3cret")
    assert not secret_matches(None, "s3cret")
