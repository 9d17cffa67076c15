"""The quick paths of `app.logic.limits` give what the character-by-character rules give."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.logic.limits import has_hidden, is_hidden, ssid_raw_length
from app.logic.mac import normalize_mac

#: ASCII, backslash escapes and any Unicode, so both paths are exercised.
TEXT = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127)),
    st.text(alphabet=st.sampled_from(["\\", "x", "4", "1", "a", "é", "\u202e", "\x00", " "])),
    st.text(),
)


@given(TEXT)
def test_has_hidden_is_any_hidden_character(text: str) -> None:
    assert has_hidden(text) == any(is_hidden(ch) for ch in text)


@given(TEXT)
def test_raw_length_of_plain_ascii_is_its_length(text: str) -> None:
    slow = 0
    at = 0
    while at < len(text):
        pair = text[at + 2 : at + 4]
        if (
            text.startswith("\\x", at)
            and len(pair) == 2
            and all(c in "0123456789abcdefABCDEF" for c in pair)
        ):
            slow, at = slow + 1, at + 4
        else:
            slow, at = slow + len(text[at].encode("utf-8", "surrogatepass")), at + 1
    assert ssid_raw_length(text) == slow


@given(st.binary(min_size=6, max_size=6))
def test_a_canonical_mac_is_returned_as_it_is(octets: bytes) -> None:
    canonical = ":".join(f"{b:02x}" for b in octets)
    assert normalize_mac(canonical) == canonical
    assert normalize_mac(canonical.upper().replace(":", "-")) == canonical
