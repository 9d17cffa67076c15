"""A `.env` in the repository root never reaches the settings a unit test reads.

Settings (the app's and the sniffer's) read `.env` from the working directory, and the test
process runs in an empty folder of its own (tests/conftest.py, tests/workdir.py). The `.env`
written here is one both readers refuse; the controls show that each would have read it from
the repository root, so the test fails if the test process ran there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings
from sniffer.settings import SnifferSettings
from tests.workdir import REPO_ROOT, TELLTALE_DOTENV, dotenv_in_repo

TELLTALES = ("PROBEWATCH_LOG_LEVEL", "PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S")


@pytest.fixture()
def repo_dotenv(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in TELLTALES:  # the environment wins over .env: it must not hide the file
        monkeypatch.delenv(name, raising=False)
    with dotenv_in_repo() as path:
        yield path


def test_the_test_process_does_not_run_in_the_repository() -> None:
    assert Path.cwd().resolve() != REPO_ROOT
    assert REPO_ROOT not in Path.cwd().resolve().parents
    assert not (Path.cwd() / ".env").exists()


def test_settings_do_not_read_a_dotenv_in_the_repository(
    repo_dotenv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().log_level == "info"
    assert SnifferSettings.from_env().delivery_timeout_s == 300.0

    # The controls: read from the repository root, the same file is refused at once.
    with pytest.raises(ValidationError, match="dotenv-in-the-repository"):
        Settings(_env_file=repo_dotenv)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S"):
        SnifferSettings.from_env(env_file=repo_dotenv)
    monkeypatch.chdir(REPO_ROOT)
    with pytest.raises(ValidationError, match="dotenv-in-the-repository"):
        Settings()
    with pytest.raises(ValueError, match="PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S"):
        SnifferSettings.from_env()


def test_a_dotenv_of_the_developer_is_never_touched() -> None:
    """Where the repository has a `.env`, the helper skips and leaves it as it was, unread."""
    path = REPO_ROOT / ".env"
    if path.exists():
        before = path.stat()
        with pytest.raises(pytest.skip.Exception), dotenv_in_repo():
            pass
        after = path.stat()
        assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
            before.st_ino,
            before.st_size,
            before.st_mtime_ns,
        )
        return
    with dotenv_in_repo() as ours:
        with pytest.raises(pytest.skip.Exception), dotenv_in_repo("PROBEWATCH_X=1\n"):
            pass
        assert ours.read_text() == TELLTALE_DOTENV, (
            "a second writer neither overwrote nor removed it"
        )
    assert not path.exists(), "removed after the test"
