"""Column types the catalog's tables share."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """A moment, always read back as an aware UTC datetime.

    The column stays `DateTime(timezone=True)` (no migration): PostgreSQL keeps the zone, SQLite keeps
    none and hands back naive values. So every value is stored in UTC, and a naive one read back is
    UTC; no caller needs to know which database it reads.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"the catalog stores aware datetimes only, not the naive {value!r}")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
