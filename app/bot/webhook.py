"""Checks on a webhook request that need neither faust nor aiogram: who sent it, and with what.

Kept pure so the rules are unit-tested; `app.web.telegram` applies them to each request.
"""

from __future__ import annotations

import hmac
import ipaddress

from app.bot.config import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str | None) -> Address | None:
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[Network, ...]
) -> Address | None:
    """The address a request came from.

    The TCP peer, unless the peer is a trusted proxy: then the right-most X-Forwarded-For entry
    that is not itself a trusted proxy (entries further left are written by the client and
    could be forged). With no trusted proxies the header is ignored.
    """
    address = _address(peer)
    if address is None or not _within(address, trusted_proxies) or not forwarded_for:
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _address(hop)
        if hop_address is None:
            return None
        if not _within(hop_address, trusted_proxies):
            return hop_address
    return address


def network_allowed(address: Address | None, allowed: tuple[Network, ...]) -> bool:
    """True with no allow-list; otherwise only for an address inside one of its networks."""
    if not allowed:
        return True
    return address is not None and _within(address, allowed)


def secret_matches(header: str | None, secret: str) -> bool:
    """Constant-time check of `X-Telegram-Bot-Api-Secret-Token`; a missing header fails.

    The header is compared as the bytes the client sent: aiohttp decodes header bytes that are
    not UTF-8 to lone surrogates ("surrogateescape"), which encode back to exactly those bytes.
    A value that cannot be bytes on the wire simply does not match.
    """
    if header is None:
        return False
    try:
        given = header.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given, secret.encode())


def _within(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)
