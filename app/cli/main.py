"""`probewatch`: faust's own command line for this app (`probewatch worker [--web-port N]`).

Before faust (or even the App) is loaded, the settings are read and, for `worker`, checked
(app/cli/preflight.py): a setting the worker could not run with ends the command with one line,
`probewatch: error: PROBEWATCH_X: why`, and exit status 2 (EXIT_BAD_SETTING). The worker itself
is `app.worker.lifecycle.ProbewatchWorker`, whose shutdown PROBEWATCH_SHUTDOWN_TIMEOUT_S bounds.
"""

from __future__ import annotations

import os
import sys

from app.cli.preflight import EXIT_BAD_SETTING, EXIT_FAILURE, check_worker, load_settings
from app.settings import SettingError, Settings


def _option(argv: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` in argv, if given."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _without_option(argv: list[str], name: str) -> list[str]:
    """argv without `--name V` / `--name=V`: an option the settings already carry.

    faust's own `--web-port` would rebuild the canonical URL from the host and port, dropping
    PROBEWATCH_CANONICAL_URL; the App already has the port from the settings.
    """
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


def _prepare_worker(settings: Settings) -> None:
    """Give the worker its input topics before faust subscribes, and its allocator settings.

    Imported here, not at the top: the topic specs live beside their faust declarations, and
    the App must not be built before the command line has chosen the settings.
    """
    from app.cli.topic_admin import TopicSetupError, ensure_topics

    try:
        created = ensure_topics(settings)
    except TopicSetupError as err:
        print(f"probewatch: {err}", file=sys.stderr)
        raise SystemExit(EXIT_FAILURE) from None
    if created:
        print(f"probewatch: created topics {', '.join(created)}", file=sys.stderr)
    from app.worker import bulk_restore
    from app.worker.malloc import map_large_blocks

    bulk_restore.install(settings.kafka_bootstrap_servers)
    map_large_blocks()


def checked_settings(args: list[str]) -> Settings:
    """The settings, with `--web-port` applied and checked for the command in `args`; SettingError
    for the first bad one. They become the process's settings, which the App is built from."""
    port = _option(args, "--web-port")
    settings = load_settings() if port is None else load_settings(web_port=port)
    if args[:1] == ["worker"]:
        check_worker(settings, web="--without-web" not in args)
    return settings


def main(argv: list[str] | None = None) -> None:
    """Run a faust command; `--web-port` is applied before the App is built.

    The port also names this worker's data folder and its canonical URL, both fixed when the App
    is created, so it must reach the settings before `app.main` is imported.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    # Device histories are personal data: every folder this process makes is its owner's only
    # (0700), every file too (0600) — the tables, the lake, the webhook path, temporary files.
    os.umask(0o077)
    try:
        settings = checked_settings(args)
    except SettingError as err:
        print(err.line(), file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTING) from None
    if args[:1] == ["names-import"]:
        from app.cli.names_import import main as names_import

        raise SystemExit(names_import(args[1:], settings))
    if args[:1] == ["erase"]:
        from app.cli.erase import main as erase_main

        raise SystemExit(erase_main(args[1:], settings))
    if args[:1] == ["tokens"]:
        from app.cli.tokens import main as tokens_main

        raise SystemExit(tokens_main(args[1:], settings))
    if args[:1] in (["sql"], ["report"]):
        from app.cli.lake import report_main, sql_main

        command = sql_main if args[0] == "sql" else report_main
        raise SystemExit(command(args[1:], settings))
    args = _without_option(args, "--web-port")  # in the settings; faust would drop the URL
    if args[:1] == ["worker"] and _option(args, "--loglevel") is None and "-l" not in args:
        args += ["--loglevel", settings.faust_log_level]
    run_faust(args, settings)


def run_faust(args: list[str], settings: Settings) -> None:
    """faust's command line on the App, with probewatch's Worker."""
    from app.main import app
    from app.worker.lifecycle import ProbewatchWorker

    if args[:1] == ["worker"]:
        _prepare_worker(settings)
    # faust types the `Worker` setting as its declaration's special form; a class is what it takes.
    app.conf.Worker = ProbewatchWorker  # type: ignore[assignment]
    sys.argv = ["probewatch", *args]
    app.main()
