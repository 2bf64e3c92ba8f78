"""Product state: datasets, their files, preparation runs, base models, PVCs, their retrains and consents
(SQLAlchemy 2, Alembic migrations)."""

from provoice.catalog.consent_models import ConsentAttempt, ConsentPrompt
from provoice.catalog.db import Catalog, SchemaOutOfDate, close_database, migrate_catalog, rows_changed
from provoice.catalog.models import (
    BaseModelRecord,
    Dataset,
    DatasetFile,
    PreparationRun,
    PreparationStatus,
    PreparedSegment,
)
from provoice.catalog.pvc_models import Pvc, PvcRetrain, Voice

__all__ = [
    "BaseModelRecord",
    "Catalog",
    "ConsentAttempt",
    "ConsentPrompt",
    "Dataset",
    "DatasetFile",
    "PreparationRun",
    "PreparationStatus",
    "PreparedSegment",
    "Pvc",
    "PvcRetrain",
    "SchemaOutOfDate",
    "Voice",
    "close_database",
    "migrate_catalog",
    "rows_changed",
]
