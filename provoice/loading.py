"""Models load once per process, however many threads ask at the same moment.

`functools.lru_cache` caches results but lets concurrent first callers all compute them (four task
threads loaded four Whisper models). `once_per_process` holds a lock per key while loading, so the
second caller waits for the first one's model instead of loading its own.

`loaded_models` names what a process holds. A long-lived process (the flow daemon) gives its models
back when idle by becoming a fresh interpreter: emptying the caches frees little, since torch's and
CTranslate2's allocators and Python's arenas keep most of the memory.
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

    def __len__(self) -> int:
        return len(self._values)


#: Every `once_per_process` cache of this process, by its loader's qualified name.
_CACHES: dict[str, SingleFlight] = {}


def loaded_models() -> list[str]:
    """The loaders (`module.function`) whose models this process holds now."""
    return sorted(name for name, cache in list(_CACHES.items()) if len(cache))


def once_per_process(maxsize: int | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a loader: its result is cached by arguments and loaded once, even under threads."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        cache = SingleFlight(maxsize)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return cache.get((args, tuple(sorted(kwargs.items()))), lambda: fn(*args, **kwargs))

        wrapper.cache = cache  # type: ignore[attr-defined]
        _CACHES[f"{fn.__module__}.{fn.__qualname__}"] = cache
        return wrapper

    return decorate
