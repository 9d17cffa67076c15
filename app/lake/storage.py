"""The lake's files, wherever they live: a local folder or any fsspec URL (`s3://bucket/lake`).

Every write is whole or nothing: a local file is written beside its place and renamed into it,
an object store puts an object in one request (s3fs uses one PUT below 100 MiB, far above any
piece's size; a bigger file would be a multipart upload, which S3 shows only once completed).
Readers (and the archiver's resume) never see a file half written. All calls block: run them in
a thread from the event loop.

Object stores are listed afresh every time (no fsspec listings cache): other workers write the
same prefix, and a stale listing would make the archiver resume a partition at an offset it
already wrote, or a query miss the newest files. The endpoint and credentials are the store's
client's own (for S3, botocore's `AWS_*` variables: `AWS_ENDPOINT_URL` for MinIO, Ceph, …).
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

#: Protocols whose first path component is a bucket (or container) that must exist beforehand.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


class LakeUnavailable(OSError):
    """The lake's object store cannot be used: no such bucket, access denied, unreachable."""


class Lake:
    """The lake's root; paths given and returned are relative to it (`raw/probes/…`)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url
        options = dict(storage_options or {})
        protocol = fsspec.core.split_protocol(url)[0]
        if protocol not in (None, "file", "local"):
            options.setdefault("use_listings_cache", False)
        fs, root = fsspec.core.url_to_fs(url, **options)
        self.object_store = protocol in OBJECT_STORES
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

    @property
    def bucket(self) -> str | None:
        """The bucket (or container) an object-store lake lives in; None for anything else."""
        return self.root.split("/", 1)[0] if self.object_store else None

    def check(self) -> None:
        """LakeUnavailable unless the lake can be used now. A folder is made when written; a
        bucket is never created here (where, how encrypted, who may read it are the owner's
        choices): it must exist, and the credentials must be allowed to list it."""
        if self.bucket is None:
            return
        try:
            self.fs.info(self.bucket)
        except FileNotFoundError:
            raise LakeUnavailable(
                f"{self.url}: bucket {self.bucket!r} does not exist (create it first: "
                "probewatch does not create buckets)"
            ) from None
        except PermissionError as err:
            raise LakeUnavailable(
                f"{self.url}: access to bucket {self.bucket!r} denied ({err}): check the "
                "credentials"
            ) from None
        except Exception as err:  # botocore's connection errors are not OSErrors
            raise LakeUnavailable(f"{self.url}: cannot be reached: {err}") from None

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
