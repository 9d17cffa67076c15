"""The bot in a group, end to end: chatter is recorded but not answered, what is meant for the bot
is, and `/stats` counts the chatter (and a capture's probable devices) from the lake. Real-shaped
supergroup updates are POSTed to a webhook-mode worker's webhook; Kafka, the archiver, DuckDB and
the API are real; the Bot API is the fake, whose sendMessage calls are the bot's replies."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fake_telegram import FakeBotApiThread
from tests.harness import Deployment, Worker, new_prefix, post_webhook, wait_for
from tests.lake_io import lake_sql, served_probable_devices
from tests.pcaps import capture
from tests.tshark import tshark_probes

TOKEN = "660501876:FFIgaWfyFK4kZMAcViiVDv3N8SEOGvdz"
BOT_ID = 660501876
USERNAME = f"probewatch_{BOT_ID}_bot"  # as the fake's getMe introduces the bot
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
GROUP = -1001234500001
T0 = 1_714_521_600  # 2024-05-01T00:00:00Z: days long past, so today's messages are not in range
CHAT = {"id": GROUP, "type": "supergroup", "title": "Lab 📡"}
ANN = {"id": 11, "is_bot": False, "first_name": "Ann"}
BORIS = {"id": 12, "is_bot": False, "first_name": "Борис"}
_ids = itertools.count(1)
#: A real capture (22 MACs, 14 randomized, over seven hours) for `/stats probes-per-hour`.
CAPTURE = "probe-request-project__position_2"


def message(sender: dict[str, Any], at: float, text: str, **more: Any) -> dict[str, Any]:
    update_id = next(_ids)
    body = {"message_id": update_id, "from": sender, "chat": CHAT, "date": int(at), "text": text}
    return {"update_id": update_id, "message": body | more}


def command(sender: dict[str, Any], at: float, text: str) -> dict[str, Any]:
    length = len(text.split()[0])
    return message(
        sender, at, text, entities=[{"offset": 0, "length": length, "type": "bot_command"}]
    )


CHATTER = [
    message(ANN, T0 + 3600, "morning all"),
    message(BORIS, T0 + 3660, "f0:18:98:11:22:33"),  # a MAC, but said to the group, not the bot
    message(ANN, T0 + 86_400 + 60, "did you see the game?"),
    message(BORIS, T0 + 86_400 + 90, "/frobnicate"),  # perhaps another bot's command
]
HELP = command(ANN, T0 + 86_400 + 120, "/help")
MENTION = message(
    BORIS,
    T0 + 86_400 + 180,
    f"@{USERNAME} 00:00:5e:00:53:01",
    entities=[{"offset": 0, "length": len(USERNAME) + 1, "type": "mention"}],
)
SENT = [*CHATTER, HELP, MENTION]


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, FakeBotApiThread]]:
    """A worker serving GROUP, which may see reports; every update above sent through its webhook,
    the bot's two replies received and every message in the lake."""
    with FakeBotApiThread([TOKEN]) as telegram:
        env = {
            "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
            "PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url,
            "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
            "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": str(GROUP),
            "PROBEWATCH_TELEGRAM_STATS_CHATS": str(GROUP),
            "PROBEWATCH_LAKE_FLUSH_S": "1",
        }
        deployment = Deployment(
            tmp_path_factory.mktemp("bot-groups"), prefix=new_prefix("botgroup"), extra_env=env
        )
        with Worker(deployment) as worker:
            wait_for(lambda: "setmycommands" in telegram.methods(BOT_ID), 60, "the bot ready")
            for update in SENT:
                post_webhook(f"{worker.url}/telegram/{PATH}", SECRET, update)
            wait_for(lambda: len(telegram.messages(GROUP)) >= 2, 60, "the replies to the bot")
            wait_for(
                lambda: lake_sql(deployment, "select count(*) from messages") == [[len(SENT)]],
                90,
                "every message in the lake",
            )
            yield worker, telegram
        deployment.delete_topics()


def test_chatter_is_recorded_and_only_what_is_meant_for_the_bot_is_answered(
    group: tuple[Worker, FakeBotApiThread],
) -> None:
    worker, telegram = group
    # A chat's updates are answered in order (one partition), so with the last one answered
    # every earlier one was handled: the chatter got nothing.
    help_reply, mention_reply = (m.text for m in telegram.messages(GROUP))
    assert help_reply.startswith("I tell you what Wi-Fi sensors saw")
    assert mention_reply == (
        "No result: no probe requests seen from <code>00:00:5e:00:53:01</code>."
    )
    assert worker.counters().get("telegram.handled") == len(SENT)
    texts = lake_sql(worker.deployment, "select text from messages order by update_id")
    assert texts == [[u["message"]["text"]] for u in SENT]


def test_stats_counts_the_group_s_messages_per_day(
    group: tuple[Worker, FakeBotApiThread],
) -> None:
    worker, telegram = group
    before = len(telegram.messages(GROUP))
    post_webhook(
        f"{worker.url}/telegram/{PATH}",
        SECRET,
        command(
            ANN, datetime.now(UTC).timestamp(), "/stats messages-per-day 2024-05-01 2024-05-03"
        ),
    )
    wait_for(lambda: len(telegram.messages(GROUP)) > before, 60, "the /stats reply")
    [reply] = telegram.messages(GROUP)[before:]
    per_day = Counter(
        datetime.fromtimestamp(u["message"]["date"], UTC).date().isoformat() for u in SENT
    )
    assert per_day == {"2024-05-01": 2, "2024-05-02": 4}
    assert reply.text == (
        "📊 <b>messages-per-day</b> (since 2024-05-01, until 2024-05-03), 2 rows, times in UTC:\n"
        "<pre>day         messages\n"
        + "\n".join(f"{day}  {n:>8}" for day, n in sorted(per_day.items()))
        + "</pre>"
    )


def test_stats_counts_probable_devices_beside_macs_per_hour(
    group: tuple[Worker, FakeBotApiThread],
) -> None:
    """A real capture replayed into the same worker: `/stats probes-per-hour` shows, per hour,
    the probable devices next to the MACs, as counted here from tshark's probes and the group
    `GET /devices/{mac}` serves for each (groups begun in doubt left out)."""
    worker, telegram = group
    deployment = worker.deployment
    pcap = capture(CAPTURE)
    truth = tshark_probes(pcap, damaged_ok=False)
    replay = deployment.sniffer("replay", "--no-progress", str(pcap))
    assert replay.returncode == 0, replay.stderr
    probable = served_probable_devices(deployment, worker.url, sorted({p.mac for p in truth}))
    hours: dict[str, set[str]] = {}
    for probe in truth:
        hour = datetime.fromtimestamp(probe.ts, UTC).strftime("%Y-%m-%d %H:00")
        hours.setdefault(hour, set()).add(probe.mac)
    want = [
        [hour, len(heard), len({probable[m] for m in heard if m in probable})]
        for hour, heard in sorted(hours.items())
    ]
    assert any(probable < heard for _, heard, probable in want), "fewer devices than MACs"

    before = len(telegram.messages(GROUP))
    post_webhook(
        f"{worker.url}/telegram/{PATH}",
        SECRET,
        command(ANN, datetime.now(UTC).timestamp(), "/stats probes-per-hour 2024-03-30 2024-04-01"),
    )
    wait_for(lambda: len(telegram.messages(GROUP)) > before, 60, "the /stats reply")
    [reply] = telegram.messages(GROUP)[before:]
    table = reply.text.split("<pre>", 1)[1].removesuffix("</pre>").splitlines()
    assert table[0].split() == ["hour", "probes", "devices", "probable_devices"]
    shown = [line.split() for line in table[1:]]
    assert [
        [f"{day} {time}", int(macs_), int(probable)] for day, time, _, macs_, probable in shown
    ] == want
