"""The worker's listing index (`app.worker.device_index`): fed by flushes and names, read back
from the stores of the partitions it owns, dropped for those it gives away, never half-ready."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.logic.listing import index as listing_index
from app.logic.listing import order as listing_order
from app.logic.listing import parse_query
from app.worker import device_index as device_index_module
from app.worker.device_index import NotReady, WorkerIndex
from tests.unit.app.logic.test_listing import T0, row

DEVICES = "devices"


def mac(partition: int, number: int) -> str:
    return f"f0:18:98:00:{partition:02x}:{number:02x}"


class Stores:
    """Partition stores in memory: rows, names and the offset each partition's store reached.

    `during_read` runs while a partition's rows are being read (after its first row): what a
    flush or a names edit does meanwhile."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[bytes, Any]] = {}
        self.named: dict[int, dict[bytes, str]] = {}
        self.offsets: dict[int, int | None] = {}
        self.reads: list[int] = []
        self.during_read: Callable[[], None] | None = None

    def put(self, partition: int, key: str, state: Any, offset: int = 0) -> None:
        self.rows.setdefault(partition, {})[key.encode()] = state
        self.offsets[partition] = offset

    def devices_offset(self, partition: int) -> int | None:
        return self.offsets.get(partition)

    def devices(self, partition: int) -> Iterator[tuple[bytes, Any]]:
        self.reads.append(partition)
        for number, pair in enumerate(list(self.rows.get(partition, {}).items())):
            yield pair
            if number == 0 and self.during_read is not None:
                self.during_read()

    def names(self, partition: int) -> Iterator[tuple[bytes, str]]:
        yield from list(self.named.get(partition, {}).items())


def listed(index: WorkerIndex, owned: set[int], **params: str) -> list[str]:
    return [item["mac"] for item in index.query(parse_query(params), owned).items]


@pytest.fixture()
def stores() -> Stores:
    stores = Stores()
    for partition in (0, 1):
        for number in range(3):
            stores.put(partition, mac(partition, number), row(T0 + 10 * partition + number), 7)
    stores.named[1] = {mac(1, 0).encode(): "Alice phone"}
    return stores


@pytest.fixture(autouse=True)
def tiny_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand the loop back after every 32 rows read, so the interleavings below happen."""
    monkeypatch.setattr(device_index_module, "SLICE_S", 0.0)


async def test_unready_until_the_owned_partitions_are_read_back(stores: Stores) -> None:
    index = WorkerIndex(DEVICES)
    with pytest.raises(NotReady):
        index.query(parse_query({}), {0, 1})
    await index.reconcile({0, 1}, stores)
    assert listed(index, {0, 1}) == [
        mac(1, 2),
        mac(1, 1),
        mac(1, 0),
        mac(0, 2),
        mac(0, 1),
        mac(0, 0),
    ]
    assert listed(index, {0, 1}, name="alice") == [mac(1, 0)]
    with pytest.raises(NotReady):
        index.query(parse_query({}), {0, 1, 2})  # owns another partition now: not read yet


async def test_partitions_are_read_back_once_the_worker_serves_with_what_was_stored_meanwhile(
    stores: Stores,
) -> None:
    """The read-back waits for `serving` (faust's last seeks go first); rows a flush stored
    before are in the stores it then reads."""
    index = WorkerIndex(DEVICES)
    serving = asyncio.Event()
    task = index.reconcile_soon({0, 1}, stores, serving.wait)
    for _ in range(5):
        await asyncio.sleep(0)
    assert stores.reads == []
    stores.put(0, mac(0, 9), row(T0 + 99), 8)
    index.stored(DEVICES, 0, {mac(0, 9).encode(): row(T0 + 99)}, 8)
    serving.set()
    await task
    assert stores.reads == [0, 1]
    assert listed(index, {0, 1})[0] == mac(0, 9)
    assert len(index.index) == 7


async def test_a_rebalance_while_waiting_to_serve_reads_nothing(stores: Stores) -> None:
    index = WorkerIndex(DEVICES)
    serving = asyncio.Event()
    task = index.reconcile_soon({0, 1}, stores, serving.wait)
    await asyncio.sleep(0)
    index.rebalancing()
    serving.set()
    await asyncio.gather(task, return_exceptions=True)
    assert stores.reads == []
    with pytest.raises(NotReady):
        index.query(parse_query({}), {0, 1})


async def test_flushed_rows_and_names_are_listed_at_once(stores: Stores) -> None:
    index = WorkerIndex(DEVICES)
    await index.reconcile({0, 1}, stores)
    index.stored(DEVICES, 0, {mac(0, 9).encode(): row(T0 + 99)}, 8)
    index.stored("ssids", 0, {b"home": {"devices": {}}}, 8)  # another table: not a device
    index.name_changed(mac(0, 1).encode(), "Bob laptop", 0)
    index.name_changed(mac(1, 0).encode(), None, 1)
    assert listed(index, {0, 1})[0] == mac(0, 9)
    assert listed(index, {0, 1}, name="o") == [mac(0, 1)]
    assert len(index.index) == 7


async def test_a_rebalance_unreadies_drops_what_left_and_keeps_what_is_unchanged(
    stores: Stores,
) -> None:
    index = WorkerIndex(DEVICES)
    await index.reconcile({0, 1}, stores)
    index.stored(DEVICES, 0, {mac(0, 9).encode(): row(T0 + 99)}, 8)
    stores.put(0, mac(0, 9), row(T0 + 99), 8)  # the store has what the flush stored
    stores.reads.clear()

    index.rebalancing()
    with pytest.raises(NotReady):
        index.query(parse_query({}), {0})
    await index.reconcile({0}, stores)
    assert stores.reads == [], "partition 0's store is where the index left it: not read again"
    assert listed(index, {0}) == [mac(0, 9), mac(0, 2), mac(0, 1), mac(0, 0)]
    assert listed(index, {0}, name="alice") == [], "partition 1's names left with it"
    assert len(index.index) == 4 and index.index.partitions() == {0}


async def test_a_partition_written_elsewhere_meanwhile_is_read_back(stores: Stores) -> None:
    index = WorkerIndex(DEVICES)
    await index.reconcile({0, 1}, stores)
    index.rebalancing()
    await index.reconcile({0}, stores)
    # Partition 1 lives on another worker for a while, which folds a probe and names a device.
    stores.put(1, mac(1, 1), row(T0 + 500), 12)
    stores.named[1] = {mac(1, 2).encode(): "Kitchen tablet"}
    index.rebalancing()
    stores.reads.clear()
    await index.reconcile({0, 1}, stores)
    assert stores.reads == [1]
    assert listed(index, {0, 1})[0] == mac(1, 1)
    assert listed(index, {0, 1}, name="a") == [mac(1, 2)], "names as the store has them now"

    # Back again with the same offset, but names edited elsewhere: names are always read back.
    index.rebalancing()
    stores.named[1] = {}
    await index.reconcile({0, 1}, stores)
    assert listed(index, {0, 1}, name="a") == []


async def test_what_is_stored_while_a_partition_is_read_back_wins_over_the_read(
    stores: Stores,
) -> None:
    index = WorkerIndex(DEVICES)
    stale, fresh = mac(0, 1), mac(0, 7)

    def flush_meanwhile() -> None:
        index.stored(DEVICES, 0, {stale.encode(): row(T0 + 900, count=42)}, 9)
        index.stored(DEVICES, 0, {fresh.encode(): row(T0 + 800)}, 9)
        index.name_changed(stale.encode(), "renamed meanwhile", 0)

    stores.named[0] = {stale.encode(): "old name"}
    stores.during_read = flush_meanwhile
    await index.reconcile({0}, stores)
    page = index.query(parse_query({}), {0})
    assert [item["mac"] for item in page.items] == [stale, fresh, mac(0, 2), mac(0, 0)]
    assert page.items[0]["probe_count"] == 42 and page.items[0]["name"] == "renamed meanwhile"


async def test_a_rebalance_during_a_read_back_stops_it_and_stays_unready(stores: Stores) -> None:
    for number in range(3, 200):
        stores.put(0, mac(0, number), row(T0 + number), 7)
    index = WorkerIndex(DEVICES)
    stores.during_read = index.rebalancing
    await index.reconcile({0, 1}, stores)
    assert stores.reads == [0], "stopped within the first partition"
    with pytest.raises(NotReady):
        index.query(parse_query({}), {0, 1})
    stores.during_read = None
    await index.reconcile({0, 1}, stores)
    assert index.query(parse_query({}), {0, 1}).count == 200 + 3


async def test_reading_back_hands_the_loop_back(stores: Stores) -> None:
    for number in range(3, 250):
        stores.put(0, mac(0, number), row(T0 + number), 7)
    index = WorkerIndex(DEVICES)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(tick())
    await index.reconcile_soon({0, 1}, stores)
    ticker.cancel()
    assert ticks >= 250 // 32, "the loop ran between slices"
    assert index.ready({0, 1})


@pytest.fixture()
def many_in_partition_1(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> int:
    """Partition 1 holds 3 + 600 devices, dropped a leaf or 16 devices at a time: a drop of
    many slices."""
    monkeypatch.setattr(listing_index, "_FORGET_STEP", 16)
    monkeypatch.setattr(listing_order, "LEAVES_A_STEP", 1)
    for number in range(3, 603):
        stores.put(1, f"f0:18:98:01:{number >> 8:02x}:{number & 255:02x}", row(T0 + number), 7)
    return 603


async def test_dropping_a_partition_hands_the_loop_back(
    stores: Stores, many_in_partition_1: int
) -> None:
    index = WorkerIndex(DEVICES)
    await index.reconcile({0, 1}, stores)
    assert len(index.index) == 3 + many_in_partition_1
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(tick())
    index.rebalancing()
    await index.reconcile_soon({0}, stores)  # partition 0 is unchanged: nothing to read
    ticker.cancel()
    assert ticks >= many_in_partition_1 // 16, "the loop ran between the drop's slices"
    assert index.ready({0}) and len(index.index) == 3
    assert listed(index, {0}) == [mac(0, 2), mac(0, 1), mac(0, 0)]


async def test_a_drop_a_rebalance_interrupts_is_finished_before_the_index_is_ready(
    stores: Stores, many_in_partition_1: int
) -> None:
    index = WorkerIndex(DEVICES)
    await index.reconcile({0, 1}, stores)
    index.rebalancing()
    dropping = index.reconcile_soon({0}, stores)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not dropping.done()
    assert len(index.index) == 3, "the partition's devices are out of every count at once"
    index.rebalancing()  # partition 1 comes back before its drop is over
    assert dropping.cancelled() or not dropping.done()
    index.stored(DEVICES, 1, {mac(1, 0).encode(): row(T0 + 900, count=5)}, 8)  # a flush
    stores.put(1, mac(1, 0), row(T0 + 900, count=5), 8)
    await index.reconcile({0, 1}, stores)
    page = index.query(parse_query({"limit": "1"}), {0, 1})
    assert page.count == 3 + many_in_partition_1, "every device once: none left behind"
    assert page.items[0]["mac"] == mac(1, 0) and page.items[0]["probe_count"] == 5
    assert index.index.partitions() == {0, 1}
    slots, free = len(index.index._mac), len(index.index._free)
    assert slots - free == len(index.index), "every slot of a dropped device is free again"
