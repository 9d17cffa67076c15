"""Vendor names from the IEEE OUI registry that netaddr ships."""

from __future__ import annotations

from functools import lru_cache

from netaddr import EUI, NotRegisteredError

from app.logic.mac import is_canonical_mac


@lru_cache(maxsize=65536)
def vendor_for(mac: str) -> str | None:
    """The organisation registered for the MAC's OUI, or None (randomized MACs have none).

    Looked up once per OUI: netaddr reads the registry file on every look-up, which is most of
    the cost of serving a device. Remembered per MAC too: the lake names one per probe.
    """
    if is_canonical_mac(mac):
        return _vendor_of_oui(mac[:8])
    return _vendor_of_mac(mac)


@lru_cache(maxsize=65536)
def _vendor_of_oui(oui: str) -> str | None:
    return _vendor_of_mac(f"{oui}:00:00:00")


def _vendor_of_mac(mac: str) -> str | None:
    try:
        return str(EUI(mac).oui.registration().org)
    except (NotRegisteredError, ValueError, IndexError):
        return None


def load_registry() -> None:
    """Load netaddr's OUI index now: it is read on the first look-up (~60 ms here), which would
    otherwise stall the first request that shows a vendor, and every request queued behind it."""
    _vendor_of_mac("00:00:00:00:00:00")
