"""Blob storage over fsspec: the same behaviour for `file://` and `s3://` roots.

Writes are atomic: on a local filesystem a temporary name is renamed into place, and on S3 an
object only becomes visible once its upload completes, so a crash never leaves a partial blob
under its final key.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fsspec

from provoice.errors import InvalidSource, StorageFull
from provoice.settings import Settings


def filesystem_for(uri: str, settings: Settings) -> tuple[fsspec.AbstractFileSystem, str]:
    """An fsspec filesystem and the bare path for `uri`, with the S3 endpoint applied."""
    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    options: dict[str, Any] = {}
    if protocol == "s3" and settings.s3_endpoint_url:
        options["client_kwargs"] = {"endpoint_url": settings.s3_endpoint_url}
    try:
        fs, path = fsspec.core.url_to_fs(uri, **options)
    except (ImportError, ValueError) as exc:
        raise InvalidSource(f"cannot open storage URI {uri!r}: {exc}") from exc
    return fs, path


class Storage:
    """Keys are relative POSIX paths under one root URI; callers never pass user file names."""

    def __init__(self, root_uri: str, settings: Settings):
        self.root_uri = root_uri.rstrip("/")
        self.fs, self.root = filesystem_for(self.root_uri, settings)
        self.is_local = self.root_uri.startswith("file://") or "://" not in self.root_uri
        if self.is_local:
            self.fs.makedirs(self.root, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        return cls(settings.storage_uri, settings)

    def _path(self, key: str) -> str:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise InvalidSource(f"invalid storage key {key!r}")
        return f"{self.root}/{'/'.join(parts)}"

    def uri(self, key: str) -> str:
        return f"{self.root_uri}/{key}"

    def key_of(self, uri: str) -> str:
        prefix = self.root_uri + "/"
        if not uri.startswith(prefix):
            raise InvalidSource(f"{uri!r} is not inside storage {self.root_uri!r}")
        return uri[len(prefix) :]

    def exists(self, key: str) -> bool:
        return self.fs.exists(self._path(key))

    def size(self, key: str) -> int:
        return int(self.fs.size(self._path(key)))

    def delete(self, key: str) -> None:
        path = self._path(key)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def list(self, prefix: str) -> list[str]:
        path = self._path(prefix)
        if not self.fs.exists(path):
            return []
        base = self.root + "/"
        return sorted(p[len(base) :] if p.startswith(base) else p for p in self.fs.find(path))

    def put_file(self, local_path: str | Path, key: str) -> str:
        """Copy a local file in atomically; returns its URI."""
        target = self._path(key)
        if self.is_local:
            self.fs.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = f"{target}.tmp-{uuid.uuid4().hex}"
            try:
                shutil.copyfile(local_path, tmp)
                os.replace(tmp, target)
            except OSError as exc:
                Path(tmp).unlink(missing_ok=True)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise StorageFull(f"no room left in {self.root_uri} for {key}: free space, then retry") from exc
                raise
        else:
            self.fs.put_file(str(local_path), target)
        return self.uri(key)

    def write_bytes(self, key: str, data: bytes) -> str:
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_file(tmp.name, key)
        finally:
            os.unlink(tmp.name)

    def write_json(self, key: str, obj: Any) -> str:
        return self.write_bytes(key, json.dumps(obj, indent=1, ensure_ascii=False).encode())

    def read_bytes(self, key: str) -> bytes:
        return self.fs.cat_file(self._path(key))

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    def open(self, key: str, mode: str = "rb") -> IO:
        return self.fs.open(self._path(key), mode)

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A local file with the blob's content: the blob itself when local, a temp copy on S3."""
        path = self._path(key)
        if self.is_local:
            yield Path(path)
            return
        suffix = Path(key).suffix
        with tempfile.TemporaryDirectory() as tmpdir:
            local = Path(tmpdir) / f"blob{suffix}"
            self.fs.get_file(path, str(local))
            yield local

    @contextlib.contextmanager
    def staged_output(self, key: str) -> Iterator[Path]:
        """A local temp path to write to; it is moved to `key` only if the block succeeds."""
        with tempfile.TemporaryDirectory() as tmpdir:
            local = Path(tmpdir) / Path(key).name
            yield local
            self.put_file(local, key)
