"""Telegram messages into the lake and out as SQL, end to end: real-shaped updates POSTed to a
webhook-mode worker's real webhook, through Kafka, archived raw and flattened to Parquet; every
report's rows equal what is computed here by hand from the updates sent."""

from __future__ import annotations

import gzip
import json
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.fake_telegram import FakeBotApiThread
from tests.harness import Deployment, Worker, new_prefix, wait_for
from tests.lake_io import lake_report, lake_sql

TOKEN = "550501876:EEIgaWfyFK4kZMAcViiVDv3N8SEOGvdz"
BOT_ID = 550501876
SECRET = f"e2e-{uuid.uuid4().hex}"
PATH = f"hook-{uuid.uuid4().hex}"
GROUP = -1001234567890
T0 = 1_795_000_000  # 2026-11-18T10:13:20Z, a Wednesday

ANN = {"id": 11, "is_bot": False, "first_name": "Ann"}
BORIS = {"id": 12, "is_bot": False, "first_name": "Борис", "language_code": "ru"}
HELPER = {"id": 13, "is_bot": True, "first_name": "HelperBot", "username": "helper_bot"}
CHAT = {"id": GROUP, "type": "supergroup", "title": "Sensors 📡"}


def _message(update_id: int, sender: dict[str, Any], at: int, **content: Any) -> dict[str, Any]:
    message = {"message_id": update_id, "from": sender, "chat": CHAT, "date": at, **content}
    return {"update_id": update_id, "message": message}


UPDATES = [
    _message(1, ANN, T0, text="hello everyone"),
    _message(2, BORIS, T0 + 60, text="Привет! 👋"),
    _message(
        3,
        ANN,
        T0 + 3600,
        text="/stats",
        entities=[{"offset": 0, "length": 6, "type": "bot_command"}],
    ),
    _message(4, BORIS, T0 + 3700, sticker={"file_id": "x", "emoji": "😀"}),
    _message(5, HELPER, T0 + 86_400, text="I am a bot"),
    _message(6, ANN, T0 + 86_400 + 7200, new_chat_members=[BORIS]),
    _message(7, BORIS, T0 + 2 * 86_400, text="数据 ok"),
    {
        "update_id": 8,
        "edited_message": {
            "message_id": 1,
            "from": ANN,
            "chat": CHAT,
            "date": T0,
            "edit_date": T0 + 30,
            "text": "hello everyone!",
        },
    },
]
#: The messages the reports count (edits are not messages of their own).
MESSAGES = [u["message"] for u in UPDATES if "message" in u]


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Worker]]:
    with FakeBotApiThread([TOKEN]) as telegram:
        env = {
            "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
            "PROBEWATCH_TELEGRAM_API_BASE": telegram.base_url,
            "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PROBEWATCH_TELEGRAM_WEBHOOK_PATH": PATH,
            "PROBEWATCH_TELEGRAM_ALLOWED_CHATS": str(GROUP),
            "PROBEWATCH_LAKE_FLUSH_S": "1",
        }
        deployment = Deployment(
            tmp_path_factory.mktemp("lake-messages"), prefix=new_prefix("lakemsg"), extra_env=env
        )
        with Worker(deployment) as worker:
            for update in UPDATES:
                request = urllib.request.Request(
                    f"{worker.url}/telegram/{PATH}", data=json.dumps(update).encode(), method="POST"
                )
                request.add_header("Content-Type", "application/json")
                request.add_header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                with urllib.request.urlopen(request, timeout=30) as response:
                    assert response.status == 200
            wait_for(
                lambda: lake_sql(deployment, "select count(*) from messages") == [[len(UPDATES)]],
                90,
                "every update in the lake",
            )
            yield deployment, worker
        deployment.delete_topics()


def _day(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def test_every_update_is_in_the_raw_zone_unchanged(archived: tuple[Deployment, Worker]) -> None:
    deployment, _ = archived
    kept = []
    for path in sorted((deployment.data_dir / "lake" / "raw" / "telegram").glob("*/*.jsonl.gz")):
        kept += [
            orjson.loads(line)["value"] for line in gzip.decompress(path.read_bytes()).splitlines()
        ]
    assert sorted(kept, key=lambda u: u["update_id"]) == UPDATES


def test_messages_are_flat_with_their_user_chat_text_and_length(
    archived: tuple[Deployment, Worker],
) -> None:
    deployment, _ = archived
    rows = lake_sql(
        deployment,
        "select update_id, kind, user_id, user_is_bot, user_first_name, chat_id, chat_type, "
        "content, text, text_length, epoch(time)::BIGINT from messages order by update_id",
    )
    want = []
    for update in UPDATES:
        kind = "message" if "message" in update else "edited_message"
        m = update[kind]
        text = m.get("text")
        content = next(k for k in ("text", "sticker", "new_chat_members") if k in m)
        want.append(
            [
                update["update_id"],
                kind,
                m["from"]["id"],
                m["from"]["is_bot"],
                m["from"]["first_name"],
                GROUP,
                "supergroup",
                content,
                text,
                len(text) if text else 0,
                m["date"],
            ]
        )
    assert rows == want


def test_the_message_reports_are_the_hand_counts(archived: tuple[Deployment, Worker]) -> None:
    deployment, worker = archived
    per_day = Counter(_day(m["date"]) for m in MESSAGES)
    assert lake_report(deployment, "messages-per-day") == sorted(map(list, per_day.items()))
    per_user: dict[tuple[str, int], list[int]] = defaultdict(list)
    for m in MESSAGES:
        per_user[(_day(m["date"]), m["from"]["id"])].append(len(m.get("text") or ""))
    names = {u["id"]: u["first_name"] for u in (ANN, BORIS, HELPER)}
    want = sorted(
        ([day, user, names[user], len(lengths)] for (day, user), lengths in per_user.items()),
        key=lambda row: (row[0], -row[3], row[1]),
    )
    assert lake_report(deployment, "messages-per-user-per-day") == want
    texts: dict[tuple[str, int], list[int]] = defaultdict(list)
    for m in MESSAGES:
        if "text" in m:
            texts[(_day(m["date"]), m["from"]["id"])].append(len(m["text"]))
    want = [
        [day, user, names[user], round(sum(ls) / len(ls), 2), len(ls)]
        for (day, user), ls in sorted(texts.items())
    ]
    assert lake_report(deployment, "average-length-per-user-per-day") == want
    grid = Counter(
        (
            datetime.fromtimestamp(m["date"], UTC).isoweekday(),
            datetime.fromtimestamp(m["date"], UTC).hour,
        )
        for m in MESSAGES
    )
    assert lake_report(deployment, "messages-by-hour-and-weekday") == [
        [weekday, hour, n] for (weekday, hour), n in sorted(grid.items())
    ]
    since = T0 + 86_400
    status, body = worker.get(f"/analytics/messages-per-day?since={since}")
    assert status == 200
    assert [[r["day"], r["messages"]] for r in body["rows"]] == sorted(
        [day, n] for day, n in per_day.items() if day >= _day(since)
    )


def test_a_users_messages_are_erased_from_the_lake_and_the_others_stay(
    archived: tuple[Deployment, Worker],
) -> None:
    """Last in this module: it takes Борис out of the lake (`DELETE /telegram-users/{id}`)."""
    deployment, worker = archived
    theirs = [
        u for u in UPDATES if any(m.get("from") == BORIS for m in u.values() if isinstance(m, dict))
    ]
    assert theirs, "Борис wrote some of the updates"
    request = urllib.request.Request(f"{worker.url}/telegram-users/{BORIS['id']}", method="DELETE")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        assert orjson.loads(response.read())["user_id"] == BORIS["id"]
    wait_for(
        lambda: (
            lake_sql(deployment, "select count(*) from messages") == [[len(UPDATES) - len(theirs)]]
        ),
        60,
        "Борис's messages gone from the enriched zone",
    )
    assert lake_sql(deployment, f"select count(*) from messages where user_id = {BORIS['id']}") == [
        [0]
    ]

    def raw_values() -> list[dict[str, Any]]:
        folder = deployment.data_dir / "lake" / "raw" / "telegram"
        return [
            orjson.loads(line)["value"]
            for path in folder.glob("*/*.jsonl.gz")
            for line in gzip.decompress(path.read_bytes()).splitlines()
        ]

    wait_for(
        lambda: (
            sorted(raw_values(), key=lambda u: u["update_id"])
            == [u for u in UPDATES if u not in theirs]
        ),
        30,
        "Борис's updates and the erasure itself gone from the raw zone",
    )
