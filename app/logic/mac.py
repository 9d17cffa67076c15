"""MAC addresses as users type them, and as probewatch keys them."""

from __future__ import annotations

import re

_HEX = re.compile(r"[0-9a-f]{12}")
#: A MAC as probewatch keys it (`aa:bb:cc:dd:ee:ff`), anchored for msgspec's pattern check.
CANONICAL_MAC_PATTERN = r"\A[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z"
_CANONICAL = re.compile(CANONICAL_MAC_PATTERN)
_SEPARATORS = str.maketrans("", "", ":-. ")


class InvalidMac(ValueError):
    """Raised for text that is not a 48-bit MAC address."""


def normalize_mac(text: str) -> str:
    """Return `aa:bb:cc:dd:ee:ff` for any common spelling (`AA-BB-…`, `aabb.ccdd.eeff`, upper case).

    Raises InvalidMac for anything else, so that a malformed key never reaches a table.
    """
    if not isinstance(text, str):
        raise InvalidMac("a MAC address must be text")
    if _CANONICAL.fullmatch(text):
        return text
    digits = text.strip().lower()
    groups = re.split(r"[:\-]", digits)
    if len(groups) == 6 and all(1 <= len(g) <= 2 for g in groups):
        digits = "".join(g.zfill(2) for g in groups)
    else:
        digits = digits.translate(_SEPARATORS)
    if not _HEX.fullmatch(digits):
        raise InvalidMac(f"not a MAC address: {text[:40]!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_canonical_mac(text: str) -> bool:
    """Whether `text` is a MAC as probewatch keys it (`aa:bb:cc:dd:ee:ff`)."""
    return _CANONICAL.fullmatch(text) is not None


def is_randomized(mac: str) -> bool:
    """True when the locally-administered bit is set: the address was made up by the device."""
    return bool(int(mac[0:2], 16) & 0x02)
