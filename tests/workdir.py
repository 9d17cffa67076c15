"""Where test processes run: in an empty folder, never in the repository.

The app's and the sniffer's settings read a `.env` file from the working directory, and a
developer's `.env` in the repository may hold a real bot token. So the pytest process moves to
this folder before anything imports the app (tests/conftest.py), and the harness starts every
worker, sniffer and command here too: the only `.env` a test can meet is one it wrote itself.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def empty_workdir() -> Path:
    """A folder of this test run that nothing writes to, removed when the run ends."""
    path = Path(tempfile.mkdtemp(prefix="probewatch-tests-cwd-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def python_env(**more: str) -> dict[str, str]:
    """This environment, plus `more`, for a Python child that imports `tests.…` from the empty
    folder (the repository is put on its PYTHONPATH instead of being its working directory)."""
    paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, **more, "PYTHONPATH": os.pathsep.join(paths)}


#: A `.env` whose every line a test process would betray at once if it read it: each value is
#: one its reader refuses, naming the variable (the worker and admin commands, the sniffer).
TELLTALE_DOTENV = """\
# Written by a probewatch test (tests/workdir.py) for the few seconds it runs, and removed
# again; if it outlived the test run, delete it.
PROBEWATCH_LOG_LEVEL=dotenv-in-the-repository
PROBEWATCH_SNIFFER_DELIVERY_TIMEOUT_S=0
"""


@contextlib.contextmanager
def dotenv_in_repo(text: str = TELLTALE_DOTENV) -> Iterator[Path]:
    """A `.env` in the repository root while the block runs, written only where there is none.

    Created exclusively (O_EXCL), so a developer's own `.env` is never overwritten or read: the
    test skips instead. Removed afterwards only while it is still the file written here.
    """
    path = REPO_ROOT / ".env"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pytest.skip(f"{path} exists (yours): this test writes its own there, never touches yours")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    written = path.stat()
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            now = path.stat()
            if (now.st_dev, now.st_ino) == (written.st_dev, written.st_ino):
                path.unlink()
