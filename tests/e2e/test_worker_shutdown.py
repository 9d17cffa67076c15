"""SIGTERM stops a worker: promptly with status 0, or within PROBEWATCH_SHUTDOWN_TIMEOUT_S at worst.

The stuck case is made the way it happens: the Bot API stops answering in the middle of a reply.
The agent then waits on sendMessage (aiogram gives up after 60 s), and faust, which waits for
every event taken to be acknowledged before it stops, would wait with it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fake_telegram import FakeBotApi, FakeBotApiThread, text_update
from tests.harness import Deployment, Worker, new_prefix, wait_for

TOKEN = "550605987:DDIgaWfyFK4yJZMaViuhVDv3N8SELGvdz"
BOT_ID = 550605987
SECRET = "shutdown-secret"
PATH = "shutdown-path-0123456789"
CHAT = 4242
#: sendMessage to this chat never answers.
SILENT_CHAT = 4343
BOUND_S = 5


class SilentBotApi(FakeBotApi):
    """The fake Bot API, except that sendMessage to SILENT_CHAT hangs until released."""

    def __init__(self, tokens: list[str]) -> None:
        super().__init__(tokens)
        self.release: asyncio.Event | None = None

    async def _m_sendmessage(self, bot_id: int, params: dict[str, Any]) -> Any:  # type: ignore[override]
        if int(params["chat_id"]) == SILENT_CHAT:
            self.release = self.release or asyncio.Event()
            await self.release.wait()
        return super()._m_sendmessage(bot_id, params)


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotApiThread]:
    fake = FakeBotApiThread()
    api = fake.api = SilentBotApi([TOKEN])
    with fake:
        try:
            yield fake
        finally:
            fake._loop.call_soon_threadsafe(lambda: api.release and api.release.set())


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, telegram: FakeBotApiThread
) -> Iterator[dict[str, Worker]]:
    """Two webhook-mode workers, started together: `calm` and `stuck` (a 5 s bound)."""
    root = tmp_path_factory.mktemp("shutdown")
    bot = {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
        "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": f"{CHAT},{SILENT_CHAT}",
    }
    extra = {"calm": bot, "stuck": bot | {"PROBEWATCH_SHUTDOWN_TIMEOUT_S": str(BOUND_S)}}
    started = {
        name: Worker(Deployment(root / name, prefix=new_prefix(name), extra_env=env)).start()
        for name, env in extra.items()
    }
    try:
        yield started
    finally:
        with ThreadPoolExecutor() as pool:
            list(pool.map(Worker.stop, started.values()))


def ready(worker: Worker, telegram: FakeBotApiThread) -> Worker:
    worker.wait_ready()
    wait_for(lambda: "setmycommands" in telegram.methods(BOT_ID), 30, "the bot ready")
    return worker


def post_update(worker: Worker, update: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{worker.url}/telegram/{PATH}",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def sigterm(worker: Worker) -> float:
    assert worker.process is not None
    os.killpg(worker.process.pid, signal.SIGTERM)
    return time.monotonic()


def test_sigterm_stops_a_worker_promptly_with_status_0(
    workers: dict[str, Worker], telegram: FakeBotApiThread
) -> None:
    """With a reply sent and an event stream open (a dashboard, `curl -N`): the stream ends
    cleanly, and the worker does not wait for it (the web server waits for every request in
    progress)."""
    worker = ready(workers["calm"], telegram)
    post_update(worker, text_update(7001, CHAT, "/help"))
    telegram.wait_for_message(CHAT, contains="/help")
    stream = http.client.HTTPConnection("localhost", worker.port, timeout=60)
    stream.request("GET", "/stream/probes")
    events = stream.getresponse()
    assert events.status == 200
    assert events.readline() == b": listening\n"
    sent = sigterm(worker)
    assert events.read() == b"\n"  # the rest of the stream, to its clean end
    assert worker.wait_exit(30) == 0
    assert time.monotonic() - sent < 30
    assert "did not finish" not in worker.log_text()


def test_a_worker_stuck_in_a_reply_exits_within_the_bound(
    workers: dict[str, Worker], telegram: FakeBotApiThread
) -> None:
    worker = ready(workers["stuck"], telegram)
    post_update(worker, text_update(7101, SILENT_CHAT, "/help"))
    wait_for(
        lambda: any(
            method == "sendmessage" and str(params.get("chat_id")) == str(SILENT_CHAT)
            for _, method, params in list(telegram.api.calls)
        ),
        60,
        "the reply under way",
    )
    sent = sigterm(worker)
    status = worker.wait_exit(BOUND_S + 20)
    took = time.monotonic() - sent
    assert status == 3, worker.log_tail()
    assert BOUND_S - 1 < took < BOUND_S + 15
    line = next(line for line in worker.log_text().splitlines() if "did not finish" in line)
    assert (
        f"probewatch: error: shutdown after SIGTERM did not finish in {BOUND_S} s "
        "(PROBEWATCH_SHUTDOWN_TIMEOUT_S); still running: "
    ) in line
    assert "telegram-updates" in line and line.rstrip().endswith("exiting with status 3")
    assert "agent telegram-updates in app.bot.routers.start:command_help" in line
