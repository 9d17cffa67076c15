"""`probewatch`: faust's own command line for this app (`probewatch worker [--web-port N]`)."""

from __future__ import annotations

import os
import sys

from app.kafka_admin import TopicSetupError, ensure_topics
from app.settings import Settings


def _option(argv: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` in argv, if given."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _prepare_worker(settings: Settings) -> None:
    """Give the worker its data folder and its input topics before faust subscribes."""
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    try:
        created = ensure_topics(settings)
    except TopicSetupError as err:
        raise SystemExit(f"probewatch: {err}") from None
    if created:
        print(f"probewatch: created topics {', '.join(created)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Run a faust command; `--web-port` is applied before the App is built.

    The port also names this worker's data folder and its canonical URL, both fixed when the App
    is created, so it must reach the settings before `app.main` is imported.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["names-import"]:
        from app.names_import import main as names_import
        from app.settings import get_settings

        raise SystemExit(names_import(args[1:], get_settings()))
    port = _option(args, "--web-port")
    if port is not None:
        os.environ["PROBEWATCH_WEB_PORT"] = port
    if args[:1] == ["worker"] and _option(args, "--loglevel") is None and "-l" not in args:
        args += ["--loglevel", os.environ.get("PROBEWATCH_LOG_LEVEL", "info")]
    from app.main import app, settings

    if args[:1] == ["worker"]:
        _prepare_worker(settings)
    sys.argv = ["probewatch", *args]
    app.main()
