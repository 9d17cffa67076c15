"""Text taken from a request's path, decoded strictly.

aiohttp leaves a percent-escape that is not UTF-8 (`%ff%fe`) as it is in the decoded path, so a
view would store the literal text `%FF%FE`; the raw path is decoded here instead, and anything
that does not spell UTF-8 is refused.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from faust import web


class BadPath(ValueError):
    """A path whose escapes do not spell UTF-8 text."""


def path_tail(request: web.Request, prefix: str) -> str:
    """Everything after `prefix` in the request's path, percent-decoded as UTF-8."""
    raw = request.rel_url.raw_path
    if not raw.startswith(prefix):
        raise BadPath(f"the path does not start with {prefix}")
    try:
        return unquote_to_bytes(raw[len(prefix) :]).decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("the path's %-escapes are not UTF-8 text") from None
