"""Product state: datasets, their files, preparation runs, base models, PVCs, their retrains and consents
(SQLAlchemy 2, Alembic migrations)."""

from provoice.catalog.consent_models import ConsentAttempt, ConsentPrompt
from provoice.catalog.db import Catalog, SchemaOutOfDate, migrate_catalog, rows_changed
from provoice.catalog.models import BaseModelRecord, Dataset, DatasetFile, PreparationRun
from provoice.catalog.pvc_models import Pvc, PvcRetrain, Voice

__all__ = [
    "BaseModelRecord",
    "Catalog",
    "ConsentAttempt",
    "ConsentPrompt",
    "Dataset",
    "DatasetFile",
    "PreparationRun",
    "Pvc",
    "PvcRetrain",
    "SchemaOutOfDate",
    "Voice",
    "migrate_catalog",
    "rows_changed",
]
