"""The bodies Cartesia's clients read on every route family: its error object, cursor pages and
what a delete answers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from provoice.errors import InvalidSource


def _words(error: str) -> list[str]:
    return re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", error) or ["error"]


def cartesia_error(status: int, error: str, message: str) -> dict:
    """Cartesia's error object: a machine code, a short title, the message and a request id."""
    words = _words(error)
    return {
        "error_code": "_".join(w.lower() for w in words),
        "title": " ".join([words[0], *(w.lower() for w in words[1:])]),
        "message": message,
        "request_id": str(uuid.uuid4()),
    }


class Deleted(BaseModel):
    """What a delete removed (Cartesia's clients read no body)."""

    id: str
    deleted: bool = True


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a cursor listing: ask again with `starting_after` = the last id for the next one."""

    data: list[T]
    has_more: bool
    next_page: str | None = Field(
        description="the id to pass as `starting_after` (or `ending_before` "
        "when paging backwards) for the next page; null at the end"
    )


Limit = Annotated[int, Query(ge=1, le=100, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200)]


def cursor_page(
    rows: Sequence, limit: int, starting_after: str | None, ending_before: str | None, what: str
) -> tuple[list, bool, str | None]:
    """(the page of `rows` after or before the cursor, whether there is more that way, the next cursor)."""
    ids = [row.id for row in rows]

    def position(cursor: str) -> int:
        if cursor not in ids:
            raise InvalidSource(f"there is no {what} {cursor!r} in this listing to page from")
        return ids.index(cursor)

    if ending_before is not None and starting_after is None:
        end = position(ending_before)
        page, more = list(rows[max(0, end - limit) : end]), end > limit
        return page, more, page[0].id if more else None
    start = position(starting_after) + 1 if starting_after is not None else 0
    page, more = list(rows[start : start + limit]), start + limit < len(rows)
    return page, more, page[-1].id if more else None


def paged(
    rows: Sequence,
    show: Callable[[list], list],
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    what: str,
) -> dict:
    """A `Page`'s fields: the cursor's page of `rows`, each shown by `show`."""
    page, more, cursor = cursor_page(rows, limit, starting_after, ending_before, what)
    return {"data": show(page), "has_more": more, "next_page": cursor}
