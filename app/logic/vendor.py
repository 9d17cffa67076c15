"""Vendor names from the IEEE OUI registry that netaddr ships."""

from __future__ import annotations

from functools import lru_cache

from netaddr import EUI, NotRegisteredError


@lru_cache(maxsize=65536)
def vendor_for(mac: str) -> str | None:
    """The organisation registered for the MAC's OUI, or None (randomized MACs have none)."""
    try:
        return str(EUI(mac).oui.registration().org)
    except (NotRegisteredError, ValueError, IndexError):
        return None
