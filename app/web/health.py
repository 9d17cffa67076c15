"""`GET /health`: this worker's liveness, whether it serves its keys yet, and its counts of
accepted and rejected events."""

from __future__ import annotations

from faust import web

from app.main import app, settings
from app.tables.staged import write_behind
from app.web.routing import recovering
from app.worker.counters import counters

blueprint = web.Blueprint("health")


@blueprint.route("/health", name="health")
class HealthView(web.View):
    """Counters are per worker: ask each worker, or sum them, to see the whole cluster."""

    async def get(self, request: web.Request) -> web.Response:
        return self.json(
            {
                "status": "ok",
                "worker": settings.worker_url,
                "assigned": sorted(
                    f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives()
                ),
                # Its tables are still being read back: keyed routes answer 503 until then.
                "recovering": recovering(app),
                "counters": counters.snapshot(),
                # Rows folded in memory, not yet in the changelog and the local store.
                "unflushed_rows": write_behind.unflushed_rows,
                "flushes": write_behind.flushes,
            }
        )
