"""Counting the SQL statements a block runs: list views must read a bounded number of queries."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from provoice.catalog import Catalog


@contextmanager
def counted(catalog: Catalog) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)
