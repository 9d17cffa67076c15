"""Where the archiver resumes a partition it is given (`Archiver.assigned`): always an explicit
seek, since aiokafka hands out a new partition's records while the listener still runs, and the
archiver drops those (the S3 lake's slower listing lost the first records of every partition).
A partition with no piece is archived from its beginning, whatever was committed: the lake holds
nothing of it (a new lake, or one emptied), so everything Kafka still holds goes in."""

from __future__ import annotations

from pathlib import Path

from aiokafka import TopicPartition

from app.lake.archiver import Archiver, Zone
from app.lake.storage import Lake
from app.logic.lake.layout import Piece, raw_path


class _Consumer:
    """What `assigned` asks of an AIOKafkaConsumer, and the seeks it makes."""

    def __init__(self, committed: dict[TopicPartition, int], beginning: int) -> None:
        self._committed = committed
        self._beginning = beginning
        self.seeks: dict[TopicPartition, int] = {}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self._committed.get(tp)

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, self._beginning)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


async def test_each_partition_is_sought_after_its_pieces_else_to_its_beginning(
    tmp_path: Path,
) -> None:
    lake = Lake(str(tmp_path))
    lake.put_bytes(raw_path(Piece("probes", 0, 0, 41), "2024-03-31"), b"")
    lake.put_bytes(raw_path(Piece("probes", 0, 42, 99), "2024-04-01"), b"")
    archiver = Archiver(lake, [Zone("probes", "probes", lambda p, r: None)], "unused", "unused")
    pieces, committed, nothing = (TopicPartition("probes", p) for p in range(3))
    consumer = _Consumer({pieces: 7, committed: 12}, beginning=3)
    await archiver.assigned(consumer, [pieces, committed, nothing])  # type: ignore[arg-type]
    assert consumer.seeks == {pieces: 100, committed: 0, nothing: 0}
    assert {tp.partition: held.next_offset for tp, held in archiver._partitions.items()} == {
        0: 100,
        1: 0,
        2: 0,
    }
