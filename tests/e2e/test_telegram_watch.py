"""Names, the watch list and alerts from Telegram, end to end: a fake Bot API, all else real.

One webhook-mode worker serves every test here. Updates are POSTed to its webhook as Telegram
posts them, go through Kafka to the bot, which edits names, the watch list and subscriptions
through the worker's HTTP API; probes are produced as the sniffer produces them, and the alert
messages are read from the sendMessage calls the fake received.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_telegram import FakeBotApiThread, SentMessage, text_update
from tests.harness import Deployment, Worker, new_prefix, wait_for
from tests.kafka_io import probe, produce, produce_probes

TOKEN = "440501876:DDIgaWfyFK4kZMAcViiVDv3N8SEOGvdz"
BOT_ID = 440501876
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
TS = 1795277343.0  # 2026-11-21 16:09:03 UTC, which London shows as GMT
ALICE, BOB, CAROL, DAVE, EVE = (f"f0:18:98:00:5e:{i:02x}" for i in range(1, 6))  # Apple OUI
GHOST = "00:00:5e:00:53:01"
SSID = "Free WiFi ☕"
NAMER, WATCHER, BLOCKED, CRITIC = 3001, 3002, 3003, 3004
#: Subscribed (through the API), but not on the allow-list: a chat removed from it.
REMOVED = 3999
_update_ids = itertools.count(20_000)


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotApiThread]:
    with FakeBotApiThread([TOKEN]) as fake:
        yield fake


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, telegram: FakeBotApiThread
) -> Iterator[Worker]:
    """A webhook-mode worker with a bot, London time; its own topic prefix."""
    env = {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
        "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": f"{NAMER},{WATCHER},{BLOCKED},{CRITIC}",
        "PROBEWATCH_TIMEZONE": "Europe/London",
    }
    deployment = Deployment(
        tmp_path_factory.mktemp("watch"), prefix=new_prefix("watch"), extra_env=env
    )
    with Worker(deployment) as started:
        wait_for(lambda: "setmycommands" in telegram.methods(BOT_ID), 30, "bot ready")
        yield started


def call(worker: Worker, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request to the worker's API; status and decoded JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{worker.url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if method == "POST":
        request.add_header("X-Telegram-Bot-Api-Secret-Token", SECRET)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def say(worker: Worker, telegram: FakeBotApiThread, chat: int, text: str) -> SentMessage:
    """Send `text` from `chat` through the webhook; the bot's one reply."""
    before = len(telegram.messages(chat))
    update = text_update(next(_update_ids), chat, text)
    assert call(worker, "POST", f"/telegram/{PATH}", update)[0] == 200
    wait_for(lambda: len(telegram.messages(chat)) > before, 30, f"a reply to {text!r}")
    return telegram.messages(chat)[before]


def alerts_to(telegram: FakeBotApiThread, chat: int) -> list[str]:
    return [m.text for m in telegram.messages(chat) if m.text.startswith("🚨")]


def counter(worker: Worker, name: str) -> int:
    return worker.counters().get(name, 0)


def seen(worker: Worker, *macs: str) -> None:
    for mac in macs:
        wait_for(lambda m=mac: worker.get(f"/devices/{m}")[0] == 200, 60, f"{mac} folded")


def test_a_device_named_in_the_chat_is_found_by_its_name(
    worker: Worker, telegram: FakeBotApiThread
) -> None:
    produce_probes(worker.deployment.prefix, [probe(ALICE, TS, "Home")])
    seen(worker, ALICE)
    named = say(worker, telegram, NAMER, "/name F0-18-98-00-5E-01 Alice's   phone")
    assert named.text == f"✏️ <code>{ALICE}</code> is now named <b>Alice's phone</b>."
    assert worker.get(f"/devices/{ALICE}")[1]["name"] == "Alice's phone"

    found = say(worker, telegram, NAMER, "alice's PHONE")
    assert f"📡 <b>Device</b> <code>{ALICE}</code>\nName: <b>Alice's phone</b>" in found.text
    assert "Probes: 1" in found.text and "Last probe: 2026-11-21 16:09:03 GMT" in found.text
    nobody = say(worker, telegram, NAMER, "Bob's tablet")
    assert nobody.text.startswith("No device is named <b>Bob's tablet</b>")


def test_watch_subscribe_alerts_unsubscribe_unwatch(
    worker: Worker, telegram: FakeBotApiThread
) -> None:
    prefix = worker.deployment.prefix
    produce_probes(prefix, [probe(BOB, TS - 100, "Home")])
    seen(worker, BOB)
    assert "is now named" in say(worker, telegram, WATCHER, f"/name {BOB} Bob phone").text

    watched = say(worker, telegram, WATCHER, f'/watch "{SSID}" phishing bait')
    assert watched.text.startswith(f"👁 Watching <code>{SSID}</code> (phishing bait).")
    listed = say(worker, telegram, WATCHER, "/watchlist")
    assert listed.text == f"👁 <b>Watch list</b> (1 SSID):\n• <code>{SSID}</code> — phishing bait"

    assert say(worker, telegram, WATCHER, "/subscribe").text.startswith("🔔 Subscribed")
    assert say(worker, telegram, WATCHER, "/subscribe").text.startswith("🔔 This chat is already")
    assert say(worker, telegram, BLOCKED, "/subscribe").text.startswith("🔔 Subscribed")
    telegram.api.blocked_chats.add(BLOCKED)  # its user blocks the bot after subscribing
    assert call(worker, "PUT", f"/subscriptions/{REMOVED}", {"bot": BOT_ID})[0] == 200
    status, body = call(worker, "GET", "/subscriptions")
    assert status == 200 and {s["chat_id"]: s["bot"] for s in body["subscriptions"]} == {
        WATCHER: BOT_ID,
        BLOCKED: BOT_ID,
        REMOVED: BOT_ID,
    }

    # A phone probing every second: three probes, one alert, one message.
    produce_probes(prefix, [probe(BOB, TS + i, SSID, rssi=-48) for i in range(3)])
    wait_for(lambda: counter(worker, "alerts.notify_failed") == 1, 60, "the first alert sent")
    assert counter(worker, "alerts.folded") == 2 and counter(worker, "alerts.notified") == 1
    [first] = alerts_to(telegram, WATCHER)
    assert first == (
        f"🚨 <b>Watched SSID probed:</b> <code>{SSID}</code>\n"
        f"Device: <b>Bob phone</b> (<code>{BOB}</code>)\n"
        "Reason: phishing bait\n"
        "Time: 2026-11-21 16:09:03 GMT\n"
        "Signal: -48 dBm\n"
        "Sensor: test"
    )

    produce_probes(prefix, [probe(CAROL, TS + 10, SSID)])  # another phone: a second message
    wait_for(lambda: counter(worker, "alerts.notify_failed") == 2, 60, "the second alert sent")
    second = alerts_to(telegram, WATCHER)[1]
    assert f"Device: <code>{CAROL}</code> (Apple, Inc.)" in second
    assert len(alerts_to(telegram, WATCHER)) == 2 and counter(worker, "alerts.notified") == 2
    assert counter(worker, "alerts.not_allowed") == 2 and telegram.messages(REMOVED) == []

    assert say(worker, telegram, WATCHER, "/unsubscribe").text.startswith("🔕 Unsubscribed")
    assert say(worker, telegram, WATCHER, "/unsubscribe").text.startswith("🔕 This chat was not")
    produce_probes(prefix, [probe(DAVE, TS + 20, SSID)])
    wait_for(lambda: counter(worker, "alerts.notify_failed") == 3, 60, "the third alert handled")
    assert len(alerts_to(telegram, WATCHER)) == 2 and counter(worker, "alerts.notified") == 2

    unwatched = say(worker, telegram, WATCHER, f"/unwatch {SSID}")
    assert unwatched.text == f"Stopped watching <code>{SSID}</code>."
    assert say(worker, telegram, WATCHER, "/watchlist").text.startswith("The watch list is empty")
    produce_probes(prefix, [probe(EVE, TS + 30, SSID)])
    seen(worker, EVE)  # folded, and no alert raised while folding it
    assert counter(worker, "alerts.emitted") == 3


def test_bad_input_gets_clear_errors(worker: Worker, telegram: FakeBotApiThread) -> None:
    unseen = say(worker, telegram, CRITIC, f"/name {GHOST} Ghost")
    assert unseen.text == (
        f"✏️ <code>{GHOST}</code> is now named <b>Ghost</b>. No probes seen from it yet: the "
        "name is ready for when it shows up."
    )
    not_mac = say(worker, telegram, CRITIC, "/name my-phone Alice")
    assert "<code>my-phone</code> is not a MAC address" in not_mac.text
    too_long = say(worker, telegram, CRITIC, "/watch " + "é" * 17 + " reason")
    assert too_long.text == f"Cannot watch <code>{'é' * 17}</code>: an SSID has at most 32 bytes."
    unbalanced = say(worker, telegram, CRITIC, '/watch "Free WiFi phishing bait')
    assert unbalanced.text.startswith("Cannot watch that: the quotes in the SSID are not balanced")
    missing = say(worker, telegram, CRITIC, "/unwatch Never Watched")
    assert missing.text.startswith("<code>Never Watched</code> is not on the watch list")
    assert say(worker, telegram, CRITIC, "/watch").text.startswith("Send /watch, an SSID")
    assert worker.get("/watchlist")[1]["watchlist"] == []


def test_malformed_alerts_and_subscriptions_are_counted_and_skipped(worker: Worker) -> None:
    prefix = worker.deployment.prefix
    produce(f"{prefix}alerts", [(BOB.encode(), b"\x00 not json"), (BOB.encode(), b'{"ts": 1}')])
    produce(f"{prefix}chat-subscriptions", [(b"3005", b'{"subscribed": "yes"}')])
    wait_for(lambda: counter(worker, "alerts.rejected.not_json") == 1, 30, "bad alert counted")
    assert counter(worker, "alerts.rejected.bad_mac") == 1
    wait_for(
        lambda: counter(worker, "subscriptions.rejected.bad_value") == 1, 30, "bad value counted"
    )
    assert 3005 not in [
        s["chat_id"] for s in call(worker, "GET", "/subscriptions")[1]["subscriptions"]
    ]
    assert call(worker, "PUT", "/subscriptions/not-a-chat")[0] == 400
    assert call(worker, "PUT", "/subscriptions/3005", {"bot": "me"})[0] == 400
    assert call(worker, "DELETE", "/subscriptions/3005") == (
        200,
        {"chat_id": 3005, "subscribed": False, "changed": False},
    )


def test_the_menu_lists_the_new_commands(worker: Worker, telegram: FakeBotApiThread) -> None:
    commands = [c["command"] for c in telegram.api.commands[BOT_ID]]
    assert {"name", "watch", "unwatch", "watchlist", "subscribe", "unsubscribe"} <= set(commands)
    help_text = say(worker, telegram, CRITIC, "/help").text
    assert "/watch" in help_text and "/subscribe" in help_text and "/name" in help_text
