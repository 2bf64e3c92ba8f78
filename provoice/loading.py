"""Models load once per process, however many threads ask at the same moment.

`functools.lru_cache` caches results but lets concurrent first callers all compute them (four task
threads loaded four Whisper models). `once_per_process` holds a lock per key while loading, so the
second caller waits for the first one's model instead of loading its own.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class SingleFlight:
    """A bounded cache of loaded models, one load per key in flight at a time."""

    def __init__(self, maxsize: int | None = None):
        self.maxsize = maxsize
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads = 0

    def get(self, key: Hashable, load: Callable[[], R]) -> R:
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]  # type: ignore[return-value]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]  # type: ignore[return-value]
            value = load()
            with self._guard:
                self.loads += 1
                self._values[key] = value
                self._locks.pop(key, None)
                while self.maxsize is not None and len(self._values) > self.maxsize:
                    self._values.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._guard:
            self._values.clear()


def once_per_process(maxsize: int | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a loader: its result is cached by arguments and loaded once, even under threads."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        cache = SingleFlight(maxsize)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return cache.get((args, tuple(sorted(kwargs.items()))), lambda: fn(*args, **kwargs))

        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper

    return decorate
