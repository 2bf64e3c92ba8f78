"""Product state: datasets, their files and preparation runs (SQLAlchemy 2, Alembic migrations)."""

from provoice.catalog.db import Catalog
from provoice.catalog.models import Dataset, DatasetFile, PreparationRun

__all__ = ["Catalog", "Dataset", "DatasetFile", "PreparationRun"]
