"""API tokens and roles (`app.logic.tokens`): only the hash is kept, a token grants exactly its
role's capabilities, anything else grants nothing."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.logic.tokens import (
    CLUSTER_KEY_ID,
    ClusterKey,
    Entry,
    StoredToken,
    capabilities,
    check_id,
    decode_entry,
    internal_credential,
    needed,
    new_cluster_key,
    new_token,
    token_id,
)


def _store(*made: tuple[str, str, StoredToken]) -> dict[str, Entry]:
    return {token_id: stored for token_id, _, stored in made}


def test_a_token_grants_its_roles_capabilities_and_is_never_kept() -> None:
    admin, read = new_token("admin", "ops"), new_token("read", "wall screen")
    stored = _store(admin, read)
    assert capabilities(admin[1], stored, None) == {"read", "admin"}
    assert capabilities(read[1], stored, None) == {"read"}
    encoded = admin[2].encode()
    assert admin[1].encode() not in encoded and admin[1].split("_", 2)[2].encode() not in encoded
    assert decode_entry(encoded) == admin[2]
    assert token_id(admin[1]) == admin[0]


def test_a_revoked_unknown_or_altered_token_grants_nothing() -> None:
    made = new_token("admin", "")
    stored = _store(made)
    assert capabilities(made[1], {}, None) is None, "revoked: its id is gone"
    forged = made[1][:-1] + ("A" if made[1][-1] != "A" else "B")
    assert capabilities(forged, stored, None) is None
    assert capabilities("pw_nope", stored, None) is None
    other = new_token("admin", "")
    assert capabilities(f"pw_{made[0]}_{other[1].split('_', 2)[2]}", stored, None) is None


@given(st.text(max_size=80))
def test_no_made_up_string_is_a_token(presented: str) -> None:
    made = new_token("admin", "")
    key = new_cluster_key()
    assert capabilities(presented, _store(made), internal_credential(key)) is None


def test_the_workers_credential_is_derived_from_the_cluster_key_and_grants_admin() -> None:
    key = new_cluster_key()
    credential = internal_credential(key)
    assert key.key not in credential
    assert capabilities(credential, {}, credential) == {"read", "admin"}
    assert capabilities(credential, {}, internal_credential(new_cluster_key())) is None
    assert capabilities(credential, {}, None) is None, "no cluster key yet: nobody is a worker"
    assert decode_entry(key.encode()) == key


def test_the_workers_credential_is_worked_out_once_per_cluster_key() -> None:
    internal_credential.cache_clear()
    key = new_cluster_key()
    first = internal_credential(key)
    assert internal_credential(ClusterKey(key.key)) == first  # an equal key read again
    assert internal_credential.cache_info().hits == 1
    assert internal_credential(new_cluster_key()) != first
    assert internal_credential.cache_info().misses == 2


@pytest.mark.parametrize(
    "raw",
    [b"nope", b"[]", b'{"role": "root", "sha256": "' + b"0" * 64 + b'"}', b'{"role": "read"}'],
)
def test_a_value_of_the_wrong_shape_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_entry(raw)


def test_tombstones_ids_and_roles() -> None:
    assert decode_entry(None) is None
    assert check_id("0a1b2c3d") == "0a1b2c3d" and check_id(CLUSTER_KEY_ID) == CLUSTER_KEY_ID
    with pytest.raises(ValueError):
        check_id("admin")
    with pytest.raises(ValueError):
        new_token("root", "")
    assert isinstance(decode_entry(orjson.dumps({"cluster_key": "ab" * 32})), ClusterKey)


@pytest.mark.parametrize(
    ("method", "route", "want"),
    [
        ("GET", "/devices/{mac}", "read"),
        ("HEAD", "/devices", "read"),
        ("GET", "/stream/probes", "read"),
        ("PUT", "/devices/{mac}/name", "admin"),
        ("DELETE", "/watchlist/{ssid}", "admin"),
        ("GET", "/health", None),
        ("GET", "/", None),
        ("POST", "/telegram/{path}", None),
        ("POST", "/login", None),
        ("GET", "/router/{name}/{key}/", "read"),
    ],
)
def test_what_each_route_needs(method: str, route: str, want: str | None) -> None:
    assert needed(method, route) == want
