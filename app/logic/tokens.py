"""API tokens and roles: what a token is, how it is kept, what each role may do.

A token is `pw_<id>_<secret>`: `id` (8 hex digits) names it in listings and revocations, the
secret is 32 random bytes. Only its SHA-256 is kept (in the compacted `api-tokens` topic, key =
id): the secret is random and long, so an unsalted hash cannot be searched back. A role is a set
of capabilities, and code asks for a capability, never for a role's name: `read` (queries,
streams, the dashboard) and `admin` (also names, the watch list, subscriptions, erasure).

The workers call each other and the bot calls its worker with a credential of their own,
derived from the cluster key kept in the same topic (key `cluster`): whoever can read the
topic is a worker.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import orjson

Capability = Literal["read", "admin"]
ROLES: dict[str, frozenset[Capability]] = {
    "read": frozenset({"read"}),
    "admin": frozenset({"read", "admin"}),
}
#: The key of the cluster key's record in `api-tokens`.
CLUSTER_KEY_ID = "cluster"

#: Routes anyone may call: liveness, the dashboard's page and assets (its data needs a token),
#: the API's description, Telegram's webhook (its secret path and header are its guard), and
#: logging in and out.
PUBLIC_ROUTES = frozenset(
    {"/health", "/", "/ui/{asset}", "/openapi.json", "/docs", "/login", "/logout"}
)
WEBHOOK_ROUTE = "/telegram/{path}"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_TOKEN = re.compile(r"pw_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
_ID = re.compile(r"[0-9a-f]{8}")
_INTERNAL_PREFIX = "pwi_"


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token as the topic keeps it: never the token itself."""

    role: str
    digest: str
    label: str
    created: float

    def encode(self) -> bytes:
        return orjson.dumps(
            {"role": self.role, "sha256": self.digest, "label": self.label, "created": self.created}
        )


@dataclass(frozen=True, slots=True)
class ClusterKey:
    """The workers' shared key (the `cluster` record)."""

    key: str

    def encode(self) -> bytes:
        return orjson.dumps({"cluster_key": self.key})


Entry = StoredToken | ClusterKey


def needed(method: str, route: str) -> Capability | None:
    """The capability a route (its pattern) needs: None for a public one, `read` to read,
    `admin` to change anything."""
    if route in PUBLIC_ROUTES or route == WEBHOOK_ROUTE:
        return None
    return "read" if method.upper() in READ_METHODS else "admin"


def new_token(role: str, label: str, now: float | None = None) -> tuple[str, str, StoredToken]:
    """A new token of `role`: (id, the token to hand out once, what to keep)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    token_id = secrets.token_hex(4)
    token = f"pw_{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, StoredToken(role, digest(token), label, now or time.time())


def new_cluster_key() -> ClusterKey:
    return ClusterKey(secrets.token_hex(32))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str | None:
    """The id a token names, None when it is not shaped like one."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def check_id(key: str) -> str:
    """A key of `api-tokens` (a token id or `cluster`); ValueError for anything else."""
    if key != CLUSTER_KEY_ID and not _ID.fullmatch(key):
        raise ValueError(f"not a token id: {key!r}")
    return key


def decode_entry(raw: bytes | None) -> Entry | None:
    """A value of `api-tokens`; None for a tombstone (revoked); ValueError for a bad shape."""
    if raw is None:
        return None
    try:
        held = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(held, dict):
        raise ValueError("not an object")
    if isinstance(held.get("cluster_key"), str) and len(held["cluster_key"]) >= 32:
        return ClusterKey(held["cluster_key"])
    role, sha, label = held.get("role"), held.get("sha256"), held.get("label", "")
    if role not in ROLES or not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError("neither a token nor the cluster key")
    created = held.get("created")
    return StoredToken(
        role,
        sha,
        str(label),
        float(created) if isinstance(created, int | float) else 0.0,
    )


@functools.lru_cache(maxsize=4)
def internal_credential(cluster: ClusterKey) -> str:
    """The bearer the workers and the bot send each other: a keyed hash of the cluster key,
    so the key itself never crosses the network. Remembered: every forwarded request sends it
    and every worker checks it."""
    mac = hmac.new(bytes.fromhex(cluster.key), b"probewatch worker", hashlib.sha256)
    return _INTERNAL_PREFIX + mac.hexdigest()


def capabilities(
    presented: str, stored: dict[str, Entry], internal: str | None
) -> frozenset[Capability] | None:
    """What a presented bearer token may do; None when it is no valid token."""
    if presented.startswith(_INTERNAL_PREFIX):
        if internal is not None and hmac.compare_digest(presented, internal):
            return ROLES["admin"]
        return None
    found = token_id(presented)
    entry = stored.get(found) if found else None
    if not isinstance(entry, StoredToken):
        return None
    if not hmac.compare_digest(digest(presented), entry.digest):
        return None
    return ROLES[entry.role]
