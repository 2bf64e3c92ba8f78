import pytest
from sqlalchemy import inspect

from provoice.catalog import Catalog
from provoice.errors import NotFound

pytestmark = pytest.mark.both_databases


def test_migrated_schema_and_crud(settings):
    catalog = Catalog(settings)
    assert {"datasets", "dataset_files", "preparation_runs", "alembic_version"} <= set(
        inspect(catalog.engine).get_table_names()
    )
    ds = catalog.create_dataset("voice")
    f = catalog.add_file(dataset_id=ds.id, original_name="ä.wav", sha256="0" * 64, size=3, status="pending")
    assert [x.id for x in Catalog(settings).files(ds.id)] == [f.id]
    catalog.remove_file(ds.id, f.id)
    assert catalog.files(ds.id) == []


def test_unknown_ids_are_clear(settings):
    catalog = Catalog(settings)
    with pytest.raises(NotFound, match="no dataset with id 'ds_nope'"):
        catalog.get_dataset("ds_nope")
    ds = catalog.create_dataset("x")
    with pytest.raises(NotFound, match="has no file"):
        catalog.remove_file(ds.id, "f_nope")


def test_prepared_run_says_how_to_prepare(settings):
    catalog = Catalog(settings)
    ds = catalog.create_dataset("x")
    with pytest.raises(NotFound, match=f"run `provoice dataset prepare {ds.id}`"):
        catalog.prepared_run(ds.id)
    run = catalog.start_run(ds.id, "v1", {}, 1, lease_s=60)
    catalog.update_run(run.id, status="completed")
    assert catalog.prepared_run(ds.id).version == "v1"


def test_one_engine_per_database_url(settings, tmp_path):
    first, second = Catalog(settings), Catalog(settings)
    assert first.engine is second.engine
    other = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'other.db'}"})
    assert Catalog(other).engine is not first.engine


def test_a_catalog_behind_the_code_names_the_migration_command(settings, tmp_path):
    from alembic import command

    from provoice.catalog import SchemaOutOfDate, migrate_catalog
    from provoice.catalog.db import _alembic_config, _database, head_revision

    old = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'old.db'}"})
    engine = _database(old.database_url).engine
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    with pytest.raises(SchemaOutOfDate, match=r"at revision 0004, this ProVoice needs .*: run `provoice ops migrate`"):
        Catalog(old)
    assert migrate_catalog(old).revision() == head_revision()
    assert Catalog(old).revision() == head_revision()


def test_the_catalog_is_on_the_database_the_test_runs_on(settings, database_url):
    expected = "sqlite" if database_url is None else "postgresql"
    assert Catalog(settings).engine.dialect.name == expected


def test_every_migration_goes_up_and_down_on_postgresql(postgres):
    """Each revision upgrades an empty PostgreSQL database one step at a time, and the whole chain
    downgrades to nothing and upgrades to head again."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from provoice.catalog.db import _alembic_config, current_revision, head_revision

    cfg = _alembic_config()
    revisions = [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()][::-1]
    with postgres.fresh_database(template="template0") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                for revision in revisions:
                    command.upgrade(cfg, revision)
            assert current_revision(engine) == head_revision()
            assert {"pvcs", "credit_entries", "consent_attempts"} <= set(inspect(engine).get_table_names())
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "base")
            assert current_revision(engine) is None
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()


def test_datetimes_come_back_aware_and_in_utc(settings):
    """SQLite keeps no zone; the catalog's column type hands every moment back as aware UTC."""
    from datetime import datetime, timedelta, timezone

    from provoice.catalog import Dataset
    from provoice.catalog.types import UtcDateTime

    catalog = Catalog(settings)
    ds = catalog.create_dataset("x")
    east = timezone(timedelta(hours=5, minutes=30))
    with catalog.session() as s:
        s.get(Dataset, ds.id).created_at = datetime(2024, 3, 1, 17, 30, tzinfo=east)
    with catalog.session() as s:
        created = s.get(Dataset, ds.id).created_at
    assert created == datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc) and created.tzinfo == timezone.utc
    assert catalog.get_dataset(ds.id).created_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="aware datetimes only"):
        UtcDateTime().process_bind_param(datetime(2024, 3, 1), catalog.engine.dialect)
