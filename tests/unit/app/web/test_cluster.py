"""One worker's share of `GET /cluster` and its consumer lag, from faust's state (faked here).

The integration tests see a real cluster, where lag and recovery are over before anyone looks;
here each field is shown to follow the state it reports.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from app.main import settings
from app.web import cluster as cluster_views
from app.worker.metrics import consumer_lag

PROBES = settings.topic("probes")
DEVICES = settings.topic("probewatch-devices-changelog")


def fake_app(
    *,
    actives: frozenset[TP] | set[TP] = frozenset(),
    standbys: frozenset[TP] | set[TP] = frozenset(),
    ends: dict[TP, int] | None = None,
    read: dict[TP, int] | None = None,
    leader: bool = False,
    recovered: bool = True,
    rebalancing: bool = False,
) -> Any:
    return SimpleNamespace(
        conf=SimpleNamespace(canonical_url="http://worker-a:6066"),
        is_leader=lambda: leader,
        assignor=SimpleNamespace(
            assigned_actives=lambda: set(actives), assigned_standbys=lambda: set(standbys)
        ),
        monitor=SimpleNamespace(tp_end_offsets=ends or {}, tp_read_offsets=read or {}),
        tables=SimpleNamespace(
            recovery=SimpleNamespace(completed=SimpleNamespace(is_set=lambda: recovered))
        ),
        rebalancing=rebalancing,
    )


def test_lag_is_what_the_broker_has_and_this_worker_has_not_read() -> None:
    app = fake_app(
        ends={TP(PROBES, 0): 10, TP(PROBES, 1): 5, TP(PROBES, 2): 7},
        read={TP(PROBES, 0): 4, TP(PROBES, 2): 6},
    )
    assert consumer_lag(app) == {TP(PROBES, 0): 5, TP(PROBES, 1): 5, TP(PROBES, 2): 0}


def test_local_status_reports_shares_standbys_lag_leadership_and_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = fake_app(
        actives={TP(PROBES, 3), TP(PROBES, 1), TP(DEVICES, 1), TP(DEVICES, 3)},
        standbys={TP(DEVICES, 0), TP(DEVICES, 2)},
        ends={TP(PROBES, 1): 100, TP(PROBES, 3): 40, TP(settings.topic("pcap"), 1): 9},
        read={TP(PROBES, 1): 89, TP(PROBES, 3): 39},
        leader=True,
        recovered=False,
        rebalancing=True,
    )
    monkeypatch.setattr(cluster_views, "app", app)
    assert cluster_views.local_status() == {
        "worker": "http://worker-a:6066",
        "leader": True,
        "active": {DEVICES: [1, 3], PROBES: [1, 3]},
        "standby": {DEVICES: [0, 2]},
        "probes_lag": {f"{PROBES}:1": 10, f"{PROBES}:3": 0},
        "recovering": True,
        "rebalancing": True,
    }


def test_a_settled_follower_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_views, "app", fake_app(actives={TP(PROBES, 0)}))
    status = cluster_views.local_status()
    assert (status["leader"], status["recovering"], status["rebalancing"]) == (False, False, False)
    assert status["standby"] == {} and status["probes_lag"] == {}
