"""THE faust App of probewatch. Agents and views are discovered from their packages."""

from __future__ import annotations

from app.settings import get_settings
from app.web.server import WEB_DRIVER
from app.worker.transport import App

settings = get_settings()

app = App(
    settings.app_id,
    broker=settings.bootstrap_urls,
    store=settings.store,
    datadir=str(settings.worker_data_dir),
    autodiscover=["app.agents", "app.web", "app.worker", "app.cli.webhook"],
    # Where the App lives; not the whole `app` package, whose bot modules import aiogram (4 s).
    origin="app.main",
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    table_standby_replicas=settings.standby_replicas,
    processing_guarantee="at_least_once",
    # faust's aiohttp driver with timeouts and a guard for what clients send (app.web.server).
    web=WEB_DRIVER,
    web_port=settings.web_port,
    web_bind=settings.web_bind,
    web_host=settings.web_host,
    canonical_url=settings.worker_url,
    web_tables_enabled=False,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # A worker killed without a goodbye is noticed after the session timeout; its partitions
    # (and their standby copies) move to the others then.
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 4),
    broker_commit_interval=settings.commit_interval_s,
    # Changelog writes are many and small: let them share produce requests.
    producer_linger=0.01,
    producer_max_batch_size=1024 * 1024,
    # Room for what one fetch brings: with faust's 4,096 a fold slower than the fetcher fills the
    # buffer, every partition is paused and the fetcher sleeps a whole second (measurements.md).
    stream_buffer_maxsize=65_536,
    broker_max_poll_records=5_000,
    consumer_max_fetch_size=4 * 1024 * 1024,
    # `probewatch worker` creates every topic before faust starts (`app.cli.topic_admin`), the
    # changelogs and the leader topic too; faust's own declaring asks again, twice per table,
    # ~0.2 s each: 3-4 s of every start.
    topic_allow_declare=False,
    # faust's table manager waits a second at start for tables defined late; ours are not.
    TableManager="app.tables.manager:PromptTableManager",
    # faust's Monitor without its per-request and per-table-access tallies (never read here).
    Monitor="app.worker.monitor:Monitor",
)
