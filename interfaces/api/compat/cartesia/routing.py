"""Routes the clients ask for both with and without a trailing slash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def slash_optional(router: APIRouter, method: str, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """The route at `path` and at `path/`: the clients ask for `/datasets/`, and a redirect between
    the two would break a client that does not follow it."""

    def register(endpoint: Endpoint) -> Endpoint:
        getattr(router, method)(path, **options)(endpoint)
        getattr(router, method)(f"{path}/", include_in_schema=False, **options)(endpoint)
        return endpoint

    return register
