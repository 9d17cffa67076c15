"""`POST /login`, `POST /logout`: the dashboard's session, a token kept in an HttpOnly cookie.

The page asks for a token once and sends it here; the answer sets the `probewatch_token` cookie
(HttpOnly: no script can read it back; SameSite=Strict: no other site's page sends it), so the
token is never in a URL, in the page's storage or in its history. `app.web.access` reads it.
"""

from __future__ import annotations

from typing import cast

import orjson
from aiohttp import web as aiohttp_web
from faust import web

from app.web.access import COOKIE, check
from app.web.server import read_body

blueprint = web.Blueprint("session")

#: A browser session lasts at most this long; the token itself lives until it is revoked.
SESSION_S = 12 * 3600


@blueprint.route("/login", name="login")
class LoginView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        """Check the token in the body (`{"token": …}`) and keep it in the cookie."""
        try:
            held = orjson.loads(await read_body(request, limit=4096))
        except orjson.JSONDecodeError:
            held = None
        token = held.get("token") if isinstance(held, dict) else None
        if not isinstance(token, str) or not token:
            return self.json({"error": 'the body must be {"token": "pw_…"}'}, status=400)
        granted = check(token)
        if granted is None:
            return self.json({"error": "this token is not valid"}, status=401)
        response = self.json({"capabilities": sorted(granted)})
        raw = cast(aiohttp_web.Response, response)
        raw.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_S,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.url.scheme == "https",
        )
        return response


@blueprint.route("/logout", name="logout")
class LogoutView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        """Forget the cookie."""
        response = self.json({"ok": True})
        cast(aiohttp_web.Response, response).del_cookie(COOKIE, path="/")
        return response
