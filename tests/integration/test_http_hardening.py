"""The HTTP API of real workers against a hostile client (issue 8, cases 5-7).

Every route and parameter is fuzzed with random methods, paths, query strings, headers (bogus
Content-Encoding, non-ASCII values) and bodies: the answer is never a 5xx other than a 503 with
`Retry-After`, the workers stay up and nothing is logged as a traceback. Focused tests pin each
case of the issue: 500s for bogus bodies, a non-ASCII secret and a request during start-up;
connections held open by slow or idle clients; a traceback per malformed request.

Requests are written to a socket as raw bytes, as any client could send them, so nothing in
between repairs them (http.client refuses non-ASCII header values, for one).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.worker.counters import LOG_FIRST
from tests.fake_telegram import FakeBotApiThread, text_update
from tests.harness import BOOTSTRAP, Deployment, Worker, new_prefix, wait_for

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "hardening-secret-0123456789"
PATH = "hook-0123456789abcdef0123"
WEBHOOK = f"/telegram/{PATH}"
MAC = "f0:18:98:5e:a1:01"
CHAT = 1001
#: How much later than its timeout a connection may be closed (a loaded test machine).
MARGIN_S = 5.0
#: The HTTP deadlines of the worker that shows them (`hasty`): the defaults (20, 30 and 5 s)
#: are the same code, only longer to wait for.
HEADER_TIMEOUT_S = IDLE_TIMEOUT_S = 4.0
BODY_TIMEOUT_S = 5.0
LINGER_S = 2.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(
    method: str, target: str, headers: Sequence[tuple[str, bytes | str]] = (), body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request as bytes (with Host, Content-Length unless chunked, Connection: close);
    header values may be any bytes."""
    lines = [f"{method} {target} HTTP/1.1".encode("utf-8", "surrogateescape"), b"Host: localhost"]
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode() + b": " + raw)
    if body and not any(n.lower() == "transfer-encoding" for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(port: int, raw: bytes, timeout: float = 20.0) -> Answer:
    """Send one request on a new connection; the status, headers and body received so far.

    Only the head is waited for: a stream (SSE) never ends its body.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # An answer may come (and the connection close) before the whole request is sent.
        with contextlib.suppress(OSError):
            sock.sendall(raw)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        raise AssertionError(f"no answer to {raw[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(lines[0].split()[1]), headers, body)


def acceptable(answer: Answer) -> bool:
    """Not a 5xx, or a 503 that says when to retry."""
    return answer.status < 500 or (answer.status == 503 and "retry-after" in answer.headers)


def bot_env(api_base: str) -> dict[str, str]:
    return {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_API_BASE": api_base,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
        "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": str(CHAT),
        "PROBEWATCH_TELEGRAM_MAX_BODY_BYTES": "4096",
    }


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotApiThread]:
    with FakeBotApiThread([TOKEN]) as fake:
        yield fake


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, telegram: FakeBotApiThread
) -> Iterator[list[Worker]]:
    """Two workers of one deployment with the bot on, and one device they have seen."""
    deployment = Deployment(
        tmp_path_factory.mktemp("http") / "data",
        prefix=new_prefix("http"),
        partitions=4,
        extra_env=bot_env(telegram.base_url),
    )
    workers = [Worker(deployment).start(), Worker(deployment).start()]
    try:
        for started in workers:
            started.wait_ready()
        producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
        probe = {"ts": time.time(), "mac": MAC, "ssid": "Free WiFi", "rssi_dbm": -60}
        producer.produce(f"{deployment.prefix}probes", key=MAC.encode(), value=json.dumps(probe))
        assert producer.flush(30) == 0
        for started in workers:
            wait_for(lambda w=started: w.get(f"/devices/{MAC}")[0] == 200, 60, "probe folded")
        yield workers
    finally:
        for started in workers:
            started.stop()


@pytest.fixture(scope="module")
def worker(cluster: list[Worker]) -> Worker:
    return cluster[0]


@pytest.fixture()
def hasty(tmp_path: Path, telegram: FakeBotApiThread) -> Iterator[Worker]:
    """A worker of its own whose HTTP deadlines are short (its clients are only the test)."""
    deadlines = {
        "PROBEWATCH_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "PROBEWATCH_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "PROBEWATCH_HTTP_LINGER_S": str(LINGER_S),
    }
    deployment = Deployment(
        tmp_path / "data",
        prefix=new_prefix("hasty"),
        partitions=1,
        extra_env=bot_env(telegram.base_url) | deadlines,
    )
    with Worker(deployment) as started:
        yield started


def assert_no_traceback(*workers: Worker) -> None:
    for started in workers:
        log = started.log_text()
        assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000) :][:6000]


# --- case 5: 500s -------------------------------------------------------------------------------

#: Every route that takes a body or may be sent one: (method, path, whether the view reads it).
BODY_ROUTES = [
    ("PUT", f"/devices/{MAC}/name", True),
    ("DELETE", f"/devices/{MAC}/name", False),
    ("PUT", "/watchlist/Free%20WiFi", True),
    ("DELETE", "/watchlist/Free%20WiFi", False),
    ("PUT", f"/subscriptions/{CHAT}", True),
    ("DELETE", f"/subscriptions/{CHAT}", False),
    ("POST", WEBHOOK, True),
]


def test_a_bogus_content_encoding_is_a_400_not_a_500(cluster: list[Worker]) -> None:
    for started in cluster:  # the owner of MAC answers itself, the other forwards
        for method, path, reads_body in BODY_ROUTES:
            for body in (b'{"name": "x", "reason": "y"}', b"\x1f\x8b\x08\x00 not deflate data"):
                headers: list[tuple[str, bytes | str]] = [
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", "gzip"),
                    ("X-Telegram-Bot-Api-Secret-Token", SECRET),
                ]
                answer = exchange(started.port, request_bytes(method, path, headers, body))
                assert acceptable(answer), (method, path, body, answer)
                if reads_body:
                    assert answer.status == 400, (method, path, body, answer)


@pytest.mark.parametrize(
    "secret", [b"s\xe9cret", "sécret".encode(), SECRET.encode() + b"\xff", b"\xc3\x28", b"\x80"]
)
def test_a_non_ascii_secret_is_a_401_like_any_wrong_secret(worker: Worker, secret: bytes) -> None:
    before = worker.counters().get("telegram.webhook.rejected.bad_secret", 0)
    headers: list[tuple[str, bytes | str]] = [("X-Telegram-Bot-Api-Secret-Token", secret)]
    body = json.dumps(text_update(7001, CHAT, "/start")).encode()
    answer = exchange(worker.port, request_bytes("POST", WEBHOOK, headers, body))
    assert answer.status == 401, answer
    assert worker.counters()["telegram.webhook.rejected.bad_secret"] == before + 1


def test_a_request_during_start_up_is_a_503_with_retry_after(tmp_path: Path) -> None:
    """Hammer a starting worker: before it knows who owns what, routed queries are 503s."""
    # Open on localhost, so requests do not wait for the tokens and meet the routing's own 503.
    deployment = Deployment(
        tmp_path / "data",
        prefix=new_prefix("start"),
        extra_env={"PROBEWATCH_API_AUTH": "localhost-open"},
    )
    starting = Worker(deployment).start()
    requests = [
        request_bytes("GET", f"/devices/{MAC}"),
        request_bytes("GET", "/ssids/Free%20WiFi"),
        request_bytes("PUT", f"/devices/{MAC}/name", body=b'{"name": "x"}'),
        request_bytes("GET", "/devices?name=x&scope=local"),
        request_bytes("GET", "/devices?name=x"),
        request_bytes("GET", "/cluster?scope=local"),
        request_bytes("GET", "/cluster"),
        request_bytes("GET", "/watchlist"),
        request_bytes("PUT", "/watchlist/start", body=b"{}"),
        request_bytes("GET", "/subscriptions"),
        request_bytes("GET", "/metrics"),
        request_bytes("GET", "/health"),
    ]
    answers: list[tuple[bytes, Answer]] = []
    started = threading.Event()
    deadline = time.monotonic() + 90

    def hammer(raw: bytes) -> None:
        """Send `raw` every 20 ms from before the port opens until the worker has started."""
        while not started.is_set() and time.monotonic() < deadline:
            try:
                answer = exchange(starting.port, raw)
            except (OSError, AssertionError):  # not listening yet
                time.sleep(0.02)
                continue
            answers.append((raw, answer))
            if raw == requests[0] and answer.status == 404:
                started.set()  # routing works: the device is simply unknown
            time.sleep(0.02)

    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            list(pool.map(hammer, requests))
        assert started.is_set(), f"not started in time:\n{starting.log_tail()}"
        bad = [(raw[:40], a.status, a.headers) for raw, a in answers if not acceptable(a)]
        assert not bad, bad
        unavailable = [a for raw, a in answers if raw == requests[0] and a.status == 503]
        assert unavailable, "no request arrived before routing worked; the test proves nothing"
        assert_no_traceback(starting)
    finally:
        starting.stop()


# --- case 6: connections held open --------------------------------------------------------------


def closed_after(sock: socket.socket, deadline: float, drip: bytes = b"") -> float | None:
    """Seconds until the server closed `sock` (dripping one byte of `drip` a second); None if
    it was still open at `deadline`."""
    began = time.monotonic()
    while time.monotonic() < deadline:
        if drip:
            try:
                sock.sendall(drip[:1])
            except OSError:
                return time.monotonic() - began
            drip = drip[1:] or drip
        readable, _, _ = select.select([sock], [], [], 1.0)
        if readable:
            try:
                if not sock.recv(65536):
                    return time.monotonic() - began
            except OSError:
                return time.monotonic() - began
    return None


def slow_client(port: int, opening: bytes, drip: bytes, limit: float) -> float | None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(opening)
        return closed_after(sock, time.monotonic() + limit + MARGIN_S + 2, drip)


def idle_after_one_request(port: int, limit: float) -> float | None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"Content-Length: (\d+)", head, re.I)
        assert match, head
        length = int(match.group(1))
        while len(body) < length:
            body += sock.recv(65536)
        return closed_after(sock, time.monotonic() + limit + MARGIN_S + 2)


def stream_outlives(port: int, seconds: float) -> bool:
    """An SSE stream stays open for `seconds` (past every timeout) and gets its keep-alives."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /stream/probes HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        began = time.monotonic()
        while time.monotonic() - began < seconds or b": keep-alive" not in data:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return False
            data += chunk
        return data.startswith(b"HTTP/1.1 200") and b": listening" in data


def test_slow_and_idle_connections_are_closed_but_streams_stay(hasty: Worker) -> None:
    worker = hasty
    port = worker.port
    put_head = (
        b"PUT /watchlist/slow HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    hook_head = (
        f"POST {WEBHOOK} HTTP/1.1\r\nHost: localhost\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}"
        "\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    health_head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"
    cases = {
        "slow header": (
            lambda: slow_client(
                port, b"GET /health HTTP/1.1\r\n", b"X-Slow: header\r\n", HEADER_TIMEOUT_S
            ),
            HEADER_TIMEOUT_S,
        ),
        "nothing sent": (lambda: slow_client(port, b"", b"", HEADER_TIMEOUT_S), HEADER_TIMEOUT_S),
        "slow body read by the view": (
            lambda: slow_client(port, put_head, b'{"reason": "slow"}', BODY_TIMEOUT_S + LINGER_S),
            BODY_TIMEOUT_S + LINGER_S,
        ),
        "slow body read by the webhook": (
            lambda: slow_client(port, hook_head, b"{}", BODY_TIMEOUT_S + LINGER_S),
            BODY_TIMEOUT_S + LINGER_S,
        ),
        "slow body nobody reads": (
            lambda: slow_client(port, health_head, b"x", LINGER_S),
            LINGER_S,
        ),
        "idle keep-alive": (lambda: idle_after_one_request(port, IDLE_TIMEOUT_S), IDLE_TIMEOUT_S),
    }
    stream_for = max(limit for _, limit in cases.values()) + MARGIN_S
    with ThreadPoolExecutor(len(cases) * 3 + 1) as pool:
        stream = pool.submit(stream_outlives, port, stream_for)
        futures = {
            (name, i): (pool.submit(run), limit)
            for name, (run, limit) in cases.items()
            for i in range(3)
        }
        results = {key: (future.result(), limit) for key, (future, limit) in futures.items()}
        assert stream.result(), "the event stream was closed"
    late = {
        key: closed
        for key, (closed, limit) in results.items()
        if closed is None or closed > limit + MARGIN_S
    }
    assert not late, f"still open (None) or closed late: {late}"
    assert worker.get("/health")[0] == 200


# --- case 7: log floods -------------------------------------------------------------------------


def drop_mid_body(port: int, head: bytes) -> None:
    """Send a request head and part of its body, then vanish."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + b'{"reas')
        time.sleep(0.05)


def test_malformed_requests_and_dropped_clients_are_one_line_each_and_rate_limited(
    worker: Worker,
) -> None:
    port = worker.port
    gzip_headers: list[tuple[str, bytes | str]] = [
        ("Content-Encoding", "gzip"),
        ("X-Telegram-Bot-Api-Secret-Token", SECRET),
    ]
    bad_requests = [
        request_bytes("PUT", "/watchlist/x", gzip_headers, b"not gzip"),
        request_bytes("DELETE", "/watchlist/x", gzip_headers, b"not gzip"),
        request_bytes("POST", WEBHOOK, gzip_headers, b"not gzip"),
        b"GET /health HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    ]
    dropped = [
        b"PUT /watchlist/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
        f"POST {WEBHOOK} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
        "Content-Length: 100\r\n\r\n".encode(),
    ]
    rounds = LOG_FIRST + 10
    for _ in range(rounds):
        for raw in bad_requests:
            assert acceptable(exchange(port, raw)), raw[:60]
        for head in dropped:
            drop_mid_body(port, head)
    counters = wait_for(
        lambda: (
            (c := worker.counters()).get("telegram.webhook.rejected.client_gone", 0) >= rounds
            and c.get("http.rejected.client_gone", 0) >= rounds
            and c
        ),
        30,
        "dropped clients counted",
    )
    assert worker.get("/health")[0] == 200
    log = worker.log_text()
    assert_no_traceback(worker)
    for stream, kind in [
        ("http", "malformed"),
        ("http", "bad_body"),
        ("http", "client_gone"),
        ("telegram.webhook", "bad_body"),
        ("telegram.webhook", "client_gone"),
    ]:
        assert counters[f"{stream}.rejected.{kind}"] >= rounds, (stream, kind, counters)
        logged = log.count(f"rejected {stream} message ({kind}, #")
        assert 1 <= logged <= LOG_FIRST, (stream, kind, logged)
    for line in log.splitlines():
        assert SECRET not in line and PATH not in line, line


# --- the fuzzer ---------------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
text = st.text(st.characters(codec="utf-8"), max_size=40)
segment = st.one_of(
    text.map(lambda t: urllib.parse.quote(t, safe="")),
    text.map(lambda t: urllib.parse.quote(t, safe="/:@!$&'()*+,;=")),
    st.sampled_from(["", "%", "%zz", "..", "%2e%2e", "%00", "%ff%fe", "a%2Fb", "é", " ", "a b"]),
)
mac = st.one_of(
    st.sampled_from([MAC, MAC.upper().replace(":", "-"), "f018.985e.a101", "00:00:00:00:00:00"]),
    st.text("0123456789abcdefABCDEF:-.", max_size=20),
    segment,
)
ssid = st.one_of(
    st.sampled_from(["Free%20WiFi", "eduroam", "Caf%C3%A9%20M%C3%BCller", "x" * 33, "%F0%9F"]),
    segment,
)
chat = st.one_of(
    st.integers(-(2**63), 2**63).map(str), st.sampled_from([str(CHAT), "0", "-1", "1e3"]), segment
)
query = st.dictionaries(
    st.sampled_from(["name", "mac", "ssid", "scope", "source", "bot", "x", "é"]),
    st.one_of(text, st.sampled_from([MAC, "local", "Free WiFi", "alice", ""])),
    max_size=3,
).map(lambda q: "?" + urllib.parse.urlencode(q) if q else "")
raw_query = st.one_of(query, st.sampled_from(["?", "?&&", "?name", "?name=%", "?mac=%zz", "?=x"]))
update = st.builds(
    lambda uid, chat_id, words: json.dumps(text_update(uid, chat_id, words)).encode(),
    st.integers(0, 2**31),
    st.sampled_from([CHAT, 666]),
    st.sampled_from([MAC, "/start", "/help", "/subscribe", "hello"]),
)
edit = st.fixed_dictionaries(
    {}, optional={"name": text, "reason": text, "bot": st.integers(-5, 2**40) | text}
).map(lambda d: json.dumps(d).encode())
odd_json = st.sampled_from([b"", b"null", b"[]", b'"x"', b"{", b'{"update_id": "1"}', b"{}" * 9])

#: Every route: a label, its path, the methods it serves, and the bodies it expects.
ROUTES = [
    ("/devices/{mac}", st.tuples(st.just("/devices/"), mac), ["GET"], edit),
    (
        "/devices/{mac}/name",
        st.tuples(st.just("/devices/"), mac, st.just("/name")),
        ["PUT", "DELETE"],
        edit,
    ),
    ("/devices?name=", st.tuples(st.just("/devices")), ["GET"], edit),
    ("/ssids/{ssid}", st.tuples(st.just("/ssids/"), ssid), ["GET"], edit),
    ("/watchlist", st.tuples(st.just("/watchlist")), ["GET"], edit),
    ("/watchlist/{ssid}", st.tuples(st.just("/watchlist/"), ssid), ["PUT", "DELETE"], edit),
    ("/subscriptions", st.tuples(st.just("/subscriptions")), ["GET"], edit),
    ("/subscriptions/{chat}", st.tuples(st.just("/subscriptions/"), chat), ["PUT", "DELETE"], edit),
    (
        "/stream/*",
        st.tuples(st.sampled_from(["/stream/probes", "/stream/alerts", "/stream/x"])),
        ["GET"],
        edit,
    ),
    (
        "/cluster, /metrics, /health",
        st.tuples(st.sampled_from(["/cluster", "/metrics", "/health"])),
        ["GET"],
        edit,
    ),
    (
        "/telegram/{path}",
        st.tuples(st.just("/telegram/"), st.just(PATH) | st.just(PATH) | segment),
        ["POST"],
        update,
    ),
    ("elsewhere", st.tuples(st.sampled_from(["/", "/x", "/telegram"]) | segment), ["GET"], edit),
]
OTHER_METHODS = st.one_of(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]),
    st.text(TOKEN_CHARS, min_size=1, max_size=10),
)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
header_value = st.one_of(
    printable,
    printable,
    printable,
    text.map(lambda t: t.replace("\r", "").replace("\n", "")),
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from(
        ["", " ", "100-continue", "sécret", "s\udce9cret".encode("utf-8", "surrogateescape")]
    ),
)
ENCODINGS = ["gzip", "gzip", "deflate", "br", "zstd", "identity", "gzip, deflate", "x", ""]


@dataclass
class Sent:
    route: str
    raw: bytes


FAULTS = ["method", "query", "body", "encoding", "secret", "headers"]


@st.composite
def requests(draw: st.DrawFn) -> Sent:
    """A request to one of the routes as its clients send it, with up to three things off."""
    label, path, methods, bodies = draw(st.sampled_from(ROUTES))
    faults = draw(st.sets(st.sampled_from(FAULTS), max_size=3))
    method = draw(OTHER_METHODS if "method" in faults else st.sampled_from(methods))
    target = "".join(draw(path)) + draw(raw_query if "query" in faults else query)
    body = draw(odd_json | st.binary(max_size=300) if "body" in faults else bodies)
    headers: list[tuple[str, bytes | str]] = []
    if "encoding" in faults:
        headers.append(("Content-Encoding", draw(st.sampled_from(ENCODINGS))))
    elif draw(st.booleans()):  # compressed, and saying so
        headers.append(("Content-Encoding", "gzip"))
        body = gzip.compress(body)
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(st.sampled_from(["application/json", "text/plain"]))))
    if "secret" in faults:
        if draw(st.booleans()):
            headers.append(("X-Telegram-Bot-Api-Secret-Token", draw(header_value)))
    else:
        headers.append(("X-Telegram-Bot-Api-Secret-Token", SECRET))
    names = st.sampled_from(["X-Forwarded-For", "Accept", "Expect", "Cookie", "Range", "Origin"])
    values = header_value if "headers" in faults else printable
    for name in draw(st.lists(names | st.text(TOKEN_CHARS, min_size=1, max_size=20), max_size=2)):
        headers.append((name, draw(values)))
    if body and draw(st.integers(0, 4)) == 0:  # chunked, framed properly
        headers.append(("Transfer-Encoding", "chunked"))
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return Sent(label, request_bytes(method, target, headers, body))


@settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sent=requests(), which=st.integers(0, 1))
def test_fuzz_every_route_never_answers_a_5xx(
    cluster: list[Worker], sent: Sent, which: int
) -> None:
    answer = exchange(cluster[which].port, sent.raw)
    event(f"{sent.route} -> {answer.status}")  # --hypothesis-show-statistics: what was reached
    assert acceptable(answer), (sent.raw[:300], answer.status, answer.body[:300])


def test_after_the_fuzzing_the_workers_are_up_and_logged_no_traceback(
    cluster: list[Worker],
) -> None:
    for started in cluster:
        assert started.process is not None and started.process.poll() is None
        assert started.get("/health")[0] == 200
    assert_no_traceback(*cluster)
