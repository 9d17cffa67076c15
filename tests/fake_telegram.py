"""A small fake of the Telegram Bot API (aiohttp), for tests: Telegram itself is unreachable here.

It serves `POST /bot{token}/{method}` the way api.telegram.org does for the methods probewatch
uses, with form or JSON bodies, and records what the bot did:

- getMe answers for the tokens it knows, and `401 Unauthorized` for any other;
- sendMessage is recorded (`sent`) and answered with a realistic Message;
- setMyCommands, setWebhook / getWebhookInfo / deleteWebhook keep state per bot;
- getUpdates serves the updates a test pushed (`push_update`), honours `offset` (everything
  below it is confirmed and dropped), `limit` and `timeout` (a long poll returns `[]` when it
  expires), and answers 409 while a webhook is set, as Telegram does.

Use it in-process (`async with FakeBotApi(tokens) as fake`) or, for a worker in another process,
in a thread (`with FakeBotApiThread(tokens) as fake`). `python -m tests.fake_telegram --token T`
runs it alone; `POST /_fake/updates/{token}` then queues an update and `GET /_fake/sent` lists
the messages sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class SentMessage:
    """One sendMessage call as the fake received it."""

    bot_id: int
    chat_id: int
    text: str
    parse_mode: str | None


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


class FakeBotApi:
    """The fake server and everything it saw; all state lives on the server's event loop."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.tokens = set(tokens)
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[int, str, dict[str, Any]]] = []
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.commands: dict[int, list[dict[str, Any]]] = {}
        #: Chats whose sendMessage fails as if the user had blocked the bot.
        self.blocked_chats: set[int] = set()
        self.base_url = ""
        self._queues: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # Lifecycle ---------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_post("/_fake/updates/{token}", self._control_push)
        app.router.add_get("/_fake/sent", self._control_sent)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0 = a free port); returns the base URL for the bot."""
        self._runner = web.AppRunner(self.web_app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # What tests use ----------------------------------------------------------------------

    def push_update(self, token: str, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (call on the server's loop; see FakeBotApiThread)."""
        with self._lock:
            self._queues[_bot_id(token)].append(update)
        self._new_update.set()

    def messages(self, chat_id: int | None = None, bot_id: int | None = None) -> list[SentMessage]:
        with self._lock:
            return [
                m
                for m in self.sent
                if (chat_id is None or m.chat_id == chat_id)
                and (bot_id is None or m.bot_id == bot_id)
            ]

    def methods(self, bot_id: int | None = None) -> list[str]:
        with self._lock:
            return [method for b, method, _ in self.calls if bot_id is None or b == bot_id]

    def pending(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._queues[_bot_id(token)])

    # The Bot API -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"].lower()
        params = await _params(request)
        if token not in self.tokens:
            return _error(401, "Unauthorized")
        bot_id = _bot_id(token)
        with self._lock:
            self.calls.append((bot_id, method, params))
        handler: Callable[[int, dict[str, Any]], Any] | None = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = handler(bot_id, params)
        if asyncio.iscoroutine(result):
            result = await result
        return result if isinstance(result, web.Response) else _ok(result)

    def _me(self, bot_id: int) -> dict[str, Any]:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": f"Probewatch {bot_id}",
            "username": f"probewatch_{bot_id}_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_getme(self, bot_id: int, params: dict[str, Any]) -> Any:
        return self._me(bot_id)

    def _m_sendmessage(self, bot_id: int, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        if not text:
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        parse_mode = params.get("parse_mode")
        with self._lock:
            self.sent.append(SentMessage(bot_id, chat_id, text, parse_mode))
        shown = html.unescape(_TAG.sub("", text)) if parse_mode == "HTML" else text
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self._me(bot_id),
            "text": shown,
        }

    def _m_setmycommands(self, bot_id: int, params: dict[str, Any]) -> Any:
        self.commands[bot_id] = _json(params.get("commands"), [])
        return True

    def _m_getmycommands(self, bot_id: int, params: dict[str, Any]) -> Any:
        return self.commands.get(bot_id, [])

    def _m_setwebhook(self, bot_id: int, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if _flag(params.get("drop_pending_updates")):
            self._drop(bot_id)
        if not url:
            self.webhooks.pop(bot_id, None)
            return True
        self.webhooks[bot_id] = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": _json(params.get("allowed_updates"), None),
            "max_connections": int(params.get("max_connections") or 40),
        }
        return True

    def _m_getwebhookinfo(self, bot_id: int, params: dict[str, Any]) -> Any:
        hook = self.webhooks.get(bot_id, {})
        info: dict[str, Any] = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queues[bot_id]),
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            if hook["allowed_updates"] is not None:
                info["allowed_updates"] = hook["allowed_updates"]
        return info

    def _m_deletewebhook(self, bot_id: int, params: dict[str, Any]) -> Any:
        self.webhooks.pop(bot_id, None)
        if _flag(params.get("drop_pending_updates")):
            self._drop(bot_id)
        return True

    async def _m_getupdates(self, bot_id: int, params: dict[str, Any]) -> Any:
        if bot_id in self.webhooks:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                queue = self._queues[bot_id]
                queue[:] = [u for u in queue if u["update_id"] >= offset]
                batch = queue[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                return batch
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)

    def _drop(self, bot_id: int) -> None:
        with self._lock:
            self._queues[bot_id].clear()

    # Control endpoints (for a fake running in its own process) ---------------------------

    async def _control_push(self, request: web.Request) -> web.Response:
        self.push_update(request.match_info["token"], await request.json())
        return _ok(True)

    async def _control_sent(self, request: web.Request) -> web.Response:
        return _ok([m.__dict__ for m in self.messages()])


class FakeBotApiThread:
    """The fake on its own event loop in a thread, for workers running in other processes."""

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.api = FakeBotApi(tokens)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def __enter__(self) -> FakeBotApiThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.api.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.api.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def push_update(self, token: str, update: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self.api.push_update, token, update)

    def messages(self, chat_id: int | None = None, bot_id: int | None = None) -> list[SentMessage]:
        return self.api.messages(chat_id, bot_id)

    def methods(self, bot_id: int | None = None) -> list[str]:
        return self.api.methods(bot_id)

    def wait_for_message(
        self, chat_id: int, timeout: float = 30.0, contains: str = "", bot_id: int | None = None
    ) -> SentMessage:
        """The first message sent to `chat_id` containing `contains`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages(chat_id, bot_id):
                if contains in message.text:
                    return message
            time.sleep(0.05)
        seen = [m.text[:80] for m in self.messages(chat_id)]
        raise TimeoutError(f"no message to chat {chat_id} containing {contains!r}; sent: {seen}")


def _bot_id(token: str) -> int:
    return int(token.split(":", 1)[0])


async def _params(request: web.Request) -> dict[str, Any]:
    """The method's parameters from a JSON, urlencoded or multipart body (or the query string)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value


def _flag(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def text_update(update_id: int, chat_id: int, text: str, *, group: bool = False) -> dict[str, Any]:
    """A real-shaped Update: a text message from a user in a private chat (or a group)."""
    user = {"id": abs(chat_id) if not group else 4242, "is_bot": False, "first_name": "Ada"}
    user |= {"username": "ada", "language_code": "en"}
    chat: dict[str, Any] = (
        {"id": chat_id, "title": "Sensors", "type": "group"}
        if group
        else {"id": chat_id, "first_name": "Ada", "username": "ada", "type": "private"}
    )
    message: dict[str, Any] = {
        "message_id": update_id % 100000 + 1,
        "from": user,
        "chat": chat,
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def main() -> None:
    """Run the fake alone: `python -m tests.fake_telegram --token 123:abc --port 8081`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", action="append", default=[], help="a token it accepts")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    web.run_app(FakeBotApi(args.token).web_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
