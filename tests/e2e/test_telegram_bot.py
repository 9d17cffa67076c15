"""The Telegram bot end to end: Telegram's side is a fake Bot API, everything else is real.

Updates are POSTed to a real worker's webhook as Telegram posts them; they go through the real
Kafka (`telegram-updates`) to the agent, the handlers ask the worker's HTTP API, and the replies
are read from the sendMessage calls the fake received.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from app.bot.config import derive_path
from tests.fake_telegram import FakeBotApiThread, text_update
from tests.harness import BOOTSTRAP, Deployment, Worker, new_prefix, wait_for

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
EXTRA = "220302654:BBGeyUdwDI2wHXKygTfpgTBt1L6QBMEtbx"
POLL_TOKEN = "330403765:CCHfzVexEJ3xIYLzhUgqhUCu2M7RCNFucy"
BOT_ID, EXTRA_ID, POLL_ID = 110201543, 220302654, 330403765
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
PUBLIC_URL = "https://probewatch.example"
MAC = "f0:18:98:5e:a1:01"
TS = 1795277343.0  # 2026-11-21 16:09:03 UTC, which London shows as GMT
#: Chats on the allow-list; each test talks in its own, so replies never mix.
CHATS = range(1001, 1010)
STRANGER = 666
MAX_BODY = 4096
REFUSED_TOKEN = "444444:refused-token-part"
#: The webhook worker's source networks: Telegram's range, and this host's usual loopback address
#: (the tests post from it); requests from PROXY are a reverse proxy's, and X-Forwarded-For names
#: their client. Any 127/8 address reaches the worker: STRANGER_IP is allowed neither way.
LOOPBACK, PROXY, STRANGER_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3"
TELEGRAM_IP = "149.154.167.99"


def env(api_base: str, **more: str | None) -> dict[str, str]:
    """The bot's settings for a deployment; a None in `more` leaves that variable unset."""
    values: dict[str, str | None] = {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_API_BASE": api_base,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
        "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": ",".join(map(str, CHATS)),
        "PROBEWATCH_TELEGRAM_MAX_BODY_BYTES": str(MAX_BODY),
        "PROBEWATCH_TELEGRAM_PUBLIC_URL": PUBLIC_URL,
        "PROBEWATCH_TIMEZONE": "Europe/London",
        **more,
    }
    return {name: value for name, value in values.items() if value is not None}


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotApiThread]:
    with FakeBotApiThread([TOKEN, EXTRA, POLL_TOKEN]) as fake:
        yield fake


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, telegram: FakeBotApiThread
) -> Iterator[dict[str, Worker]]:
    """Every worker this module needs, each its own deployment, all started at once.

    A worker takes seconds to start; starting them together saves most of that. The tests wait
    for their own worker: `webhook` (two bots), `polling`, `bad_token` and `no_bot`.
    """
    root = tmp_path_factory.mktemp("bot")
    api = telegram.base_url
    deployments = {
        "webhook": env(
            api,
            PROBEWATCH_TELEGRAM_EXTRA_TOKENS=EXTRA,
            PROBEWATCH_TELEGRAM_ALLOWED_NETWORKS=f"149.154.160.0/20,{LOOPBACK}/32",
            PROBEWATCH_TELEGRAM_TRUSTED_PROXIES=f"{PROXY}/32",
        ),
        "polling": env(
            api,
            PROBEWATCH_TELEGRAM_TOKEN=POLL_TOKEN,
            PROBEWATCH_TELEGRAM_MODE="polling",
            PROBEWATCH_TELEGRAM_WEBHOOK_SECRET=None,
        ),
        "bad_token": env(api, PROBEWATCH_TELEGRAM_TOKEN=REFUSED_TOKEN),
        "no_bot": {},
    }
    started = {
        name: Worker(Deployment(root / name, prefix=new_prefix(name), extra_env=extra)).start()
        for name, extra in deployments.items()
    }
    try:
        yield started
    finally:
        with ThreadPoolExecutor() as pool:
            list(pool.map(Worker.stop, started.values()))


@pytest.fixture(scope="module")
def worker(workers: dict[str, Worker], telegram: FakeBotApiThread) -> Worker:
    """The webhook-mode worker serving two bots, shared by most tests of this module."""
    started = workers["webhook"]
    started.wait_ready()
    for bot_id in (BOT_ID, EXTRA_ID):
        wait_for(lambda b=bot_id: "setmycommands" in telegram.methods(b), 30, "bots ready")
    return started


@pytest.fixture(scope="module")
def deployment(worker: Worker) -> Deployment:
    return worker.deployment


def post(
    worker: Worker,
    path: str,
    body: bytes,
    *,
    secret: str | None = SECRET,
    chunked: bool = False,
    source: str = LOOPBACK,
    forwarded_for: str | None = None,
) -> int:
    """POST as Telegram does, from the address `source`; the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    connection = http.client.HTTPConnection(
        "127.0.0.1", worker.port, timeout=30, source_address=(source, 0)
    )
    try:
        if chunked:
            connection.request(
                "POST", path, body=iter([body]), headers=headers, encode_chunked=True
            )
        else:
            connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def send(worker: Worker, update: dict[str, Any], path: str = PATH) -> bytes:
    """POST an update with the right secret; the body as sent."""
    body = json.dumps(update, ensure_ascii=False, indent=1).encode()
    assert post(worker, f"/telegram/{path}", body) == 200
    return body


def produce_probes(deployment: Deployment, mac: str, ssids: list[str]) -> None:
    """Probes keyed by MAC with the Java-compatible partitioner, as the sniffer produces them."""
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    for i, ssid in enumerate(ssids):
        probe = {"ts": TS - 60 * (len(ssids) - 1 - i), "mac": mac, "ssid": ssid, "rssi_dbm": -60}
        producer.produce(f"{deployment.prefix}probes", key=mac.encode(), value=json.dumps(probe))
    assert producer.flush(30) == 0


def topic_records(deployment: Deployment) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    """Every record of `telegram-updates`: key, value, headers."""
    topic = f"{deployment.prefix}telegram-updates"
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"check-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records, done = [], set()
        deadline = time.monotonic() + 30
        while len(done) < len(partitions) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                done.add(message.partition())
                continue
            assert error is None, error
            headers = {k: v for k, v in message.headers() or [] if v is not None}
            records.append((message.key(), message.value(), headers))
        return records
    finally:
        consumer.close()


def update_ids(deployment: Deployment) -> set[int]:
    """The update ids in `telegram-updates` (poisoned records, which have none, left out)."""
    found = set()
    for _key, value, _headers in topic_records(deployment):
        try:
            update = json.loads(value)
        except ValueError:
            continue
        if isinstance(update, dict) and isinstance(update.get("update_id"), int):
            found.add(update["update_id"])
    return found


def test_a_mac_is_answered_with_its_statistics_through_kafka(
    deployment: Deployment, worker: Worker, telegram: FakeBotApiThread
) -> None:
    produce_probes(deployment, MAC, ["Home", "Work & Co", "", "Home"])
    wait_for(lambda: worker.get(f"/devices/{MAC}")[0] == 200, 60, "the probes folded")

    chat = CHATS[0]
    body = send(worker, text_update(5001, chat, "F0-18-98-5E-A1-01"))
    reply = telegram.wait_for_message(chat, contains="Probes: 4")
    assert reply.bot_id == BOT_ID and reply.parse_mode == "HTML"
    assert f"<code>{MAC}</code>" in reply.text
    assert "Unique SSIDs: 2" in reply.text and "<code>Work &amp; Co</code>" in reply.text
    assert "Last probe: 2026-11-21 16:09:03 GMT" in reply.text
    assert "Vendor: Apple" in reply.text and "Randomized address: no" in reply.text

    send(worker, text_update(5002, chat, f"/device {MAC.replace(':', '')}"))
    wait_for(lambda: len(telegram.messages(chat)) == 2, 30, "the /device answer")
    assert "Probes: 4" in telegram.messages(chat)[1].text

    # The raw zone: the body exactly as Telegram posted it, keyed by chat, labelled with the bot.
    [(key, _, headers)] = [r for r in topic_records(deployment) if r[1] == body]
    assert key == str(chat).encode() and headers == {"bot": str(BOT_ID).encode()}


def test_an_unknown_device_gets_no_result(worker: Worker, telegram: FakeBotApiThread) -> None:
    chat = CHATS[1]
    send(worker, text_update(5101, chat, "00:00:5e:00:53:01"))
    reply = telegram.wait_for_message(chat)
    assert reply.text == "No result: no probe requests seen from <code>00:00:5e:00:53:01</code>."


def test_start_and_help(worker: Worker, telegram: FakeBotApiThread) -> None:
    chat = CHATS[2]
    send(worker, text_update(5201, chat, "/start"))
    assert telegram.wait_for_message(chat).text.startswith("Hi! I tell you what Wi-Fi")
    commands = [c["command"] for c in telegram.api.commands[BOT_ID]]
    assert commands[0] == "device" and commands[-2:] == ["help", "start"]


def test_a_chat_not_on_the_allow_list_is_refused(
    worker: Worker, telegram: FakeBotApiThread
) -> None:
    send(worker, text_update(5301, STRANGER, MAC))
    reply = telegram.wait_for_message(STRANGER)
    assert reply.text.startswith("Sorry, this bot is private")
    assert f"<code>{STRANGER}</code>" in reply.text and "Probes" not in reply.text


def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_published(
    deployment: Deployment, worker: Worker, telegram: FakeBotApiThread
) -> None:
    chat = CHATS[3]
    body = json.dumps(text_update(5401, chat, "/help")).encode()
    assert post(worker, f"/telegram/{PATH}", body, secret="wrong") == 401
    assert post(worker, f"/telegram/{PATH}", body, secret=None) == 401
    assert post(worker, f"/telegram/{PATH}", body, secret="") == 401
    send(worker, text_update(5402, chat, "/start"))  # same chat, same partition: after them
    telegram.wait_for_message(chat, contains="Hi!")
    assert [m.text[:3] for m in telegram.messages(chat)] == ["Hi!"]
    ids = update_ids(deployment)
    assert 5402 in ids and 5401 not in ids
    assert worker.counters()["telegram.webhook.rejected.bad_secret"] == 3


def test_an_unknown_path_is_not_found(worker: Worker) -> None:
    body = json.dumps(text_update(5501, CHATS[4], MAC)).encode()
    assert post(worker, "/telegram/not-the-path-0123456789", body) == 404
    assert post(worker, f"/telegram/{PATH[:-1]}", body) == 404
    assert post(worker, "/telegram/", body) == 404
    assert worker.get(f"/telegram/{PATH}")[0] == 405


def test_an_oversized_body_is_refused(deployment: Deployment, worker: Worker) -> None:
    update = text_update(5601, CHATS[4], "x" * MAX_BODY)
    body = json.dumps(update).encode()
    assert post(worker, f"/telegram/{PATH}", body) == 413
    assert post(worker, f"/telegram/{PATH}", body, chunked=True) == 413
    assert worker.counters()["telegram.webhook.rejected.too_large"] == 2
    assert 5601 not in update_ids(deployment)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'{"update_id": "x", "message": {}}', "no_update_id"),
    ],
)
def test_a_malformed_update_is_a_bad_request(worker: Worker, body: bytes, reason: str) -> None:
    before = worker.counters().get(f"telegram.webhook.rejected.{reason}", 0)
    assert post(worker, f"/telegram/{PATH}", body) == 400
    assert worker.counters()[f"telegram.webhook.rejected.{reason}"] == before + 1


def test_poisoned_records_in_the_topic_are_counted_and_skipped(
    deployment: Deployment, worker: Worker, telegram: FakeBotApiThread
) -> None:
    chat, blocked = CHATS[5], CHATS[6]
    telegram.api.blocked_chats.add(blocked)
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    topic = f"{deployment.prefix}telegram-updates"
    label = [("bot", str(BOT_ID).encode())]
    for value, headers in [
        (b"\x00 not json", label),
        (b'{"update_id": 7001, "message": {"chat": "nope"}}', label),
        (json.dumps(text_update(7002, chat, "/help")).encode(), [("bot", b"999")]),
        (json.dumps(text_update(7003, blocked, "/help")).encode(), label),
        (json.dumps(text_update(7004, chat, "/start")).encode(), label),
    ]:
        producer.produce(topic, key=str(chat).encode(), value=value, headers=headers)
    assert producer.flush(30) == 0

    telegram.wait_for_message(chat, contains="Hi!")  # the last of them: the others are done
    counters = worker.counters()
    assert counters["telegram.rejected.not_json"] == 1
    assert counters["telegram.rejected.invalid_update"] == 1
    assert counters["telegram.rejected.unknown_bot"] == 1
    assert counters["telegram.rejected.handler_error"] == 1
    assert [m.text[:3] for m in telegram.messages(chat)] == ["Hi!"]


@pytest.mark.parametrize(
    ("update_id", "source", "forwarded_for", "right_secret", "status"),
    [
        (6001, STRANGER_IP, None, True, 403),
        (6002, STRANGER_IP, None, False, 403),  # the network is checked before the secret
        (6003, STRANGER_IP, TELEGRAM_IP, True, 403),  # not a trusted proxy: header ignored
        (6004, PROXY, None, True, 403),  # the proxy itself is not Telegram
        (6005, PROXY, TELEGRAM_IP, True, 200),
        (6006, PROXY, f"{TELEGRAM_IP}, 10.0.0.1", True, 403),  # the right-most hop counts
        (6007, PROXY, f"10.9.9.9, {TELEGRAM_IP}", True, 200),  # what the client wrote: ignored
        (6008, PROXY, f"{TELEGRAM_IP}, {PROXY}", True, 200),  # trusted proxies are skipped
        (6009, PROXY, "not-an-address", True, 403),
        (6010, PROXY, TELEGRAM_IP, False, 401),  # from Telegram, but without the secret
    ],
)
def test_the_source_network_counts_and_a_forwarded_one_only_behind_a_trusted_proxy(
    deployment: Deployment,
    worker: Worker,
    update_id: int,
    source: str,
    forwarded_for: str | None,
    right_secret: bool,
    status: int,
) -> None:
    body = json.dumps(text_update(update_id, CHATS[4], "/help")).encode()
    before = worker.counters()
    secret = SECRET if right_secret else "wrong"
    got = post(
        worker, f"/telegram/{PATH}", body, secret=secret, source=source, forwarded_for=forwarded_for
    )
    assert got == status
    reason = {200: "accepted", 401: "rejected.bad_secret", 403: "rejected.network"}[status]
    name = f"telegram.webhook.{reason}"
    assert worker.counters().get(name, 0) == before.get(name, 0) + 1
    assert (update_id in update_ids(deployment)) == (status == 200)


def _max_message_bytes(topic: str, value: str | None) -> None:
    """Set a topic's max.message.bytes (None: back to the broker's default)."""
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    operation = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    entry = ConfigEntry("max.message.bytes", value, incremental_operation=operation)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)


def test_an_update_kafka_does_not_take_is_a_503_for_telegram_to_retry(
    deployment: Deployment, worker: Worker
) -> None:
    """Kafka refuses the record (here: larger than the topic allows); the webhook must not say
    200, or Telegram would not deliver the update again."""
    topic = f"{deployment.prefix}telegram-updates"
    update_ids_sent = iter(range(8000, 9000))
    refused: list[int] = []

    def post_next() -> int:
        update_id = next(update_ids_sent)
        body = json.dumps(text_update(update_id, CHATS[4], "/help" + " " * 200)).encode()
        status = post(worker, f"/telegram/{PATH}", body)
        if status == 503:
            refused.append(update_id)
        return status

    before = worker.counters().get("telegram.webhook.rejected.kafka", 0)
    log_before = len(worker.log_text())
    _max_message_bytes(topic, "100")
    try:
        # The broker applies a topic's new setting within moments: post until it does.
        wait_for(lambda: post_next() == 503, 30, "Kafka refusing the update")
    finally:
        _max_message_bytes(topic, None)
    wait_for(lambda: post_next() == 200, 30, "Kafka taking updates again")
    assert worker.counters()["telegram.webhook.rejected.kafka"] - before == len(refused) >= 1
    assert not set(refused) & update_ids(deployment), "a refused update is not in the topic"
    logged = worker.log_text()[log_before:]
    assert "could not publish a Telegram update to Kafka" in logged
    assert SECRET not in logged and PATH not in logged


def test_many_bots_one_server(worker: Worker, telegram: FakeBotApiThread) -> None:
    chat = CHATS[7]
    send(worker, text_update(5801, chat, "/help"), path=derive_path(PATH, EXTRA_ID))
    reply = telegram.wait_for_message(chat)
    assert reply.bot_id == EXTRA_ID


def test_no_secret_reaches_the_log(worker: Worker) -> None:
    log = worker.log_text()
    assert "Telegram bot @probewatch_110201543_bot (id 110201543) ready" in log
    for secret in (TOKEN.split(":")[1], EXTRA.split(":")[1], SECRET, PATH):
        assert secret not in log


def test_polling_mode_answers_through_kafka(
    workers: dict[str, Worker], telegram: FakeBotApiThread
) -> None:
    worker = workers["polling"]
    chat = CHATS[8]
    telegram.push_update(POLL_TOKEN, text_update(9001, chat, "00:00:5e:00:53:01"))
    worker.wait_ready()
    reply = telegram.wait_for_message(chat, bot_id=POLL_ID)
    assert reply.text.startswith("No result")
    telegram.push_update(POLL_TOKEN, text_update(9002, chat, "/help"))
    telegram.wait_for_message(chat, contains="/help shows", bot_id=POLL_ID)
    assert {9001, 9002} <= update_ids(worker.deployment)
    assert worker.counters()["telegram.polled"] == 2
    wait_for(lambda: telegram.api.pending(POLL_TOKEN) == [], 30, "updates confirmed")
    body = json.dumps(text_update(9003, chat, "/help")).encode()
    assert post(worker, f"/telegram/{PATH}", body) == 404  # no webhook in polling mode


def test_a_bad_token_stops_the_worker_with_a_clear_error(workers: dict[str, Worker]) -> None:
    worker = workers["bad_token"]
    assert worker.wait_exit(90) != 0
    log = worker.log_text()
    assert "Telegram refused the token of bot 444444 (Unauthorized)" in log
    assert REFUSED_TOKEN.split(":")[1] not in log


def test_without_a_token_there_is_no_bot(workers: dict[str, Worker]) -> None:
    worker = workers["no_bot"]
    worker.wait_ready()
    body = json.dumps(text_update(1, CHATS[0], MAC)).encode()
    assert post(worker, f"/telegram/{PATH}", body) == 404
    assert not [name for name in worker.counters() if name.startswith("telegram")]


def test_webhook_admin_commands(deployment: Deployment, telegram: FakeBotApiThread) -> None:
    done = deployment.probewatch("webhook-set", "--drop-pending-updates")
    assert done.returncode == 0, done.stderr
    hook = telegram.api.webhooks[BOT_ID]
    assert hook["url"] == f"{PUBLIC_URL}/telegram/{PATH}"
    assert hook["secret_token"] == SECRET and hook["allowed_updates"] == [
        "channel_post",
        "edited_channel_post",
        "edited_message",
        "message",
    ]
    assert telegram.api.webhooks[EXTRA_ID]["url"].endswith(derive_path(PATH, EXTRA_ID))
    assert f"bot {BOT_ID}: webhook set to {PUBLIC_URL}/telegram/{PATH}" in done.stdout

    info = deployment.probewatch("webhook-info")
    assert info.returncode == 0, info.stderr
    assert f"Telegram posts:  {PUBLIC_URL}/telegram/{PATH}" in info.stdout
    assert "MISMATCH" not in info.stdout and "@probewatch_220302654_bot" in info.stdout

    deleted = deployment.probewatch("webhook-delete")
    assert deleted.returncode == 0, deleted.stderr
    assert BOT_ID not in telegram.api.webhooks and EXTRA_ID not in telegram.api.webhooks

    without_url = Deployment(
        deployment.data_dir, deployment.prefix, extra_env=dict(deployment.extra_env)
    )
    del without_url.extra_env["PROBEWATCH_TELEGRAM_PUBLIC_URL"]
    failed = without_url.probewatch("webhook-set")
    assert failed.returncode == 1
    assert "probewatch: PROBEWATCH_TELEGRAM_PUBLIC_URL is not set" in failed.stderr
