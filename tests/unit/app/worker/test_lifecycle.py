"""The worker's shutdown deadline, what it reports as still running, exits the bot asks for."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mode
import mode.threads
import pytest
from mode import Service

import app.worker.lifecycle
from app.bot.config import BotIdentity
from app.bot.service import BotService
from app.cli.preflight import EXIT_BAD_SETTING, EXIT_SHUTDOWN_TIMEOUT
from app.settings import Settings
from app.worker.lifecycle import (
    ProbewatchWorker,
    ShutdownDeadline,
    _app_tasks,
    _consumer_thread_calls,
    _stopping,
)
from tests.fake_telegram import FakeBotApi


def test_the_deadline_exits_with_status_3_and_says_what_was_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits: list[int] = []
    deadline = ShutdownDeadline(0.2, lambda: "Consumer (stopping)", exits.append)
    with caplog.at_level(logging.CRITICAL):
        deadline.arm("SIGTERM")
        deadline.arm("SIGINT")  # only the first starts the clock
        deadline.join(5)
    assert exits == [EXIT_SHUTDOWN_TIMEOUT] == [3]
    assert caplog.messages == [
        "probewatch: error: shutdown after SIGTERM did not finish in 0.2 s "
        "(PROBEWATCH_SHUTDOWN_TIMEOUT_S); still running: Consumer (stopping); exiting with status 3"
    ]


def test_a_cancelled_deadline_does_nothing() -> None:
    exits: list[int] = []
    deadline = ShutdownDeadline(0.2, lambda: "", exits.append)
    deadline.arm("SIGTERM")
    deadline.cancel()
    deadline.join(5)
    assert exits == []


def test_a_failing_description_still_exits() -> None:
    exits: list[int] = []

    def describe() -> str:
        raise RuntimeError("Set changed size during iteration")

    deadline = ShutdownDeadline(0.05, describe, exits.append)
    deadline.arm("SIGTERM")
    deadline.join(5)
    assert exits == [3]


class Stuck(Service):
    """A service whose stop never ends, like a consumer waiting for an event never acked."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = asyncio.Event()

    async def on_stop(self) -> None:
        await self.release.wait()


class Parent(Service):
    def __init__(self, child: Service, **kwargs: Any) -> None:
        self.child = child
        super().__init__(**kwargs)

    def on_init_dependencies(self) -> list[Service]:
        return [self.child]


async def test_what_a_stop_waits_in_is_named() -> None:
    loop = asyncio.get_running_loop()
    stuck = Stuck()
    parent = Parent(stuck)
    await parent.start()
    assert _stopping(loop) == []
    stopping = asyncio.ensure_future(parent.stop())
    for _ in range(50):
        await asyncio.sleep(0.01)
        if stuck.state == "stopping":
            break
    assert _stopping(loop) == ["Stuck.on_stop"]
    stuck.release.set()
    await stopping
    assert _stopping(loop) == []


async def test_tasks_waiting_in_app_code_are_named() -> None:
    from app.bot.api import ProbewatchApi

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts the request, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    api = ProbewatchApi(f"http://127.0.0.1:{port}", timeout=30)
    calls = [asyncio.ensure_future(api.device("f0:18:98:11:22:33")) for _ in range(2)]
    await asyncio.sleep(0.3)
    names = _app_tasks(asyncio.get_running_loop())
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await api.close()
    server.close()
    assert names == ["task app.bot.api:_request x2"]


TOKEN = "123456:TEST-token_abc"


async def nothing(bot: BotIdentity, update: dict[str, Any], body: bytes) -> None:
    raise AssertionError("not called")


class FakeWorker:
    def __init__(self) -> None:
        self.asked: list[tuple[int, str]] = []

    def exit_with(self, code: int, line: str) -> None:
        self.asked.append((code, line))


async def test_a_token_refused_in_a_running_worker_asks_it_to_exit_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = FakeWorker()
    monkeypatch.setattr(app.worker.lifecycle, "_current", worker)
    async with FakeBotApi([TOKEN]) as telegram:
        settings = Settings(
            data_dir=tmp_path,
            telegram_token="999:refused-token",  # type: ignore[arg-type]
            telegram_extra_tokens=None,
            telegram_api_base=telegram.base_url,
            telegram_webhook_secret="s3cret",  # type: ignore[arg-type]
        )
        service = BotService(
            settings,
            publish=nothing,
            is_leader=lambda: True,
            on_unusable=lambda err: app.worker.lifecycle.request_exit(EXIT_BAD_SETTING, err.line()),
        )
        started = time.monotonic()
        await service.start()  # does not raise: the worker stops instead
        await service.stop()
    assert time.monotonic() - started < 10
    assert worker.asked == [
        (
            EXIT_BAD_SETTING,
            "probewatch: error: PROBEWATCH_TELEGRAM_TOKEN: Telegram refused the token of bot 999 "
            "(Unauthorized)",
        )
    ]
    assert service.bots and not service._ready.is_set()


def test_the_loops_last_run_lets_quick_tasks_end_and_waits_for_the_cancelled_ones() -> None:
    """The worker's end of the loop (mode's two steps, shortened): a task about to end is let
    end; one that would wait for ever is cancelled, and its clean-up runs before the loop
    closes."""
    loop = asyncio.new_event_loop()
    ended: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0)
        ended.append("quick")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)
            ended.append("cleaned up")

    try:
        quick_task = loop.create_task(quick())
        forever_task = loop.create_task(forever())
        worker = SimpleNamespace(loop=loop)
        ProbewatchWorker._gather_all(worker)  # type: ignore[arg-type]
        loop.run_until_complete(ProbewatchWorker._sentinel_task(worker))  # type: ignore[arg-type]
        assert not quick_task.cancelled()
        assert forever_task.cancelled()
        assert ended == ["quick", "cleaned up"]
        assert not asyncio.all_tasks(loop)
    finally:
        loop.close()


def test_mode_still_ends_its_loop_through_the_two_steps_the_worker_overrides() -> None:
    """`ProbewatchWorker` shortens `_gather_all` and `_sentinel_task`, private steps of
    mode's `Worker._shutdown_loop`; a mode that no longer calls them would bring the two
    seconds back unnoticed."""
    source = inspect.getsource(mode.Worker._shutdown_loop)
    assert "self._gather_all()" in source
    assert "self._sentinel_task()" in source


class Coordinator:
    async def ensure_coordinator_known(self) -> None:
        await asyncio.sleep(30)  # a coordinator that never comes back


class ConsumerThread(mode.threads.QueueServiceThread):
    async def commit(self) -> None:
        await Coordinator().ensure_coordinator_known()


async def test_a_call_the_consumer_thread_runs_for_the_main_loop_is_named_with_its_wait() -> None:
    thread = ConsumerThread()
    app = SimpleNamespace(_consumer=SimpleNamespace(_thread=thread))
    await thread.start()
    try:
        assert _consumer_thread_calls(app) == []
        call = asyncio.ensure_future(thread.call_thread(thread.commit))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if _consumer_thread_calls(app):
                break
        assert _consumer_thread_calls(app) == [
            "consumer thread runs ConsumerThread.commit, waiting in "
            "Coordinator.ensure_coordinator_known"
        ]
        call.cancel()
    finally:
        await thread.stop()
    assert _consumer_thread_calls(SimpleNamespace()) == []
