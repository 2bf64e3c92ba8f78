"""Product state: datasets, their files, preparation runs, base models, PVCs, their retrains and consents
(SQLAlchemy 2, Alembic migrations)."""

from provoice.catalog.consent_models import ConsentAttempt, ConsentPrompt
from provoice.catalog.db import Catalog, SchemaOutOfDate, migrate_catalog
from provoice.catalog.models import BaseModelRecord, Dataset, DatasetFile, PreparationRun
from provoice.catalog.pvc_models import Pvc, PvcRetrain, Voice

__all__ = ["BaseModelRecord", "ConsentAttempt", "ConsentPrompt", "Catalog", "SchemaOutOfDate", "Dataset", "DatasetFile", "PreparationRun", "Pvc", "PvcRetrain",
           "Voice", "migrate_catalog"]
