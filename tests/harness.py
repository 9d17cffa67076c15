"""Real processes for integration and end-to-end tests: a reachable Kafka, workers, the sniffer.

Every test run gets its own topic prefix and data folder, so runs never see each other's data,
and every process a test starts is stopped when it ends. Every process runs in the tests' empty
folder, never in the repository, so a developer's `.env` there is never read (tests/workdir.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.workdir import REPO_ROOT, empty_workdir

VENV_BIN = REPO_ROOT / ".venv" / "bin"
BOOTSTRAP = os.environ.get("PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")


def kafka_reachable(bootstrap: str = BOOTSTRAP, timeout: float = 2.0) -> bool:
    """True when the first bootstrap server accepts a TCP connection."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def require_kafka() -> str:
    """The broker's address; a clear skip (or, under `make test`, a failure) when it is down."""
    if not kafka_reachable():
        message = f"no Kafka at {BOOTSTRAP}: start it with `make kafka`"
        if os.environ.get("PROBEWATCH_REQUIRE_KAFKA"):
            pytest.fail(message)
        pytest.skip(message)
    return BOOTSTRAP


def mark_folder(items: list[pytest.Item], folder: Path, marker: pytest.MarkDecorator) -> None:
    """Mark every collected test below `folder` (integration, e2e) so `-m` can pick them."""
    for item in items:
        if folder in Path(item.fspath).parents:
            item.add_marker(marker)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Every topic prefix made so far, in order: `tests.conftest` deletes the topics under those
#: made during a test (or a module's fixtures) when it ends, so the shared broker does not
#: gather thousands of partitions over a run (a broker restart then takes a minute).
PREFIXES: list[str] = []


def new_prefix(label: str) -> str:
    """A topic prefix no earlier run used."""
    prefix = f"t{uuid.uuid4().hex[:10]}.{label}."
    PREFIXES.append(prefix)
    return prefix


def delete_topics_under(prefixes: list[str]) -> None:
    """Delete every topic whose name starts with one of `prefixes` (when Kafka is there)."""
    from confluent_kafka.admin import AdminClient

    if not prefixes or not kafka_reachable():
        return
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    starts = tuple(prefixes)
    mine = [name for name in admin.list_topics(timeout=30).topics if name.startswith(starts)]
    for future in admin.delete_topics(mine, operation_timeout=30).values() if mine else []:
        with contextlib.suppress(Exception):
            future.result()


def http_json(
    url: str,
    method: str = "GET",
    body: Any = None,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Status and decoded JSON body of one request (errors included, they carry JSON too).

    `body` is sent as JSON, or as is when it is bytes.
    """
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body or b"null")
        except ValueError:
            return err.code, body.decode("utf-8", "replace")


@dataclass
class Deployment:
    """One isolated probewatch deployment on the shared Kafka: a prefix and a data folder."""

    data_dir: Path
    prefix: str = field(default_factory=lambda: new_prefix("it"))
    partitions: int = 8
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **more: str) -> dict[str, str]:
        """The processes' environment: no PROBEWATCH_* of the caller's, this deployment's
        settings, then `extra_env` and `more` (which may replace any of them)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROBEWATCH_")}
        env.update(
            PROBEWATCH_KAFKA_BOOTSTRAP_SERVERS=BOOTSTRAP,
            PROBEWATCH_TOPIC_PREFIX=self.prefix,
            PROBEWATCH_DATA_DIR=str(self.data_dir),
            PROBEWATCH_PARTITIONS=str(self.partitions),
            PROBEWATCH_SENSOR="test-sensor",
            PROBEWATCH_LAKE=str(self.data_dir / "lake"),
        )
        env.update(self.extra_env)
        env.update(more)
        return env

    def delete_topics(self) -> None:
        """Delete every topic of this deployment (a benchmark's hundreds of thousands of records
        and changelogs would otherwise slow the shared broker down for whatever runs next)."""
        delete_topics_under([self.prefix])

    def sniffer(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run `probewatch-sniffer ARGS` to completion."""
        return subprocess.run(
            [str(VENV_BIN / "probewatch-sniffer"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=empty_workdir(),
        )

    def probewatch(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run `probewatch ARGS` (an admin command, not a worker) to completion."""
        return subprocess.run(
            [str(VENV_BIN / "probewatch"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=empty_workdir(),
        )


class Worker:
    """A `probewatch worker` process of a deployment, stopped (or killed) by the test."""

    def __init__(self, deployment: Deployment, port: int | None = None) -> None:
        self.deployment = deployment
        self.port = port or free_port()
        self.url = f"http://localhost:{self.port}"
        self.log_path = deployment.data_dir / f"worker-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self.deployment.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "probewatch"), "worker", "--web-port", str(self.port)],
            env=self.deployment.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=empty_workdir(),
            start_new_session=True,
        )
        return self

    def __enter__(self) -> Worker:
        """Started and ready to serve; stopped (SIGTERM) when the block ends, or at once if it
        never became ready."""
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until /health answers, this worker has been assigned its share of `probes` and its
        tables are read back (keyed routes answer 503 while they are)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                status, body = http_json(f"{self.url}/health", timeout=2)
            except OSError:
                status, body = 0, None
            if (
                status == 200
                and not body["recovering"]
                and any(
                    tp.startswith(f"{self.deployment.prefix}probes:") for tp in body["assigned"]
                )
            ):
                return
            time.sleep(0.3)
        raise TimeoutError(f"worker {self.url} not ready in {timeout} s:\n{self.log_tail()}")

    def wait_flushed(self, timeout: float = 30.0) -> None:
        """Until no folded row waits in memory: the changelogs and local stores hold them all."""
        wait_for(lambda: self.get("/health")[1]["unflushed_rows"] == 0, timeout, "rows flushed")

    def counters(self) -> dict[str, int]:
        return dict(http_json(f"{self.url}/health")[1]["counters"])

    def get(self, path: str) -> tuple[int, Any]:
        return http_json(f"{self.url}{path}")

    def broker_connections(self) -> set[str]:
        """The socket inodes of this worker's open TCP connections to the broker (Linux /proc):
        what a Kafka client it runs holds, and releases when it is stopped."""
        assert self.process is not None
        port = int(BOOTSTRAP.split(",")[0].rpartition(":")[2])
        owned = set()
        for fd in Path(f"/proc/{self.process.pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    owned.add(target[len("socket:[") : -1])
        connected = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                remote_port, state, inode = int(cols[2].rpartition(":")[2], 16), cols[3], cols[9]
                if remote_port == port and state == "01" and inode in owned:  # 01: ESTABLISHED
                    connected.add(inode)
        return connected

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def wait_exit(self, timeout: float = 60.0) -> int:
        """The exit status of a worker that is expected to stop by itself."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"worker {self.url} still running:\n{self.log_tail()}") from None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"worker {self.url} exited with {self.process.returncode}:\n{self.log_tail()}"
            )


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.3) -> Any:
    """Poll until predicate() is truthy; its value, or TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} (last seen: {last!r})")


def post_webhook(url: str, secret: str, update: dict[str, Any]) -> None:
    """POST one Update to a worker's webhook as Telegram does; asserts the 200."""
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
