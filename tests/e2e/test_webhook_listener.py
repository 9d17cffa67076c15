"""Telegram's webhook on a listener of its own, with API tokens on: the listener takes updates
and answers nothing else, and the bot (a client of the API) still gets its answers, with the
workers' own credential, while the API refuses anyone without a token."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.fake_telegram import FakeBotApiThread, text_update
from tests.harness import Deployment, Worker, free_port, http_json, post_webhook, wait_for
from tests.kafka_io import probe, produce_probes

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
CHAT = 1001
MAC = "f0:18:98:5e:a1:02"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Worker, int, FakeBotApiThread, str]]:
    webhook_port = free_port()
    with FakeBotApiThread([TOKEN]) as telegram:
        deployment = Deployment(
            tmp_path_factory.mktemp("listener"),
            extra_env={
                "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
                "PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url,
                "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
                "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
                "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": str(CHAT),
                "PROBEWATCH_TELEGRAM_PUBLIC_URL": "https://probewatch.example",
                "PROBEWATCH_WEBHOOK_PORT": str(webhook_port),
            },
        )
        made = deployment.probewatch("tokens", "create", "--role", "admin")
        assert made.returncode == 0, made.stderr
        with Worker(deployment) as worker:
            wait_for(lambda: "setmycommands" in telegram.methods(), 30, "the bot ready")
            yield worker, webhook_port, telegram, made.stdout.strip()
        deployment.delete_topics()


def _status(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_the_listener_takes_updates_and_the_bot_answers_through_the_closed_api(
    served: tuple[Worker, int, FakeBotApiThread, str],
) -> None:
    worker, webhook_port, telegram, token = served
    produce_probes(worker.deployment.prefix, [probe(MAC, 1_795_277_343.0, "Home")])
    headers = {"Authorization": f"Bearer {token}"}
    wait_for(
        lambda: http_json(f"{worker.url}/devices/{MAC}", headers=headers)[0] == 200,
        60,
        "the probe folded",
    )
    assert worker.get(f"/devices/{MAC}")[0] == 401, "the API needs a token"
    update = text_update(7001, CHAT, MAC)
    post_webhook(f"http://127.0.0.1:{webhook_port}/telegram/{PATH}", SECRET, update)
    reply = telegram.wait_for_message(CHAT, contains="Probes: 1")
    assert MAC in reply.text


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/devices", "GET"),
        (f"/devices/{MAC}", "GET"),
        ("/health", "GET"),
        ("/", "GET"),
        ("/openapi.json", "GET"),
        ("/stream/probes", "GET"),
        ("/login", "POST"),
        ("/watchlist/Home", "PUT"),
    ],
)
def test_the_listener_answers_nothing_but_the_webhook(
    served: tuple[Worker, int, FakeBotApiThread, str], path: str, method: str
) -> None:
    worker, webhook_port, _, _ = served
    assert _status(f"http://127.0.0.1:{webhook_port}{path}", method) == 404
    main = _status(f"{worker.url}{path}", method)
    assert main != 404, "the main listener serves it"


def test_a_wrong_path_or_secret_on_the_listener_is_refused(
    served: tuple[Worker, int, FakeBotApiThread, str],
) -> None:
    _, webhook_port, _, _ = served
    body = json.dumps(text_update(7002, CHAT, "hello")).encode()
    for path, secret, status in (("hook-wrong", SECRET, 404), (PATH, "wrong", 401)):
        request = urllib.request.Request(
            f"http://127.0.0.1:{webhook_port}/telegram/{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
        )
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("accepted")
        except urllib.error.HTTPError as err:
            assert err.code == status
