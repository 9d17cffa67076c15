"""The one canonical text form of an SSID, shared by the sniffer and the app's validation.

An SSID is 0..32 arbitrary bytes chosen by whoever sends the frame. People read it in logs, the
dashboard and Telegram, so its text must be safe to display and bounded, and the exact bytes must
still be recoverable.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SSID_BYTES = 32  # IEEE 802.11: the SSID element holds 0..32 octets
MAX_SSID_TEXT = 4 * MAX_SSID_BYTES  # every byte escaped as \xNN
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_ASCII_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_SURROGATE_ESCAPES = range(0xDC80, 0xDD00)  # how "surrogateescape" spells an undecodable byte


def ssid_text(raw: bytes) -> tuple[str, str | None]:
    """`(ssid, ssid_hex)` of a raw SSID element body of at most 32 bytes.

    `ssid` is `raw` decoded as UTF-8, except that every byte of an invalid UTF-8 sequence, and
    every byte of a character of Unicode category Cc, Cf, Cs, Zl or Zp (controls and NUL, format
    characters such as U+202E RIGHT-TO-LEFT OVERRIDE, line and paragraph separators), is
    written as `\\xNN` (two lowercase hex digits) instead. Why: such characters can rewrite how
    a log line or chat message looks (reordered text, fake line breaks, terminal escapes), while
    an SSID is not supposed to contain them. Invalid bytes are escaped exactly as Python's
    `decode("utf-8", "backslashreplace")` does. A backslash followed by a literal `x` is written
    `\\x5c`, so `\\x` in the text is always an escape and the text stands for one byte string.
    The text is at most 128 characters.

    `ssid_hex` is the hex of `raw` whenever `ssid` is not simply the UTF-8 decoding of `raw`,
    and None otherwise, so the exact bytes are always `bytes.fromhex(ssid_hex)` if `ssid_hex`
    else `ssid.encode()`. Raises ValueError for more than 32 bytes (the parser counts such a
    frame malformed).
    """
    if len(raw) > MAX_SSID_BYTES:
        raise ValueError(f"an SSID has at most {MAX_SSID_BYTES} bytes, got {len(raw)}")
    if raw.isascii() and not _ASCII_CONTROL.search(raw) and b"\\x" not in raw:
        return raw.decode("ascii"), None
    decoded = raw.decode("utf-8", "surrogateescape")
    parts: list[str] = []
    escaped = False
    for at, char in enumerate(decoded):
        literal_escape = char == "\\" and decoded[at + 1 : at + 2] == "x"
        if unicodedata.category(char) not in ESCAPED_CATEGORIES and not literal_escape:
            parts.append(char)
            continue
        escaped = True
        code = ord(char)
        if code in _SURROGATE_ESCAPES:  # an undecodable byte (valid UTF-8 has no surrogates)
            parts.append(f"\\x{code - 0xDC00:02x}")
        else:
            parts.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8"))
    if not escaped:
        return decoded, None
    return "".join(parts), raw.hex()


_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def ssid_octets(text: str) -> bytes:
    """The octets an SSID in its text form stands for: `ssid_text`'s inverse.

    Every `\\xNN` is the octet NN; every other character is its UTF-8. Raises ValueError for
    more than 32 octets, or a character that cannot be UTF-8 (a lone surrogate).
    """
    parts: list[bytes] = []
    at = 0
    try:
        for escape in _ESCAPE.finditer(text):
            parts.append(text[at : escape.start()].encode("utf-8"))
            parts.append(bytes((int(escape.group(1), 16),)))
            at = escape.end()
        parts.append(text[at:].encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("an SSID is UTF-8 text (with \\xNN for other octets)") from None
    octets = b"".join(parts)
    if len(octets) > MAX_SSID_BYTES:
        raise ValueError(f"an SSID has at most {MAX_SSID_BYTES} bytes, this one {len(octets)}")
    return octets
