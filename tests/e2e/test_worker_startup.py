"""`probewatch worker` with settings it cannot run with: one line, exit status 2, nothing started.

Each case runs the real command as a user would, against the real Kafka and a fake Bot API. None
may say "Ready", print a traceback, or create a topic: the checks come before faust.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.fake_telegram import FakeBotApi, FakeBotApiThread
from tests.harness import VENV_BIN, Deployment, Worker, free_port, new_prefix
from tests.workdir import REPO_ROOT, dotenv_in_repo

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
REFUSED_TOKEN = "444444:refused-token-part"
SECRET = "startup-secret"


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotApiThread]:
    with FakeBotApiThread([TOKEN]) as fake:
        yield fake


def bot(api: str, **more: str) -> dict[str, str]:
    return {
        "PROBEWATCH_TELEGRAM_TOKEN": TOKEN,
        "PROBEWATCH_TELEGRAM_API_BASE": api,
        "PROBEWATCH_TELEGRAM_WEBHOOK_SECRET": SECRET,
        **more,
    }


CASES = {
    "malformed token": (
        {"PROBEWATCH_TELEGRAM_TOKEN": "110201543-no-colon"},
        "probewatch: error: PROBEWATCH_TELEGRAM_TOKEN: does not look like a bot token "
        "(expected <digits>:<secret> from BotFather)",
    ),
    "refused token": (
        {"PROBEWATCH_TELEGRAM_TOKEN": REFUSED_TOKEN},
        "probewatch: error: PROBEWATCH_TELEGRAM_TOKEN: Telegram refused the token of bot 444444 "
        "(Unauthorized)",
    ),
    "bad mode": (
        {"PROBEWATCH_TELEGRAM_MODE": "pull"},
        "probewatch: error: PROBEWATCH_TELEGRAM_MODE: Input should be 'webhook' or 'polling' "
        "(got 'pull')",
    ),
    "bad network": (
        {"PROBEWATCH_TELEGRAM_ALLOWED_NETWORKS": "149.154.160.0/20,91.108.4.0/33"},
        "probewatch: error: PROBEWATCH_TELEGRAM_ALLOWED_NETWORKS: has '91.108.4.0/33', which is "
        "not a network (e.g. 149.154.160.0/20)",
    ),
    "unknown time zone": (
        {"PROBEWATCH_TIMEZONE": "Europe/Londn"},
        "probewatch: error: PROBEWATCH_TIMEZONE: 'Europe/Londn' is not a known time zone "
        "(e.g. UTC, Europe/London)",
    ),
    "bad log level": (
        {"PROBEWATCH_LOG_LEVEL": "verbose"},
        "probewatch: error: PROBEWATCH_LOG_LEVEL: 'verbose' is not a log level: use one of "
        "critical, crit, error, warning, warn, info, debug",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_setting_stops_the_worker_before_it_starts(
    tmp_path: Path, telegram: FakeBotApiThread, case: str
) -> None:
    env, line = CASES[case]
    deployment = Deployment(
        tmp_path, prefix=new_prefix("startup"), extra_env=bot(telegram.base_url, **env)
    )
    done = deployment.probewatch("worker", "--web-port", str(free_port()), timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [line]
    for said in (done.stdout, done.stderr):
        assert "Ready" not in said and "Traceback" not in said
    assert REFUSED_TOKEN.split(":")[1] not in done.stderr and SECRET not in done.stderr


class FlakyThenRefusingBotApi(FakeBotApi):
    """Answers the first getMe with 502 (so the check before start lets the worker start), and
    refuses the token from then on: the worker's own bot service meets the refusal."""

    def __init__(self) -> None:
        super().__init__([])
        self.get_me_calls = 0

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"].lower() == "getme":
            self.get_me_calls += 1
            if self.get_me_calls == 1:
                return web.json_response(
                    {"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502
                )
        return await super()._handle(request)


def test_a_token_refused_after_start_stops_the_worker_the_same_way(tmp_path: Path) -> None:
    fake = FakeBotApiThread()
    api = fake.api = FlakyThenRefusingBotApi()
    with fake:
        deployment = Deployment(
            tmp_path,
            prefix=new_prefix("refused-later"),
            extra_env=bot(fake.base_url, PROBEWATCH_TELEGRAM_TOKEN=REFUSED_TOKEN),
        )
        done = deployment.probewatch("worker", "--web-port", str(free_port()), timeout=120)
    assert api.get_me_calls >= 2
    assert done.returncode == 2, done.stderr[-3000:]
    line = (
        "probewatch: error: PROBEWATCH_TELEGRAM_TOKEN: Telegram refused the token of bot 444444 "
        "(Unauthorized)"
    )
    assert done.stderr.splitlines()[-1] == line
    assert done.stderr.count("probewatch: error:") == 1
    for said in (done.stdout, done.stderr):
        assert "Traceback" not in said and "Crashed" not in said
    assert REFUSED_TOKEN.split(":")[1] not in done.stderr


def test_a_dotenv_in_the_repository_is_not_read_by_the_processes_tests_start(
    tmp_path: Path,
) -> None:
    """Workers, admin commands and the sniffer that the harness starts never read the repository's
    `.env`: each would refuse the one written here at once, naming its variable. They are given a
    bad time zone instead, which the worker reports only when its settings loaded."""
    timezone_line = (
        "probewatch: error: PROBEWATCH_TIMEZONE: 'Europe/Londn' is not a known time zone"
    )
    deployment = Deployment(
        tmp_path, prefix=new_prefix("dotenv"), extra_env={"PROBEWATCH_TIMEZONE": "Europe/Londn"}
    )
    missing = tmp_path / "missing.pcap"
    with dotenv_in_repo():
        worker = Worker(deployment).start()
        assert worker.wait_exit(60) == 2
        assert timezone_line in worker.log_text()

        command = deployment.probewatch("worker", "--web-port", str(free_port()), timeout=60)
        assert command.returncode == 2
        assert command.stderr.splitlines()[0].startswith(timezone_line)

        sniffer = deployment.sniffer("replay", "--no-progress", str(missing), timeout=60)
        assert sniffer.returncode == 2
        assert sniffer.stderr.strip() == f"probewatch-sniffer: error: {missing}: no such file"

        # The control: the same commands run in the repository root do read it.
        for program, refusal in (
            ("probewatch", "PROBEWATCH_LOG_LEVEL: 'dotenv-in-the-repository'"),
            ("probewatch-sniffer", "PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S must be between"),
        ):
            args = ["worker"] if program == "probewatch" else ["replay", str(missing)]
            there = subprocess.run(
                [str(VENV_BIN / program), *args],
                env=deployment.env(),
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert there.returncode == 2 and refusal in there.stderr, there.stderr
