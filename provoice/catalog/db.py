"""Opening the catalog and the queries the product needs.

One engine per database URL per process, however many `Catalog` handles are made. Migrations run
in `provoice ops migrate`, `provoice serve` and the demo (`migrate_catalog`), and on first use of a
new embedded SQLite catalog; everywhere else opening only checks that the schema is at head.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Delete, Update

from provoice.catalog.models import (
    Dataset,
    DatasetFile,
    PreparationRun,
    PreparationStatus,
    PreparedSegment,
    utcnow,
)
from provoice.errors import ConfigurationError, NotFound
from provoice.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # SQLAlchemy, not the driver, begins transactions (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


WRITE_LOCK = "provoice_write_lock"


def _sqlite_begin(conn) -> None:
    """A transaction that must read and then write consistently (a balance check and the hold it
    allows) takes SQLite's write lock when it begins; others begin deferred, as usual."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_LOCK) else "BEGIN")


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise ConfigurationError(f"no migrations under {MIGRATIONS}")
    return head


def rows_changed(session: Session, statement: Update | Delete) -> int:
    """How many rows a conditional UPDATE or DELETE changed: the compare-and-set answer."""
    return cast(CursorResult, session.execute(statement)).rowcount


def current_revision(engine: Engine) -> str | None:
    """The schema's revision in the database; None for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it already is."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class SchemaOutOfDate(ConfigurationError):
    """The catalog's schema is not the one this code needs; `provoice ops migrate` brings it there."""


class _Database:
    """The one engine and session factory of a database URL in this process."""

    def __init__(self, url: str):
        kwargs: dict = {}
        if url.startswith("sqlite"):
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:  # a server that restarted leaves dead pooled connections: test each before use
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.at_head = False
        self.lock = threading.Lock()


_databases: dict[str, _Database] = {}
_databases_lock = threading.Lock()


def _database(url: str) -> _Database:
    with _databases_lock:
        if url not in _databases:
            _databases[url] = _Database(url)
        return _databases[url]


def close_database(url: str) -> None:
    """Dispose of this process's engine for `url`, closing its pooled connections (before the
    database is dropped or moved); the next `Catalog` of that URL opens a new one."""
    with _databases_lock:
        db = _databases.pop(url, None)
    if db is not None:
        db.engine.dispose()


def _ensure_schema(db: _Database, *, migrate_now: bool) -> None:
    """Migrate when asked (`ops migrate`, `serve`, the demo) or when an embedded SQLite catalog is
    new; otherwise only check that the schema is at head. Runs once per URL and process."""
    if db.at_head and not migrate_now:
        return
    with db.lock:
        if db.at_head and not migrate_now:
            return
        current = current_revision(db.engine)
        fresh_sqlite = current is None and db.engine.url.get_backend_name() == "sqlite"
        if migrate_now or fresh_sqlite:
            migrate(db.engine)
        elif current != head_revision():
            where = db.engine.url.render_as_string(hide_password=True)
            found = f"at revision {current}" if current else "not initialised"
            raise SchemaOutOfDate(
                f"the catalog at {where} is {found}, this ProVoice needs {head_revision()}: run `provoice ops migrate`"
            )
        db.at_head = True


def migrate_catalog(settings: Settings) -> Catalog:
    """Migrate the catalog to head now (however it was before) and open it."""
    return Catalog(settings, migrate_now=True)


class Catalog:
    """A handle on the catalog: cheap to create, since every handle of one database URL shares the
    process's single engine; sessions are short and opened per operation."""

    def __init__(self, settings: Settings, *, migrate_now: bool = False):
        db = _database(settings.database_url)
        _ensure_schema(db, migrate_now=migrate_now)
        self.engine = db.engine
        self._sessions = db.sessions

    @property
    def url(self) -> str:
        """The database URL with any password masked, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def revision(self) -> str:
        """The schema's current migration revision."""
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def account_transaction(self, account_id: str) -> Iterator[Session]:
        """A transaction in which nothing else changes the account's money: SQLite's write lock is
        taken at BEGIN, PostgreSQL locks the account row. Check-then-act on a balance goes here."""
        from provoice.catalog.models import Account

        with self._sessions() as s, s.begin():
            s.connection(execution_options={WRITE_LOCK: True})
            if self.engine.dialect.name != "sqlite":
                s.execute(select(Account.id).where(Account.id == account_id).with_for_update())
            yield s

    def create_dataset(self, name: str, account_id: str | None = None, description: str = "") -> Dataset:
        """Without an account the dataset belongs to the local default account (the column default).
        The name and description are cleaned of control and invisible characters and bounded."""
        from provoice.names import description as clean_description
        from provoice.names import display_name

        fields = {"name": display_name(name, "dataset name"), "description": clean_description(description)}
        with self.session() as s:
            ds = Dataset(**fields) if account_id is None else Dataset(**fields, account_id=account_id)
            s.add(ds)
        return ds

    def update_dataset(self, dataset_id: str, *, name: str | None = None, description: str | None = None) -> Dataset:
        """Rename or re-describe a dataset (None leaves a field as it is); cleaned as at creation."""
        from provoice.names import description as clean_description
        from provoice.names import display_name

        fields = {}
        if name is not None:
            fields["name"] = display_name(name, "dataset name")
        if description is not None:
            fields["description"] = clean_description(description)
        self.get_dataset(dataset_id)
        if fields:
            with self.session() as s:
                s.execute(update(Dataset).where(Dataset.id == dataset_id).values(**fields))
        return self.get_dataset(dataset_id)

    def owned(self, model: type, row_id: str, account_id: str | None, missing: str):
        """The row of `model`, or NotFound(`missing`) when absent or another account's (None: any)."""
        with self.session() as s:
            row = s.get(model, row_id)
        if row is None or (account_id is not None and row.account_id != account_id):
            raise NotFound(missing)
        return row

    def get_dataset(self, dataset_id: str) -> Dataset:
        with self.session() as s:
            ds = s.get(Dataset, dataset_id)
            if ds is None:
                raise NotFound(f"no dataset with id {dataset_id!r} (see `provoice dataset list`)")
            return ds

    def list_datasets(self) -> list[Dataset]:
        with self.session() as s:
            return list(s.scalars(select(Dataset).order_by(Dataset.created_at)))

    def files(self, dataset_id: str) -> list[DatasetFile]:
        self.get_dataset(dataset_id)
        with self.session() as s:
            q = select(DatasetFile).where(DatasetFile.dataset_id == dataset_id)
            return list(s.scalars(q.order_by(DatasetFile.created_at, DatasetFile.id)))

    def get_file(self, dataset_id: str, file_id: str) -> DatasetFile:
        with self.session() as s:
            f = s.get(DatasetFile, file_id)
            if f is None or f.dataset_id != dataset_id:
                raise NotFound(f"dataset {dataset_id!r} has no file {file_id!r}")
            return f

    def add_file(self, **fields) -> DatasetFile:
        with self.session() as s:
            f = DatasetFile(**fields)
            s.add(f)
        return f

    def update_file(self, file_id: str, **fields) -> None:
        """One UPDATE, no read before it, for the reason `update_run` gives: preparation threads
        record files next to a PVC's heartbeat."""
        with self.session() as s:
            if rows_changed(s, update(DatasetFile).where(DatasetFile.id == file_id).values(**fields)) == 0:
                raise NotFound(f"no dataset file {file_id!r}")

    def remove_file(self, dataset_id: str, file_id: str) -> DatasetFile:
        f = self.get_file(dataset_id, file_id)
        with self.session() as s:
            s.delete(s.get(DatasetFile, file_id))
        return f

    def account_bytes(self, account_id: str) -> int:
        """Bytes of original uploads the account's datasets hold (duplicates are stored once, but count)."""
        with self.session() as s:
            return int(
                s.scalar(
                    select(func.coalesce(func.sum(DatasetFile.size), 0))
                    .join(Dataset)
                    .where(Dataset.account_id == account_id)
                )
            )

    def sha_in_use(self, sha256: str) -> bool:
        with self.session() as s:
            return s.scalars(select(DatasetFile.id).where(DatasetFile.sha256 == sha256)).first() is not None

    def start_run(self, dataset_id: str, version: str, settings: dict, total: int, lease_s: float) -> PreparationRun:
        """A running preparation whose lease lasts `lease_s` unless the preparing process renews it."""
        with self.session() as s:
            run = PreparationRun(
                dataset_id=dataset_id,
                version=version,
                settings=settings,
                progress_total=total,
                lease_until=utcnow() + timedelta(seconds=lease_s),
            )
            s.add(run)
        return run

    def update_run(self, run_id: str, **fields) -> None:
        """One UPDATE, no read before it: a deferred SQLite transaction that reads and then writes
        can be refused at once ("database is locked") when another connection wrote in between,
        whatever the busy timeout, and the progress bar writes often next to a PVC's heartbeat."""
        if fields.get("status") in (PreparationStatus.COMPLETED, PreparationStatus.FAILED):
            fields["finished_at"] = utcnow()
        with self.session() as s:
            s.execute(update(PreparationRun).where(PreparationRun.id == run_id).values(**fields))

    def get_run(self, run_id: str) -> PreparationRun:
        with self.session() as s:
            run = s.get(PreparationRun, run_id)
            if run is None:
                raise NotFound(f"no preparation run {run_id!r}")
            return run

    def prepared_run(self, dataset_id: str) -> PreparationRun:
        """The dataset's latest completed preparation; NotFound says how to make one."""
        self.get_dataset(dataset_id)
        run = self.latest_run(dataset_id)
        if run is None:
            raise NotFound(
                f"dataset {dataset_id} has not been prepared yet: run `provoice dataset prepare {dataset_id}`"
            )
        return run

    def prepared_version(self, dataset_id: str, version: str) -> PreparationRun:
        """The completed preparation of one pinned dataset version (its manifest stays in storage)."""
        with self.session() as s:
            run = s.scalars(
                select(PreparationRun)
                .where(
                    PreparationRun.dataset_id == dataset_id,
                    PreparationRun.version == version,
                    PreparationRun.status == PreparationStatus.COMPLETED,
                )
                .order_by(PreparationRun.created_at.desc())
            ).first()
        if run is None:
            raise NotFound(f"dataset {dataset_id} has no completed preparation of version {version}")
        return run

    def save_segments(self, dataset_id: str, version: str, decisions: Iterable[dict]) -> int:
        """Every segment of a prepared version with its decision, in `segments.jsonl`'s order
        (`file_id`, `audio_uri`, `start`, `end`, `text`, `reason`, optional `warnings`), replacing
        the version's earlier rows; returns how many."""
        rows = [
            {
                "dataset_id": dataset_id,
                "version": version,
                "position": i,
                "file_id": d["file_id"],
                "audio_uri": d["audio_uri"],
                "start": d["start"],
                "end": d["end"],
                "text": d["text"],
                "reason": d["reason"],
                "kept": d["reason"] is None,
                "warnings": d.get("warnings", []),
            }
            for i, d in enumerate(decisions)
        ]
        with self.session() as s:
            s.execute(
                delete(PreparedSegment).where(
                    PreparedSegment.dataset_id == dataset_id, PreparedSegment.version == version
                )
            )
            if rows:
                s.execute(insert(PreparedSegment), rows)
        return len(rows)

    def latest_run(
        self, dataset_id: str, status: PreparationStatus = PreparationStatus.COMPLETED
    ) -> PreparationRun | None:
        with self.session() as s:
            q = (
                select(PreparationRun)
                .where(PreparationRun.dataset_id == dataset_id, PreparationRun.status == status)
                .order_by(PreparationRun.created_at.desc())
            )
            return s.scalars(q).first()
