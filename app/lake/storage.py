"""The lake's files, wherever they live: a local folder or any fsspec URL (`s3://bucket/lake`).

Every write is whole or nothing: a local file is written beside its place and renamed into it,
an object store puts an object in one request. Readers (and the archiver's resume) never see a
file half written. All calls block: run them in a thread from the event loop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


class Lake:
    """The lake's root; paths given and returned are relative to it (`raw/probes/…`)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url
        fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        self.fs: fsspec.AbstractFileSystem = fs
        self.local = isinstance(fs, LocalFileSystem)
        if self.local:
            root = str(Path(root).resolve())
        self.root = root.rstrip("/")

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def full(self, path: str) -> str:
        """The path as the file system names it."""
        return f"{self.root}/{path}"

    def uri(self, path: str) -> str:
        """The path as a URL DuckDB (with this file system registered) or a user can open."""
        if self.local:
            return self.full(path)
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{self.full(path)}"

    def put_bytes(self, path: str, data: bytes) -> None:
        target = self.full(path)
        if self.local:
            folder = os.path.dirname(target)
            os.makedirs(folder, exist_ok=True)
            temporary = f"{target}.{uuid.uuid4().hex}.partial"
            with open(temporary, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        else:
            self.fs.pipe_file(target, data)

    def put_file(self, path: str, local_file: str) -> None:
        """Move a finished local file into the lake."""
        target = self.full(path)
        if self.local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            temporary = f"{target}.{uuid.uuid4().hex}.partial"
            shutil.move(local_file, temporary)
            os.replace(temporary, target)
        else:
            self.fs.put_file(local_file, target)

    def read_bytes(self, path: str) -> bytes:
        data: bytes = self.fs.cat_file(self.full(path))
        return data

    def glob(self, pattern: str) -> list[str]:
        """The lake's files matching a relative glob pattern, relative, sorted."""
        prefix = len(self.root) + 1
        found = self.fs.glob(self.full(pattern))
        return sorted(str(path)[prefix:] for path in found)

    def delete(self, paths: list[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.full(path))
