"""Keyed pseudonyms for MACs, IE fingerprints and SSIDs, made on the sensor before anything leaves.

Every pseudonym is HMAC-SHA256 under a secret key of at least 256 bits that stays on the sensor
host, over the value's octets behind a context string of its own kind, so a value of one kind
never yields another kind's pseudonym. The same key gives the same pseudonym for the same value
(a device keeps one pseudonym); another key gives unrelated ones (a new key starts new
pseudonyms, which cannot be linked to the old ones). Whoever holds the key can compute the
pseudonym of a real value (`probewatch-sniffer pseudonym`); nobody can go back without it.

The forms are those of the values, so no consumer changes:

- a MAC becomes a MAC: its locally administered bit is the real one's (`randomized` stays what it
  was), its group (multicast) bit is cleared, the other 46 bits come from the HMAC. With
  `keep_oui`, a globally administered MAC keeps its first three octets (the vendor's OUI) and
  only the last three come from the HMAC. A randomized MAC never keeps them: they are random
  octets of the real address, no vendor, and keeping them would give away 22 of its bits.
- an `ie_fingerprint` (16 hex digits) becomes 16 other hex digits: the HMAC of its 8 octets.
- an SSID becomes `~` and 16 hex digits: the HMAC of its octets. The empty SSID (a wildcard
  probe, for any network) names no network and stays empty.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
from typing import Final

from sniffer.event import ProbeEvent

#: The shortest key accepted: 256 bits.
KEY_MIN_BYTES: Final = 32
#: What `new_key_text` makes: 256 random bits as 64 hex digits.
NEW_KEY_BYTES: Final = 32
#: A key with fewer distinct octets is a placeholder (all zeros, "aaaa…"), not a random key.
_KEY_MIN_DISTINCT: Final = 8

# One context per kind of value; each ends in NUL, which none of them contains otherwise, so no
# input of one kind is the input of another.
_MAC: Final = b"probewatch pseudonym v1: mac\x00"
_MAC_KEEP_OUI: Final = b"probewatch pseudonym v1: mac keeping its oui\x00"
_FINGERPRINT: Final = b"probewatch pseudonym v1: ie_fingerprint\x00"
_SSID: Final = b"probewatch pseudonym v1: ssid\x00"

#: What starts every SSID pseudonym.
SSID_MARK: Final = "~"
_LOCAL_BIT: Final = 0x02
_GROUP_BIT: Final = 0x01

_HEX_DIGITS = frozenset(string.hexdigits.encode())
_MAC_HEX = re.compile(r"[0-9a-f]{12}")
_FINGERPRINT_HEX = re.compile(r"[0-9a-f]{16}")
_MAC_SEPARATORS = str.maketrans("", "", ":-. ")

#: Values kept per kind before a cache starts again from empty (bounded memory on a sensor that
#: sees millions of random MACs; a device seen again after that is looked up once more).
CACHE_SIZE: Final = 100_000


class PseudonymKey:
    """The secret: its octets are only handed to HMAC, never shown (repr and str hide them)."""

    __slots__ = ("_octets",)

    def __init__(self, octets: bytes) -> None:
        if len(octets) < KEY_MIN_BYTES:
            raise ValueError(
                f"a pseudonym key has at least {KEY_MIN_BYTES} bytes (256 bits), "
                f"this one {len(octets)}"
            )
        if len(set(octets)) < _KEY_MIN_DISTINCT:
            raise ValueError(
                f"this pseudonym key is a placeholder, not a random key (its {len(octets)} bytes "
                f"take only {len(set(octets))} different values)"
            )
        self._octets = bytes(octets)

    def __repr__(self) -> str:
        return "PseudonymKey(<secret>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a pseudonym key is not pickled: it never leaves the sensor")

    def _hmac(self, context: bytes, value: bytes) -> bytes:
        return hmac.digest(self._octets, context + value, "sha256")


def key_from_bytes(stored: bytes) -> PseudonymKey:
    """The key a file holds: hex digits (surrounding white space ignored), else the raw octets.

    Raises ValueError (never quoting the key) when it is too short or a placeholder.
    """
    text = stored.strip()
    if text and len(text) % 2 == 0 and all(octet in _HEX_DIGITS for octet in text):
        return PseudonymKey(bytes.fromhex(text.decode("ascii")))
    return PseudonymKey(stored)


def key_from_hex(text: str) -> PseudonymKey:
    """The key an environment variable holds: hex digits only."""
    digits = text.strip()
    try:
        octets = bytes.fromhex(digits)
    except ValueError:
        raise ValueError("a pseudonym key given as text is hex digits only") from None
    return PseudonymKey(octets)


def new_key_text() -> str:
    """A new random key as hex digits (what `probewatch-sniffer pseudonym-key` writes)."""
    return secrets.token_hex(NEW_KEY_BYTES)


def normalize_mac(text: str) -> str:
    """`aa:bb:cc:dd:ee:ff` for the usual spellings (`AA-BB-…`, `aabb.ccdd.eeff`, bare hex).

    Raises ValueError for anything else.
    """
    digits = text.strip().lower()
    groups = re.split(r"[:\-]", digits)
    if len(groups) == 6 and all(1 <= len(group) <= 2 for group in groups):
        digits = "".join(group.zfill(2) for group in groups)
    else:
        digits = digits.translate(_MAC_SEPARATORS)
    if not _MAC_HEX.fullmatch(digits):
        raise ValueError(f"not a MAC address: {text[:40]!r}")
    return ":".join(digits[at : at + 2] for at in range(0, 12, 2))


def mac_pseudonym(key: PseudonymKey, mac: str, *, keep_oui: bool = False) -> str:
    """The pseudonym of a MAC in the sniffer's form (`aa:bb:cc:dd:ee:ff`, lower case)."""
    real = bytes.fromhex(mac.replace(":", ""))
    if len(real) != 6:
        raise ValueError(f"not a MAC address: {mac[:40]!r}")
    local = real[0] & _LOCAL_BIT
    if keep_oui and not local:
        digest = key._hmac(_MAC_KEEP_OUI, real)
        out = bytes((real[0] & ~_GROUP_BIT & 0xFF, real[1], real[2])) + digest[:3]
    else:
        digest = key._hmac(_MAC, real)
        out = bytes(((digest[0] & ~(_LOCAL_BIT | _GROUP_BIT)) | local,)) + digest[1:6]
    return out.hex(":")


def fingerprint_pseudonym(key: PseudonymKey, fingerprint: str) -> str:
    """The pseudonym of an `ie_fingerprint` (16 hex digits), in the same form."""
    if not _FINGERPRINT_HEX.fullmatch(fingerprint):
        raise ValueError(f"an ie_fingerprint is 16 lower-case hex digits, not {fingerprint[:40]!r}")
    return key._hmac(_FINGERPRINT, bytes.fromhex(fingerprint))[:8].hex()


def ssid_pseudonym(key: PseudonymKey, octets: bytes) -> str:
    """The pseudonym of an SSID's octets: `~` and 16 hex digits; the empty SSID stays empty."""
    if not octets:
        return ""
    return SSID_MARK + key._hmac(_SSID, octets)[:8].hex()


class Pseudonymizer:
    """Turns each ProbeEvent into its pseudonymous twin: the MAC, the fingerprint and (with
    `ssids`) the SSID replaced; every other field, `randomized` included, unchanged.

    It runs once per probe request, so each kind keeps what it computed (up to CACHE_SIZE
    values, then starts again): a device repeats its MAC, fingerprint and SSIDs.
    """

    def __init__(
        self,
        key: PseudonymKey,
        *,
        keep_oui: bool = False,
        ssids: bool = False,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.key = key
        self.keep_oui = keep_oui
        self.ssids = ssids
        self.cache_size = cache_size
        self._macs: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}
        self._ssid_texts: dict[str, str] = {}

    def mac(self, mac: str) -> str:
        """The pseudonym of a MAC in canonical form."""
        found = self._macs.get(mac)
        if found is None:
            if len(self._macs) >= self.cache_size:
                self._macs.clear()
            found = self._macs[mac] = mac_pseudonym(self.key, mac, keep_oui=self.keep_oui)
        return found

    def fingerprint(self, fingerprint: str) -> str:
        """The pseudonym of an ie_fingerprint."""
        found = self._fingerprints.get(fingerprint)
        if found is None:
            if len(self._fingerprints) >= self.cache_size:
                self._fingerprints.clear()
            found = fingerprint_pseudonym(self.key, fingerprint)
            self._fingerprints[fingerprint] = found
        return found

    def ssid(self, ssid: str, ssid_hex: str | None) -> str:
        """The pseudonym of an SSID given as a ProbeEvent carries it (its text, its hex)."""
        found = self._ssid_texts.get(ssid)
        if found is None:
            if len(self._ssid_texts) >= self.cache_size:
                self._ssid_texts.clear()
            octets = bytes.fromhex(ssid_hex) if ssid_hex is not None else ssid.encode()
            found = self._ssid_texts[ssid] = ssid_pseudonym(self.key, octets)
        return found

    def __call__(self, event: ProbeEvent) -> ProbeEvent:
        """The event as it may leave the sensor."""
        mac = self._macs.get(event.mac) or self.mac(event.mac)
        fingerprint = event.ie_fingerprint
        if fingerprint is not None:
            fingerprint = self._fingerprints.get(fingerprint) or self.fingerprint(fingerprint)
        ssid = event.ssid
        ssid_hex = event.ssid_hex
        if self.ssids and ssid:
            ssid = self._ssid_texts.get(ssid) or self.ssid(ssid, ssid_hex)
            ssid_hex = None
        return ProbeEvent(
            event.ts,
            mac,
            ssid,
            ssid_hex,
            event.rssi_dbm,
            event.freq_mhz,
            event.seq,
            event.randomized,
            event.sensor,
            fingerprint,
        )
