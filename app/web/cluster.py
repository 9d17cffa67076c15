"""`GET /cluster` (who owns what, lag, standbys, gathered from every worker) and `GET /metrics`."""

from __future__ import annotations

from typing import Any

from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.main import app, settings
from app.web.gather import WorkerUnavailable, gather, is_local_request
from app.worker.metrics import build_registry, consumer_lag

blueprint = web.Blueprint("cluster")
registry = build_registry(app)


def _by_topic(tps: Any) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for tp in tps:
        grouped.setdefault(tp.topic, []).append(tp.partition)
    return {topic: sorted(parts) for topic, parts in sorted(grouped.items())}


def local_status() -> dict[str, Any]:
    """This worker's share: active and standby partitions, per-partition lag, recovery."""
    lag = {
        f"{tp.topic}:{tp.partition}": behind
        for tp, behind in consumer_lag(app).items()
        if tp.topic == settings.topic("probes")
    }
    assignor = app.assignor
    return {
        "worker": str(app.conf.canonical_url),
        "leader": app.is_leader(),
        "active": _by_topic(assignor.assigned_actives()),
        "standby": _by_topic(assignor.assigned_standbys()),
        "probes_lag": dict(sorted(lag.items())),
        "recovering": not app.tables.recovery.completed.is_set(),  # type: ignore[attr-defined]
        "rebalancing": app.rebalancing,
    }


@blueprint.route("/cluster", name="cluster")
class ClusterView(web.View):
    """Every worker's partitions, standbys and lag; `?scope=local` for this worker alone."""

    async def get(self, request: web.Request) -> web.Response:
        if is_local_request(request):
            return self.json(local_status())
        try:
            workers = await gather(self.app, request)
        except WorkerUnavailable as err:
            return self.json({"error": f"cannot gather the cluster view: {err}"}, status=503)
        return self.json(
            {
                "workers": sorted(workers, key=lambda w: str(w["worker"])),
                "partitions": settings.partitions,
            }
        )


@blueprint.route("/metrics", name="metrics")
class MetricsView(web.View):
    """Prometheus text format for this worker (scrape every worker)."""

    async def get(self, request: web.Request) -> web.Response:
        return self.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])
