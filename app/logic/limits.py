"""The value ranges every entry point enforces: one set of rules for probes, tshark frames, HTTP,
the bot and the compacted list topics.

A value outside them is rejected where it enters, so nothing downstream (JSON encoding of a
table row, date formatting, a 64-bit store) ever meets a number it cannot hold. The sniffer
keeps to the same ranges on its side; a contract test proves that what it writes passes here.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

#: Capture times: from the epoch (sensors without a clock start there) to 2100-01-01 UTC.
MIN_TS = 0.0
MAX_TS = 4_102_444_800.0
#: Radiotap's antenna signal is a signed byte.
RSSI_DBM = (-128, 127)
#: Radiotap's channel frequency is an unsigned 16-bit field.
FREQ_MHZ = (0, 65_535)
#: The 802.11 sequence number has 12 bits.
SEQ = (0, 4_095)
#: What a row or a changelog record can hold as an integer (orjson and RocksDB: signed 64 bits).
INT64 = (-(2**63), 2**63 - 1)
#: IEEE 802.11: an SSID is 0 to 32 octets.
MAX_SSID_BYTES = 32
#: Unicode categories never shown as they are: controls (NUL too), format characters (the
#: right-to-left override), surrogates, and line and paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class OutOfRange(ValueError):
    """A value of the right type outside what probewatch accepts; the message names the field."""


def check_ts(value: Any, field: str = "ts") -> float:
    """Epoch seconds as a float within [MIN_TS, MAX_TS)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OutOfRange(f"{field} must be a number of seconds since the epoch")
    if not (isinstance(value, int) or math.isfinite(value)) or not MIN_TS <= value < MAX_TS:
        raise OutOfRange(f"{field} must be between 1970 and 2100 (epoch seconds {value!r:.30})")
    return float(value)


def check_int(value: Any, field: str, bounds: tuple[int, int]) -> int:
    """An integer (not a bool) within `bounds`, both ends included."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutOfRange(f"{field} must be an integer")
    low, high = bounds
    if not low <= value <= high:
        raise OutOfRange(f"{field} must be between {low} and {high}")
    return value


def check_optional_int(value: Any, field: str, bounds: tuple[int, int]) -> int | None:
    return None if value is None else check_int(value, field, bounds)


def is_hidden(char: str) -> bool:
    """Whether a character would be invisible or reorder text if shown as it is."""
    return unicodedata.category(char) in HIDDEN_CATEGORIES


def has_hidden(text: str) -> bool:
    """Whether any character of `text` is hidden (`is_hidden`); per probe, so ASCII is quick."""
    if text.isascii():
        # In ASCII the hidden characters are exactly the controls, the unprintable ones.
        return not text.isprintable()
    return any(is_hidden(ch) for ch in text)


def ssid_raw_length(text: str) -> int:
    """How many octets an SSID in its text form stands for.

    The text form (written by the sniffer) shows each octet that is not a visible UTF-8
    character as `\\xNN`, four characters for one octet; every other character is its UTF-8.
    """
    if text.isascii() and "\\" not in text:
        return len(text)
    length = 0
    at = 0
    while at < len(text):
        if text.startswith("\\x", at) and _is_hex_pair(text[at + 2 : at + 4]):
            length += 1
            at += 4
        else:
            length += len(text[at].encode("utf-8", "surrogatepass"))
            at += 1
    return length


def _is_hex_pair(text: str) -> bool:
    return len(text) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in text)


def check_ssid(value: Any, field: str = "ssid", *, allow_empty: bool = False) -> str:
    """An SSID in its text form: at most 32 octets, no hidden characters.

    Empty only where it means the wildcard (a probe for any network).
    """
    if not isinstance(value, str):
        raise OutOfRange(f"{field} must be text")
    if not value and not allow_empty:
        raise OutOfRange(f"{field} must not be empty")
    if len(value) > 4 * MAX_SSID_BYTES or ssid_raw_length(value) > MAX_SSID_BYTES:
        raise OutOfRange(f"{field} has at most {MAX_SSID_BYTES} bytes")
    if has_hidden(value):
        raise OutOfRange(
            f"{field} must not contain control or format characters (write an octet as \\xNN)"
        )
    return value


def check_text(value: Any, field: str, limit: int) -> str:
    """Free text of at most `limit` characters without hidden characters (sensor names, …)."""
    if not isinstance(value, str) or len(value) > limit:
        raise OutOfRange(f"{field} must be text of at most {limit} characters")
    if has_hidden(value):
        raise OutOfRange(f"{field} must not contain control or format characters")
    return value


def ssid_from_octets(raw: bytes) -> tuple[str, str | None]:
    """The text form of an SSID's octets, and their hex when the text is not plain UTF-8.

    Visible UTF-8 characters stay as they are; every octet of an invalid sequence or of a hidden
    character is written `\\xNN`, and so is a backslash that a literal `x` follows, so that
    `\\x` in the text always means an escape. The text is safe to show, at most 128 characters
    long, and stands for exactly one sequence of octets; the hex keeps them too. The sniffer
    writes the same form (`sniffer/ssid.py`; a contract test checks that they agree).
    """
    decoded = raw.decode("utf-8", "surrogateescape")
    parts: list[str] = []
    for at, char in enumerate(decoded):
        code = ord(char)
        if 0xDC80 <= code < 0xDD00:  # surrogateescape's spelling of an octet that is not UTF-8
            parts.append(f"\\x{code - 0xDC00:02x}")
        elif is_hidden(char) or (char == "\\" and decoded[at + 1 : at + 2] == "x"):
            parts.extend(f"\\x{octet:02x}" for octet in char.encode("utf-8"))
        else:
            parts.append(char)
    text = "".join(parts)
    return text, (None if text == decoded else raw.hex())
