"""The pure parts of HTTP hardening: the webhook secret check, routing while the owner of a key
is unknown, and what aiohttp's complaints are counted as."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.http_exceptions import BadHttpMessage, ContentEncodingError, LineTooLong
from aiohttp.web import RequestPayloadError
from faust.exceptions import NotReady
from yarl import URL

from app.bot.webhook import secret_matches
from app.web import routing
from app.web.routing import OwnerUnknown, TopicUnknown, find_owner, owner_of, partition_of
from app.web.server import RETRY_AFTER_S, rejection_reason
from app.worker import partitions

SECRET = "s3cret"


@pytest.mark.parametrize(
    "header",
    [
        "s\udce9cret",  # b"s\xe9cret": aiohttp decodes bytes that are not UTF-8 this way
        "sécret",
        "s3cret\udcff",
        "\ud800",  # a lone surrogate no client can have sent
        "s3cret\x00",
    ],
)
def test_a_non_ascii_secret_is_simply_wrong(header: str) -> None:
    assert secret_matches(header, SECRET) is False


def test_the_secret_still_matches_itself() -> None:
    assert secret_matches(SECRET, SECRET)


@pytest.fixture(autouse=True)
def no_metadata_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "_learning", {})
    monkeypatch.setattr(routing, "owners", routing.Owners())
    monkeypatch.setattr(partitions, "_remembered", {})


class FakeProducer:
    def __init__(self, known: bool = False, started: bool = True) -> None:
        self.known = known
        self.started = started
        self.asked: list[str] = []

    def key_partition(self, topic: str, key: bytes) -> Any:
        if not self.started:
            raise NotReady("Producer service not yet started")
        if not self.known:
            raise TypeError("'NoneType' object is not iterable")  # aiokafka without metadata
        return SimpleNamespace(topic=topic, partition=3)

    def _ensure_producer(self) -> FakeProducer:
        return self

    async def partitions_for(self, topic: str) -> set[int]:
        self.asked.append(topic)
        self.known = True
        return {0, 1, 2, 3}


class FakeAssignor:
    """faust's assignor hands out the same mapping until it is given a new assignment."""

    def __init__(self, distribution: dict[str, dict[str, list[int]]]) -> None:
        self.distribution = distribution

    def tables_metadata(self) -> dict[str, dict[str, list[int]]]:
        return self.distribution


def fake_app(producer: FakeProducer, owners: dict[int, str] | None = None) -> Any:
    """An app whose assignor says who owns each partition of `devices-changelog`, as faust's
    does (URL → topic → partitions)."""
    owners = {3: "http://localhost:6066"} if owners is None else owners
    distribution: dict[str, dict[str, list[int]]] = {}
    for partition, url in owners.items():
        distribution.setdefault(url, {}).setdefault("devices-changelog", []).append(partition)
    return SimpleNamespace(
        producer=producer,
        conf=SimpleNamespace(canonical_url=URL("http://localhost:6066")),
        assignor=FakeAssignor(distribution),
        tables={
            "devices": SimpleNamespace(
                changelog_topic=SimpleNamespace(get_topic_name=lambda: "devices-changelog")
            )
        },
    )


def test_an_owner_nobody_knows_is_a_503_with_retry_after() -> None:
    for producer, owners in [
        (FakeProducer(started=False), None),  # starting: the producer is not up
        (FakeProducer(known=True), {}),  # rebalancing: nobody owns the partition
    ]:
        with pytest.raises(OwnerUnknown) as unknown:
            owner_of(fake_app(producer, owners), "devices", "aa:bb:cc:dd:ee:ff")
        assert unknown.value.code == 503
        assert unknown.value.extra_context["headers"]["Retry-After"] == str(RETRY_AFTER_S)


def test_the_owner_follows_each_new_assignment_and_a_key_is_hashed_once() -> None:
    producer = FakeProducer(known=True)
    hashed: list[bytes] = []
    key_partition = producer.key_partition

    def counting(topic: str, key: bytes) -> Any:
        hashed.append(key)
        return key_partition(topic, key)

    producer.key_partition = counting  # type: ignore[method-assign]
    app = fake_app(producer, {3: "http://localhost:6066"})
    assert owner_of(app, "devices", "aa:bb:cc:dd:ee:ff") is None  # this worker's own
    app.assignor.distribution = {"http://elsewhere:6067": {"devices-changelog": [3]}}
    assert owner_of(app, "devices", "aa:bb:cc:dd:ee:ff") == URL("http://elsewhere:6067")
    app.assignor.distribution = {"http://elsewhere:6067": {"devices-changelog": [1]}}
    with pytest.raises(OwnerUnknown):
        owner_of(app, "devices", "aa:bb:cc:dd:ee:ff")  # partition 3 is nobody's right now
    assert hashed == [b"aa:bb:cc:dd:ee:ff"]


def test_routed_tables_serialize_keys_as_their_utf8_text() -> None:
    """`Owners` hashes a key's UTF-8 bytes: what faust serializes it to for these tables."""
    from app.tables.devices import devices_table
    from app.tables.groups import groups_table
    from app.tables.ssids import ssids_table

    for table in (devices_table, groups_table, ssids_table):
        for key in ("aa:bb:cc:dd:ee:ff", "café ☕", ""):
            assert table.changelog_topic.prepare_key(key, None)[0] == key.encode(), table.name


async def test_missing_topic_metadata_is_fetched_then_the_key_is_routed() -> None:
    producer = FakeProducer(known=False)
    app = fake_app(producer, {3: "http://elsewhere:6067"})
    with pytest.raises(TopicUnknown):
        owner_of(app, "devices", "aa:bb:cc:dd:ee:ff")  # what faust's key_store raised as TypeError
    assert await find_owner(app, "devices", "aa:bb:cc:dd:ee:ff") == URL("http://elsewhere:6067")
    assert producer.asked == ["devices-changelog"]


async def test_missing_metadata_before_any_assignment_is_not_fetched() -> None:
    producer = FakeProducer(known=False)
    with pytest.raises(OwnerUnknown):
        await find_owner(fake_app(producer, {}), "devices", "aa:bb:cc:dd:ee:ff")
    assert producer.asked == []


async def test_partition_of_asks_for_metadata_in_the_background() -> None:
    producer = FakeProducer(known=False)
    app = fake_app(producer)
    with pytest.raises(TopicUnknown):
        partition_of(app, "device-names-changelog", b"aa")
    await asyncio.gather(*routing._learning.values())
    assert partition_of(app, "device-names-changelog", b"aa") == 3
    assert producer.asked == ["device-names-changelog"]


@pytest.mark.parametrize(
    ("err", "reason"),
    [
        (BadHttpMessage("Invalid header"), "malformed"),
        (LineTooLong(b"x" * 10, 8190), "malformed"),
        (ContentEncodingError("gzip"), "bad_body"),
        (RequestPayloadError("Can not decode content-encoding: gzip"), "bad_body"),
        (ConnectionResetError("Connection lost"), "client_gone"),
        (RuntimeError("a bug"), None),
        (KeyError("a bug"), None),
    ],
)
def test_what_aiohttp_complains_about_is_counted_as(err: Exception, reason: str | None) -> None:
    assert rejection_reason(err) == reason


def test_a_wrapped_complaint_is_counted_by_its_cause() -> None:
    try:
        try:
            raise ContentEncodingError("gzip")
        except ContentEncodingError as inner:
            raise ValueError("wrapped") from inner
    except ValueError as outer:
        assert rejection_reason(outer) == "bad_body"
