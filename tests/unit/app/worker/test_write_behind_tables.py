"""How a write-behind flush treats its tables: a `leading` table's rows are acknowledged by the
broker before any other table's rows are sent (the activity counters ahead of the rows they
are tallied from), and the rows of every table still all arrive; rows of a table not
`counted` do not make a flush due."""

from __future__ import annotations

import asyncio
from typing import Any

from app.worker.write_behind import WriteBehind


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    def append(self, *, key: bytes, value: bytes, timestamp: None) -> object:
        self.records.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class FakeClient:
    """Records each send and each acknowledgement, acknowledging a batch a moment later."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, partition: int) -> Any:
        self.log.append(("sent", topic))
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def ack() -> None:
            self.log.append(("acked", topic))
            acked.set_result(type("Metadata", (), {"offset": 0})())

        asyncio.get_running_loop().call_later(0.01, ack)
        return acked


class FakeTable:
    def __init__(self, name: str) -> None:
        self.name = name
        self.changelog_topic = type("Topic", (), {"get_topic_name": lambda _: f"{name}-log"})()


async def test_leading_rows_are_acknowledged_before_other_rows_are_sent() -> None:
    client = FakeClient()
    app = type("App", (), {})()
    app.producer = type("Producer", (), {"_ensure_producer": lambda _: client})()
    flusher = WriteBehind(app, max_staged=100, interval_s=60)
    tables = [FakeTable("rows"), FakeTable("counts"), FakeTable("more-rows")]
    flusher.track(tables[0])  # type: ignore[arg-type]
    flusher.track(tables[1], leading=True)  # type: ignore[arg-type]
    flusher.track(tables[2])  # type: ignore[arg-type]
    stored: list[str] = []

    async def store(flushing: Any, offsets: dict[tuple[str, int], int]) -> None:
        stored.extend(name for name, _ in offsets)

    flusher._store = store  # type: ignore[method-assign]
    for table in tables:
        for partition in (0, 1):
            flusher.stage(table, partition, b"key", {"n": 1})  # type: ignore[arg-type]
    await flusher.flush()
    lead_acks = [at for at, event in enumerate(client.log) if event == ("acked", "counts-log")]
    others_sent = [
        at for at, event in enumerate(client.log) if event[0] == "sent" and event[1] != "counts-log"
    ]
    assert len(lead_acks) == 2 and len(others_sent) == 4
    assert max(lead_acks) < min(others_sent), client.log
    assert sorted(stored) == sorted(["rows", "counts", "more-rows"] * 2)


def test_rows_of_an_uncounted_table_do_not_bring_the_flush_forward() -> None:
    flusher = WriteBehind(type("App", (), {})(), max_staged=3, interval_s=60)  # type: ignore[arg-type]
    rows, history = FakeTable("rows"), FakeTable("history")
    flusher.track(rows)  # type: ignore[arg-type]
    flusher.track(history, counted=False)  # type: ignore[arg-type]
    for key in (b"a", b"b"):
        flusher.stage(rows, 0, key, {})  # type: ignore[arg-type]
        flusher.stage(history, 0, key, {})  # type: ignore[arg-type]
    assert not flusher.due and flusher.unflushed_rows == 4
    flusher.stage(rows, 1, b"c", {})  # type: ignore[arg-type]
    assert flusher.due
