"""The faust Worker of `probewatch worker`: a bounded shutdown, and a clean exit on a bad setting.

faust stops a worker by waiting: for every event its agents took to be acknowledged
(`stream_wait_empty`), for the producer to flush, for the web server's open requests. An agent
stuck on a call that does not return (a Bot API that stopped answering, aiogram waits 60 s per
request) or a broker that went away can hold that for minutes or for ever, and the worker then
ignores SIGTERM. So the first SIGTERM or SIGINT (or any other way into shutdown) starts a
deadline of PROBEWATCH_SHUTDOWN_TIMEOUT_S: a worker still running then logs one line saying
what it was still doing and exits with EXIT_SHUTDOWN_TIMEOUT, from a thread, without waiting
further. Nothing is lost by that: offsets not committed are read again at the next start, and
the folds skip what they already applied, as after kill -9.

A part of the worker that finds a setting unusable after faust started (a bot token Telegram
refuses, when the check before start could not reach Telegram) calls `request_exit`: the worker
stops as on SIGTERM and exits with that status, the reason printed as one line last.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import faust
from mode import Service

from app.cli.preflight import EXIT_SHUTDOWN_TIMEOUT
from app.logic.vendor import load_registry
from app.settings import get_settings

logger = logging.getLogger(__name__)

#: Allocations (less deallocations) between young garbage collections (CPython's default: 700).
YOUNG_COLLECTION_EVERY = 10_000

_APP_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
#: The worker of this process, once made (`probewatch worker` makes one).
_current: ProbewatchWorker | None = None


def request_exit(code: int, line: str) -> bool:
    """Stop this process's worker and exit with `code`, `line` printed last to stderr.

    False when there is no worker (a Service started on its own, as in unit tests): the caller
    then raises as it would have.
    """
    worker = _current
    if worker is None:
        return False
    worker.exit_with(code, line)
    return True


class ShutdownDeadline:
    """Once armed, exits the process (`exit`) unless it ends within `timeout_s`."""

    def __init__(
        self,
        timeout_s: float,
        describe: Callable[[], str],
        exit: Callable[[int], Any] = os._exit,
    ) -> None:
        self.timeout_s = timeout_s
        self.describe = describe
        self.exit = exit
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def armed(self) -> bool:
        return self._thread is not None

    def arm(self, reason: str) -> None:
        """Start the clock (only the first call does)."""
        with self._lock:
            if self._thread is not None:
                return
            self.reason = reason
            self._thread = threading.Thread(
                target=self._run, name="probewatch-shutdown-deadline", daemon=True
            )
            self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._cancelled.wait(self.timeout_s):
            return
        try:
            what = self.describe()
        except Exception as err:  # reading another thread's state may race; say so and go on
            what = f"(could not tell: {type(err).__name__})"
        line = (
            f"probewatch: error: shutdown after {self.reason} did not finish in "
            f"{self.timeout_s:g} s (PROBEWATCH_SHUTDOWN_TIMEOUT_S); still running: {what}; "
            f"exiting with status {EXIT_SHUTDOWN_TIMEOUT}"
        )
        _emit(line)
        self.exit(EXIT_SHUTDOWN_TIMEOUT)


def _emit(line: str) -> None:
    """`line` to the log (stderr unless --logfile); straight to stderr if logging is stuck."""
    done = threading.Event()

    def log() -> None:
        logger.critical("%s", line)
        for handler in logging.getLogger().handlers:
            handler.flush()
        done.set()

    threading.Thread(target=log, daemon=True).start()
    if not done.wait(2.0):
        os.write(2, (line + "\n").encode())


class ProbewatchWorker(faust.Worker):
    """faust's Worker with a shutdown deadline and an exit status parts of the app can set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        global _current
        super().__init__(*args, **kwargs)
        self.exit_code: int | None = None
        self.exit_line: str | None = None
        self.deadline = ShutdownDeadline(get_settings().shutdown_timeout_s, self.still_running)
        _current = self

    def _on_sigterm(self) -> None:
        self.deadline.arm("SIGTERM")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self.deadline.arm("SIGINT")
        super()._on_sigint()

    def on_worker_shutdown(self) -> None:
        self.deadline.arm("the worker stopped")
        super().on_worker_shutdown()

    async def on_startup_finished(self) -> None:
        """Once started, move every object made so far out of the garbage collector's sight.

        faust, aiokafka, aiohttp and aiogram leave many long-lived objects that every full
        collection walks again, holding the event loop meanwhile: with them frozen, the p99 of
        `GET /devices/{mac}` at 500 req/s went from 100-135 ms to 40-60 ms here.

        Objects made later are collected as usual, but less often: a young collection every
        `YOUNG_COLLECTION_EVERY` allocations instead of 700. The rows a flush has not written
        yet live long enough to reach the oldest generation, and with the default each 200,000
        probes drained here paid 8 full collections of ~80 ms (3 µs a probe); with this none.
        """
        await super().on_startup_finished()
        load_registry()
        gc.collect()
        gc.freeze()
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)

    def _gather_all(self) -> None:
        """mode lets the tasks still pending after every service stopped run up to a second,
        then cancels them, then runs the loop a second more (`_sentinel_task`): two seconds of
        every stop. Here they get a tenth of a second, and the sentinel waits only for the
        cancelled ones to end."""
        for _ in range(10):
            if not asyncio.all_tasks(self.loop):
                return
            self.loop.run_until_complete(asyncio.sleep(0.01))
        for task in asyncio.all_tasks(self.loop):
            task.cancel()

    async def _sentinel_task(self) -> None:
        """The loop's last run before it closes: until the cancelled tasks end (at most a
        second), then one more turn for the callbacks their ends set off."""
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=1.0)
        await asyncio.sleep(0)

    def exit_with(self, code: int, line: str) -> None:
        """Stop as on SIGTERM; exit with `code` (the first one asked for) and `line` last."""
        if self.exit_code is None:
            self.exit_code, self.exit_line = code, line
            logger.critical("stopping the worker: %s", line.removeprefix("probewatch: error: "))
        self.loop.call_soon_threadsafe(self._on_sigterm)

    def execute_from_commandline(self) -> NoReturn:
        try:
            super().execute_from_commandline()
        except SystemExit:
            if self.exit_code is None:
                raise
        if self.exit_line:
            os.write(2, (self.exit_line + "\n").encode())
        raise SystemExit(self.exit_code)

    def still_running(self) -> str:
        """What keeps the worker from stopping, in one line (read from another thread)."""
        parts = [f"stopping in {name}" for name in _stopping(self.loop)]
        parts += _unacked(self.app)
        parts += _agents(self.app)
        parts += _app_tasks(self.loop)
        parts += _consumer_thread_calls(self.app)
        if not threading.main_thread().is_alive():  # the interpreter waits for threads to end
            threads = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
            parts.append("threads " + ", ".join(sorted(threads)[:5]))
        return "; ".join(parts) or "nothing known (the event loop may be blocked)"


def _stopping(loop: asyncio.AbstractEventLoop) -> list[str]:
    """What each stop in progress waits in: the innermost `Service.method` of its await chain."""
    found: list[str] = []
    for task in list(asyncio.all_tasks(loop)):
        stopping, innermost = False, None
        for frame in _await_chain(task.get_coro()):
            service = frame.f_locals.get("self")
            if isinstance(service, Service):
                stopping = stopping or frame.f_code.co_name == "stop"
                innermost = f"{type(service).__name__}.{frame.f_code.co_name}"
        if stopping and innermost is not None and not innermost.endswith("_stop_children"):
            found.append(innermost)
    return sorted(set(found))[:5]


def _unacked(app: Any) -> list[str]:
    """The events agents took and never acknowledged, which faust waits for."""
    consumer = getattr(app, "_consumer", None)
    messages = list(getattr(consumer, "_unacked_messages", ()) or ())
    if not messages:
        return []
    topics = sorted({str(getattr(m, "topic", "?")) for m in messages})
    return [f"{len(messages)} unacknowledged event(s) of {', '.join(topics[:3])}"]


#: The record loop the write-behind folds wait for their next event in (`fold_each`).
_FOLD_LOOP = "app.tables.staged:fold_each"


def _agents(app: Any) -> list[str]:
    """Agents whose actors are busy in this app's code (not waiting for an event), and where.

    faust runs an actor's coroutine behind a wrapper that hides it from its task's await
    chain, so actors are looked at on their own."""
    found = []
    for agent in list(getattr(app, "agents", {}).values()):
        for actor in list(getattr(agent, "_actors", ())):
            where = _innermost_app_code(getattr(actor, "it", None))
            idle = f":{getattr(agent.fun, '__name__', '?')}"  # waiting for its next event
            if where is not None and not where.endswith(idle) and where != _FOLD_LOOP:
                found.append(f"agent {agent.name} in {where}")
    return found[:5]


def _innermost_app_code(coro: Any) -> str | None:
    where = None
    for frame in _await_chain(coro):
        if frame.f_code.co_filename.startswith(_APP_DIR):
            where = f"{frame.f_globals.get('__name__', '?')}:{frame.f_code.co_name}"
    return where


def _app_tasks(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Where this app's own coroutines are waiting, `module:function` (times count)."""
    counts: dict[str, int] = {}
    for task in list(asyncio.all_tasks(loop)):
        where = _innermost_app_code(task.get_coro())
        if where is not None:
            counts[where] = counts.get(where, 0) + 1
    return [
        f"task {where}" + (f" x{count}" if count > 1 else "")
        for where, count in sorted(counts.items())[:5]
    ]


def _consumer_thread_calls(app: Any) -> list[str]:
    """The calls faust's consumer thread runs for the main loop (`call_thread`: a stop's commit
    waits in one), each with where it waits: a group coordinator that never comes back shows."""
    thread = getattr(getattr(app, "_consumer", None), "_thread", None)
    loop = getattr(thread, "thread_loop", None)
    if loop is None:
        return []
    found = []
    for task in list(asyncio.all_tasks(loop)):
        frames = list(_await_chain(task.get_coro()))
        names = [frame.f_code.co_name for frame in frames]
        if _RUNS_A_CALL not in names:
            continue
        called = [
            frame
            for frame in frames[names.index(_RUNS_A_CALL) + 1 :]
            if frame.f_code.co_name != "maybe_async"
            and not frame.f_code.co_filename.startswith(_ASYNCIO_DIR)
        ]
        if called:
            found.append(
                f"consumer thread runs {called[0].f_code.co_qualname}, "
                f"waiting in {called[-1].f_code.co_qualname}"
            )
    return found[:3]


#: Where mode's thread runs a method the main loop queued for it.
_RUNS_A_CALL = "_process_enqueued"
_ASYNCIO_DIR = str(Path(asyncio.__file__).resolve().parent) + os.sep


def _await_chain(coro: Any) -> Iterator[Any]:
    """The frames of a coroutine and of what it awaits, outermost first."""
    for _ in range(200):
        frame = next(
            (
                f
                for name in ("cr_frame", "ag_frame", "gi_frame")
                if (f := getattr(coro, name, None))
            ),
            None,
        )
        if frame is None:
            return
        yield frame
        coro = next(
            (
                a
                for name in ("cr_await", "ag_await", "gi_yieldfrom")
                if (a := getattr(coro, name, None))
            ),
            None,
        )
