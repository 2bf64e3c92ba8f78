"""Where a training run keeps its files, as the trainer sees it.

The trainer needs only a handful of blob operations, so it takes any object with them: the
product's fsspec `provoice.storage.Storage` in the service, or `LocalRunStore` on a GPU node that
has nothing but torch and numpy (a training bundle). Both write atomically: a file under its final
name is always complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol


class RunStore(Protocol):
    """The blob operations the trainer uses; keys are relative POSIX paths."""

    def uri(self, key: str) -> str: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def write_bytes(self, key: str, data: bytes) -> str: ...

    def write_json(self, key: str, obj: Any) -> str: ...

    def read_json(self, key: str) -> Any: ...

    def local_path(self, key: str) -> contextlib.AbstractContextManager[Path]: ...

    def staged_output(self, key: str) -> contextlib.AbstractContextManager[Path]: ...


class LocalRunStore:
    """A `RunStore` on a local folder, with the standard library only."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ValueError(f"invalid key {key!r}")
        return self.root.joinpath(*parts)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str) -> list[str]:
        path = self._path(prefix)
        if not path.exists():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in path.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink()

    def _move_in(self, local: Path, key: str) -> str:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex}")
        with open(local, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.replace(tmp, target)
        return self.uri(key)

    def write_bytes(self, key: str, data: bytes) -> str:
        with tempfile.TemporaryDirectory() as tmpdir:
            local = Path(tmpdir) / "blob"
            local.write_bytes(data)
            return self._move_in(local, key)

    def write_json(self, key: str, obj: Any) -> str:
        return self.write_bytes(key, json.dumps(obj, indent=1, ensure_ascii=False).encode())

    def read_json(self, key: str) -> Any:
        return json.loads(self._path(key).read_bytes())

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        yield self._path(key)

    @contextlib.contextmanager
    def staged_output(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory() as tmpdir:
            local = Path(tmpdir) / Path(key).name
            yield local
            self._move_in(local, key)
